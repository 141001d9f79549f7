"""report_list items in e-Gov's shape and wording (自動返戻 / 形式チェック)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .formcheck import MISSING_REQUIRED as MISSING_REQUIRED

# Wording as e-Gov's sandbox and the seed manuals show it (MISSING_REQUIRED and the other
# check-file rules live with the check-file format: egov_format.formcheck).
MISSING_DESTINATION = "提出先情報を設定しなければなりません"
WRONG_DESTINATION = "構成管理XML.提出先識別子に誤りがあります"  # the simulator's wording, after 初回受付番号's
WRONG_FIRST_ARRIVE_ID = "構成管理XML.初回受付番号に誤りがあります"
CERT_EXPIRED = "証明書の有効期限が切れています"
CERT_REVOKED = "アクセス許可できません。再度、利用者認証を行ってください。"
CERT_UNREGISTERED = "利用者認証でエラーが発生しました"
CERT_UNTRUSTED = "署名に使用された証明書を検証できません。信頼された認証局が発行した証明書で署名してください。"
SIGNATURE_MISSING = "申請書に電子署名が付与されていません。"


def missing_attachment(file_name: str) -> str:
    return f"添付必須のファイル({file_name})が添付されていません"


@dataclass(frozen=True)
class ReportItem:
    content: str
    form_name: str = "-"
    attached_file_name: str = "-"
    file_name: str = "-"
    item: str = "-"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def as_withdraw_dict(self) -> dict[str, str]:
        return {"file_name": self.file_name, "item": self.item, "content": self.content}
