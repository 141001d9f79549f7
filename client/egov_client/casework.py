"""Following a case after it was sent, with the progress ledger: 確認 (status), 取得 (notices, official
documents and payments), saving official documents into a folder named by the fetch time and checking
their signatures, 取得完了, 取下げ, 補正 and 再提出.

The seeds' wording: 確認 = 申請状況を取得します; 取得 = お知らせや公文書の情報を取得します; a document
is saved into a folder named after the fetch time (「20201215_110804」, seed 001); after 取得完了 the
document can no longer be fetched (seed 000); 取下げ only while e-Gov shows the 取下げ button
(withdraw_flag). Rules only: knows nothing of click or rich.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography import x509
from egov_format.package import ApplicationPackage, build_withdrawal_package, parse_package
from egov_format.signing import Signer
from egov_format.zipsafe import read_zip

from .api import EgovClient
from .documents import as_amendment, as_resubmission, save_document, signature_file, verify_locally
from .errors import EgovError, PackageError
from .ledger import FetchRow, Ledger, SendRow, jst_now
from .models import AmendResult, Application, DocumentCompletion, WithdrawResult

DOC_FOLDER_FORMAT = "%Y%m%d_%H%M%S"  # seed 001: 「20201215_110804」⇒2020年12月15日11時8分4秒
COMPLETE_WARNING = ("公文書の取得完了を申請すると、この申請の公文書は再取得できなくなります"
                    "（到達状況は「手続完了」になります）。")
NOT_WITHDRAWABLE = ("この申請は現在、取下げできません（到達状況: {status}）。送信直後など e-Gov が取下げを受け付けない"
                    "状態です。申請してすぐ取り下げる場合は、提出先に直接連絡してください。")
VERIFY_FILE = "署名検証結果.json"


class CaseError(EgovError):
    """A follow-up that cannot be done (shown to the user as is, in Japanese)."""


@dataclass(frozen=True)
class Verification:
    valid: bool | None  # None: the document carries no signature
    message: str
    by: str  # e-Gov | local | -
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SavedDocument:
    notice_sub_id: int
    title: str
    folder: Path
    files: list[str]
    verification: Verification

    def to_json(self) -> dict[str, Any]:
        return {"notice_sub_id": self.notice_sub_id, "title": self.title, "folder": str(self.folder),
                "files": self.files, "verified": self.verification.valid, "verify_message": self.verification.message,
                "verified_by": self.verification.by}


@dataclass
class GetReport:
    """取得: what is new for one case."""

    row: SendRow
    new_notices: list[FetchRow] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # official_list of the case
    payments: list[dict[str, Any]] = field(default_factory=list)


def _safe_name(name: str, fallback: str) -> str:
    """A file name from the server, reduced to its last part (never a path)."""
    base = PurePosixPath(name.replace("\\", "/")).name
    return base if base and base not in (".", "..") else fallback


def unique_folder(base: Path, when: datetime) -> Path:
    """base/YYYYMMDD_HHMMSS, or …_2, …_3 when several documents are saved within one second."""
    stem = when.strftime(DOC_FOLDER_FORMAT)
    folder, n = base / stem, 1
    while folder.exists():
        n += 1
        folder = base / f"{stem}_{n}"
    return folder


class Casework:
    def __init__(self, client: EgovClient, ledger: Ledger, *, documents_dir: Path,
                 clock: Callable[[], datetime] = jst_now) -> None:
        self.client = client
        self.ledger = ledger
        self.documents_dir = documents_dir
        self.clock = clock

    # --- 確認 / 取得 ---------------------------------------------------------------------------------------

    def _arrived(self, row: SendRow) -> str:
        if row.outcome != "sent" or not row.arrive_id:
            raise CaseError(f"ID {row.id} は到達していません（{row.display_status}）。")
        return row.arrive_id

    def check(self, row: SendRow) -> tuple[SendRow, Application]:
        """確認: the status of the case, recorded in the ledger."""
        detail = self.client.get_application(self._arrived(row))
        self.ledger.record_detail(row.id, detail, self.clock())
        return self.ledger.send(row.id) or row, detail

    def get(self, row: SendRow) -> GetReport:
        """取得: 確認, then every notice not fetched before (saved with its attachments), the official
        documents listed for the case, and the payment details when there are payments."""
        row, detail = self.check(row)
        report = GetReport(row)
        fetched = {f.notice_sub_id for f in self.ledger.fetches(row.id, "notice")}
        for summary in detail.notices:
            if summary.notice_sub_id in fetched:
                continue
            report.new_notices.append(self._save_notice(row, summary.notice_sub_id))
        if detail.apply_pay_count or detail.payments:
            payments = self.client.get_payment(row.arrive_id or "")
            self.ledger.record_payments(row.id, [
                {"pay_number": p.info.pay_number, "pay_status": p.pay_status,
                 "pay_date": p.pay_date.isoformat() if p.pay_date else None} for p in payments.payments])
        report.row = self.ledger.send(row.id) or row
        report.documents = list(report.row.documents)
        report.payments = list(report.row.payments)
        return report

    def _save_notice(self, row: SendRow, sub: int) -> FetchRow:
        arrive_id = row.arrive_id or ""
        notice = self.client.get_notice(arrive_id, sub)
        folder = self.documents_dir / arrive_id / f"通知_{sub:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = "\n".join([f"件名: {notice.notice_title}", f"種別: {notice.notice_type}",
                          f"発行日時: {notice.notice_issue_date or ''}", f"発行元: {notice.issuer_organization}",
                          *([f"補正の種類: {notice.correct_type}"] if notice.correct_type else []),
                          *([f"補正期限: {notice.correct_expired_date}"] if notice.correct_expired_date else []),
                          "", notice.notice_sentence, ""])
        (folder / "通知.txt").write_text(text, encoding="utf-8")
        files = ["通知.txt"]
        for i, attachment in enumerate(notice.attachments, 1):
            name = _safe_name(attachment.file_name, f"attachment_{i}")
            (folder / name).write_bytes(attachment.file_data)
            files.append(name)
        detail = {"type": notice.notice_type, "issue_date": notice.notice_issue_date,
                  "correct_type": notice.correct_type, "correct_expired_date": notice.correct_expired_date,
                  "sentence": notice.notice_sentence}
        fetch_id = self.ledger.record_fetch(row.id, "notice", sub, self.clock(), title=notice.notice_title,
                                            folder=folder, files=files, detail=detail)
        return next(f for f in self.ledger.fetches(row.id, "notice") if f.id == fetch_id)

    # --- 公文書 -----------------------------------------------------------------------------------------------

    def fetch_documents(self, row: SendRow, *, subs: Sequence[int] = (), base: Path | None = None,
                        authorities: Iterable[x509.Certificate] = ()) -> list[SavedDocument]:
        """Save the case's official documents (all, or `subs`) into base/YYYYMMDD_HHMMSS folders and
        check their signatures (e-Gov's 公文書署名検証, and locally when CA certificates are given)."""
        row, detail = self.check(row)
        arrive_id = row.arrive_id or ""
        wanted = [d for d in detail.official_documents if not subs or d.notice_sub_id in subs]
        missing = sorted(set(subs) - {d.notice_sub_id for d in detail.official_documents})
        if missing:
            raise CaseError(f"通知通番 {', '.join(map(str, missing))} の公文書はありません（到達番号 {arrive_id}）。")
        if not wanted:
            raise CaseError(f"到達番号 {arrive_id} には、まだ公文書が発行されていません（到達状況: {detail.status}）。")
        done = [d for d in wanted if d.doc_download_date is not None]
        if subs and done:
            raise CaseError(f"通知通番 {done[0].notice_sub_id} の公文書は取得完了済みのため、再取得できません"
                            f"（取得完了日時 {done[0].doc_download_date}）。")
        wanted = [d for d in wanted if d.doc_download_date is None]
        if not wanted:
            raise CaseError("この申請の公文書はすべて取得完了済みのため、再取得できません。")
        target = base or self.documents_dir / arrive_id
        authorities = list(authorities)
        saved: list[SavedDocument] = []
        for doc in wanted:
            archive = self.client.get_official_document(arrive_id, doc.notice_sub_id)
            folder = unique_folder(target, self.clock())
            written = save_document(archive, folder)
            check = self.verify(archive.file_data, authorities) if doc.sign != "なし" else \
                Verification(None, "署名なし", "-")
            (folder / VERIFY_FILE).write_text(json.dumps(
                {"arrive_id": arrive_id, "notice_sub_id": doc.notice_sub_id, "doc_title": doc.doc_title,
                 "valid": check.valid, "message": check.message, "by": check.by, "details": check.details},
                ensure_ascii=False, indent=2, default=str), encoding="utf-8")
            files = [p.relative_to(folder).as_posix() for p in written]
            self.ledger.record_fetch(row.id, "document", doc.notice_sub_id, self.clock(), title=doc.doc_title,
                                     folder=folder, files=files, verified=check.valid, verify_message=check.message,
                                     detail={"by": check.by, "expires": doc.doc_download_expired_date})
            saved.append(SavedDocument(doc.notice_sub_id, doc.doc_title, folder, files, check))
        return saved

    def verify(self, document_zip: bytes, authorities: Sequence[x509.Certificate] = ()) -> Verification:
        """Check a document's 官職 signature: with e-Gov (公文書署名検証要求), and locally when given CAs."""
        try:
            name = signature_file(read_zip(document_zip))
        except PackageError as exc:
            return Verification(False, exc.message, "-")
        result = self.client.verify_official_document(document_zip, name)
        official = result.official
        message = "、".join(f"{label}: {official[k]}" for k, label in (("validation_result", "署名"),
                                                                      ("certificate_result", "官職証明書"))
                           if official.get(k)) or "検証結果がありません"
        details = {"sig_verification_xml_file_name": name, "official": official}
        if authorities:
            local = verify_locally(document_zip, list(authorities), now=None)
            details["local"] = local.message
            if not local.valid:
                return Verification(False, f"{message}（手元の検証: {local.message}）", "e-Gov+local", details)
            return Verification(result.valid, message, "e-Gov+local", details)
        return Verification(result.valid, message, "e-Gov", details)

    def complete(self, row: SendRow, sub: int, *, force: bool = False) -> DocumentCompletion:
        """取得完了: afterwards the document can no longer be fetched, so it must have been saved first."""
        arrive_id = self._arrived(row)
        saved = [f for f in self.ledger.fetches(row.id, "document") if f.notice_sub_id == sub]
        if not saved and not force:
            raise CaseError(f"通知通番 {sub} の公文書はまだ保存されていません。取得完了後は再取得できないため、"
                            f"先に `egov docs fetch {row.id}` で保存してください。")
        done = self.client.complete_official_document(arrive_id, sub)
        self.ledger.add_action(row.id, "complete", self.clock(), {"notice_sub_id": sub, "doc_title": done.doc_title,
                                                                   "download_date": done.download_date})
        self.check(row)
        return done

    # --- 取下げ / 補正 / 再提出 --------------------------------------------------------------------------------

    def withdraw(self, row: SendRow, *, name: str, reason: str, signer: Signer,
                 request_date: date | None = None) -> tuple[WithdrawResult, SendRow]:
        """取下げ依頼: 確認 first (only while e-Gov allows it), then build, sign and send the 取下げ依頼."""
        if not name.strip() or not reason.strip():
            raise CaseError("申請者氏名と理由を入力してください。")
        row, detail = self.check(row)
        if not detail.withdraw_flag:
            raise CaseError(NOT_WITHDRAWABLE.format(status=detail.status))
        package = build_withdrawal_package(target_arrive_id=detail.arrive_id, proc_name=detail.proc_name,
                                           applicant_name=name, reason=reason,
                                           request_date=request_date or self.clock().date())
        result = self.client.withdraw(detail.arrive_id, package.sign(signer).to_zip())
        self.ledger.add_action(row.id, "withdraw", self.clock(), {"name": name, "reason": reason,
                                                                   "withdraw_date": result.withdraw_date})
        row, _ = self.check(row)
        return result, row

    def amend(self, row: SendRow, package_zip: bytes, signer: Signer | None) -> tuple[AmendResult, SendRow]:
        """補正 (部分補正): the package is marked as the amendment of this case and (re)signed when a
        certificate is given; a package already marked and signed is sent as it is."""
        arrive_id = self._arrived(row)
        data = _prepare(package_zip, "部分補正", arrive_id, signer)
        result = self.client.amend(arrive_id, data)
        self.ledger.add_action(row.id, "amend", self.clock(), {"amend_date": result.amend_date})
        row, _ = self.check(row)
        return result, row

    def resubmission(self, row: SendRow, package_zip: bytes, signer: Signer | None) -> bytes:
        """再提出: the package as a 再提出 of this case (申請種別 再提出, 初回受付番号 = its arrive_id),
        ready for the ordinary send (which records it in the ledger and never sends it twice)."""
        arrive_id = self._arrived(row)
        done = [a for a in self.ledger.actions(row.id) if a.kind == "resubmit" and a.detail.get("arrive_id")]
        if done:
            raise CaseError(f"ID {row.id} は再提出済みです（ID {done[-1].detail.get('send_id')}、"
                            f"到達番号 {done[-1].detail['arrive_id']}）。")
        return _prepare(package_zip, "再提出", arrive_id, signer)

    def record_resubmission(self, row: SendRow, new_send_id: int | None, arrive_id: str | None) -> SendRow:
        self.ledger.add_action(row.id, "resubmit", self.clock(), {"send_id": new_send_id, "arrive_id": arrive_id})
        return self.check(row)[0]


def _prepare(package_zip: bytes, kind: str, arrive_id: str, signer: Signer | None) -> bytes:
    parsed = parse_package(package_zip)
    if parsed.apply_type == kind and parsed.first_arrive_id == arrive_id:
        if signer is None:
            return package_zip  # already marked; e-Gov checks the signature
        package = ApplicationPackage.from_zip(package_zip)
    else:
        if signer is None:
            raise CaseError(f"申請データの申請種別を「{kind}」（初回受付番号 {arrive_id}）にして署名し直すため、"
                            "電子証明書を指定してください（--p12、またはプロファイルの証明書）。")
        package = ApplicationPackage.from_zip(package_zip)
        if package.is_signed:
            package.drop_signatures()
        (as_amendment if kind == "部分補正" else as_resubmission)(package, arrive_id)
    if package.is_signed:
        package.drop_signatures()
    return package.sign(signer).to_zip()
