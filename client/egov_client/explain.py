"""e-Gov's messages in Japanese, with a short English explanation for developers and logs.

`explain(message)` knows the messages users meet (seeds 000–002 and e-Gov's own wording); the
exceptions of errors.py use it so every error carries both.
"""

from __future__ import annotations

import re

# exact message → explanation
MESSAGES: dict[str, str] = {
    "証明書の有効期限が切れています":
        "The signer certificate has expired. Register and sign with a valid certificate; applications sent "
        "with the old one stay retrievable.",
    "アクセス許可できません。再度、利用者認証を行ってください。":
        "The certificate was revoked (for example after a registry change of the company's name, address or "
        "representative). Obtain a new certificate and register it.",
    "利用者認証でエラーが発生しました":
        "User authentication failed: a newly issued certificate is not registered at e-Gov yet (wait 1–2 days) "
        "or the certificate is not accepted.",
    "未入力のままになっている必須入力項目があります。入力内容を確認してください。":
        "Automatic return: a required item is empty (see item and form_name).",
    "提出先情報を設定しなければなりません":
        "Automatic return: the submission destination (提出先) is not set in kousei.xml.",
    "構成管理XML.初回受付番号に誤りがあります":
        "A resubmission (再提出) must name the original arrival number of the same account and procedure.",
    "申請書に電子署名が付与されていません。": "The procedure requires an XML signature and the package has none.",
    "PIN が不正です": "Wrong PKCS#12 password (PIN).",
    "トークンの有効期限が切れています":
        "The access token is no longer valid (it expired, or e-Gov invalidated it after maintenance). "
        "Refresh it, or log in again.",
    "e-Govへのセッションが切れました。再度ログインしてください。":
        "The e-Gov login session ended (cut by e-Gov or logged out); the refresh token no longer works. Log in "
        "again.",
    "サービス利用不可(サーバがメンテナンス中等)":
        "e-Gov is in maintenance or overloaded; nothing was processed. Retry after the maintenance window.",
    "サーバ内部でエラーが発生（システムエラー等）":
        "e-Gov had an internal error; a send may or may not have been stored. Check the lists before resending.",
    "アップロードサイズファイル上限オーバー": "The upload is over e-Gov's size limit (50 MB per file).",
    "通信エラーが発生しました。送信結果を確認してください。":
        "The connection failed or timed out after the request was sent; the outcome is unknown. Check the lists "
        "before resending.",
    "e-Govに接続できませんでした。": "Could not connect to e-Gov; nothing was sent.",
    "e-Govはメンテナンス中です。メンテナンス終了後にご利用ください。":
        "e-Gov is in maintenance; every API call fails until the window ends. Data sent just before may not "
        "have arrived: check the lists afterwards.",
}

# patterns for messages with variable parts
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^添付必須のファイル\(.*\)が添付されていません$"),
     "Automatic return: a required attachment is missing from the package."),
    (re.compile(r"^構成管理XML\.手続IDが送信した手続識別子"), "kousei.xml names a different procedure than proc_id."),
    (re.compile(r"^申請書\(.*\)が構成管理XMLに設定されていません$"), "A form of the procedure is missing in kousei.xml."),
    (re.compile(r"メンテナンス"), "e-Gov is in maintenance."),
    (re.compile(r"署名"), "The XML signature is missing, invalid, or made with an unusable certificate."),
]

STATUS: dict[int, str] = {
    400: "e-Gov refused the request (see report_list for the items).",
    401: "The access token is missing, expired or revoked.",
    404: "Not found (unknown arrive_id or procedure, or not visible to this account).",
    413: "The request is over e-Gov's size limit.",
    500: "e-Gov had an internal error; the outcome of a send is unknown.",
    502: "A gateway in front of e-Gov failed; the outcome of a send is unknown.",
    503: "e-Gov is in maintenance or overloaded.",
    504: "A gateway in front of e-Gov timed out; the outcome of a send is unknown.",
}


def explain(message: str, status: int | None = None) -> str:
    """A short English explanation of an e-Gov message (or of the HTTP status when the message is unknown)."""
    text = (message or "").strip()
    if text in MESSAGES:
        return MESSAGES[text]
    for pattern, explanation in PATTERNS:
        if pattern.search(text):
            return explanation
    if status is not None and status in STATUS:
        return STATUS[status]
    return ""
