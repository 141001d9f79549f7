"""Checks a submitted package against the catalogue, its signature and its signer certificate.

The 形式チェック of items (required, 半角数字, 全角, length, digits) runs the check files of the
skeleton (`{form_id}check.xml`, `999000000000000001check.xml`), parsed from the bytes
`GET /procedure` ships.

Every problem found becomes a report item in e-Gov's wording; nothing is stored when any exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from egov_format import reports
from egov_format.errors import PackageError, PackageTooLargeError
from egov_format.formcheck import CheckProblem
from egov_format.package import ParsedPackage, parse_package
from egov_format.reports import ReportItem
from egov_format.signing import SignatureError, SignatureInfo, verify_kousei
from sqlalchemy.orm import Session

from ..catalogue import Catalogue, Procedure
from ..catalogue.skeleton import form_check, kousei_check
from .errors import FilingError, bad_request
from .individual import check_configuration_files
from .limits import case_field_problems, form_item_problems
from .trust import TrustStore, certificate_problem

APPLY_TYPES_FOR_APPLY = ("新規申請", "再提出")
UNKNOWN_PROCEDURE = "指定された手続識別子の手続は存在しないか、API対象外です。"


@dataclass
class CheckedPackage:
    proc: Procedure
    package: ParsedPackage
    raw: bytes
    file_name: str
    signatures: list[SignatureInfo] = field(default_factory=list)
    report: list[ReportItem] = field(default_factory=list)

    @property
    def signer_serial(self) -> str | None:
        return self.signatures[0].serial_hex if self.signatures else None


def _report_from(exc: PackageError) -> ReportItem:
    r = exc.to_report()
    return ReportItem(content=r["content"], form_name=r["form_name"], attached_file_name=r["attached_file_name"],
                      file_name=r["file_name"], item=r["item"])


def _report_item(problem: CheckProblem) -> ReportItem:
    return ReportItem(content=problem.content, form_name=problem.form_name, file_name=problem.file_name,
                      item=problem.item)


class PackageChecker:
    """The shared checks of apply, apply/check, amend and bulk folders."""

    def __init__(self, catalogue: Catalogue, session: Session, now: datetime, *, max_file_bytes: int,
                 form_item_max_chars: int = 4000) -> None:
        self.catalogue = catalogue
        self.session = session
        self.now = now
        self.max_file_bytes = max_file_bytes
        self.form_item_max_chars = form_item_max_chars

    def check(self, proc_id: str, file_name: str, raw: bytes,
              allowed_apply_types: tuple[str, ...] = APPLY_TYPES_FOR_APPLY) -> CheckedPackage:
        proc = self.catalogue.get(proc_id)
        if proc is None:
            raise bad_request(UNKNOWN_PROCEDURE,
                              [ReportItem(content=f"手続識別子({proc_id})に誤りがあります", item="proc_id")])
        try:
            package = parse_package(raw, max_file_bytes=self.max_file_bytes)
        except PackageTooLargeError as exc:
            raise FilingError(413, "アップロードサイズファイル上限オーバー", [_report_from(exc)]) from None
        except PackageError as exc:
            raise bad_request("申請データの形式に誤りがあります。", [_report_from(exc)]) from None
        checked = CheckedPackage(proc=proc, package=package, raw=raw, file_name=file_name)
        self._check_structure(checked, allowed_apply_types)
        self._check_forms(checked)
        self._check_attachments(checked)
        self._check_signature(checked)
        return checked

    def _check_structure(self, c: CheckedPackage, allowed: tuple[str, ...]) -> None:
        p, proc = c.package, c.proc
        if p.folder != proc.proc_id or p.proc_id != proc.proc_id:
            c.report.append(ReportItem(content=f"構成管理XML.手続IDが送信した手続識別子({proc.proc_id})と一致しません",
                                       file_name="kousei.xml", item="手続ID"))
        if p.apply_type not in allowed:
            c.report.append(ReportItem(content=f"構成管理XML.申請種別に誤りがあります（{p.apply_type or '未設定'}）",
                                       file_name="kousei.xml", item="申請種別"))
        self._check_destination(c)
        for problem in kousei_check().problems(p.kousei, file_name="kousei.xml"):
            c.report.append(_report_item(problem))
        c.report.extend(case_field_problems(p))  # lengths of the case fields, from the document

    @staticmethod
    def _check_destination(c: CheckedPackage) -> None:
        """提出先情報 must be set. Where the procedure says `destination_required` the skeleton leaves
        it empty for the applicant to choose: then the name must be set too, and the identifier must
        be one this procedure accepts."""
        identifier = (c.package.destination.get("提出先識別子") or "").strip()
        name = (c.package.destination.get("提出先名称") or "").strip()
        if not identifier or (c.proc.destination_required and not name):
            c.report.append(ReportItem(content=reports.MISSING_DESTINATION, file_name="kousei.xml", item="提出先情報"))
        elif c.proc.destination_required and identifier != c.proc.destination_id:
            c.report.append(ReportItem(content=reports.WRONG_DESTINATION, file_name="kousei.xml", item="提出先識別子"))

    def _check_forms(self, c: CheckedPackage) -> None:
        listed = {f["form_id"]: f for f in c.package.forms}
        for spec in c.proc.forms:
            entry = listed.get(spec.form_id)
            if entry is None:
                c.report.append(ReportItem(content=f"申請書({spec.name})が構成管理XMLに設定されていません",
                                           form_name=spec.name, file_name="kousei.xml", item="申請書属性情報"))
                continue
            root = c.package.form_roots.get(entry["file_name"])
            if root is None:
                continue
            form_id_el = root.find("様式ID")
            if form_id_el is None or (form_id_el.text or "").strip() != spec.form_id:
                c.report.append(ReportItem(content="申請書XMLの様式IDが構成管理XMLと一致しません",
                                           form_name=spec.name, file_name=entry["file_name"], item="様式ID"))
            checked = form_check(spec).problems(root, file_name=entry["file_name"], form_name=spec.name)
            c.report.extend(_report_item(problem) for problem in checked)
            c.report.extend(form_item_problems(root, file_name=entry["file_name"], form_name=spec.name,
                                               limit=self.form_item_max_chars,
                                               reported={p.item for p in checked} | {p.path for p in checked}))
        for form_id, entry in listed.items():
            if c.proc.form(form_id) is None:
                c.report.append(ReportItem(content=f"様式ID({form_id})はこの手続の様式ではありません",
                                           form_name=entry.get("name") or "-", file_name="kousei.xml",
                                           item="申請書様式ID"))

    def _check_attachments(self, c: CheckedPackage) -> None:
        for att in c.package.attachments:
            name = att.get("file_name") or ""
            if name not in c.package.files:
                c.report.append(ReportItem(content=reports.missing_attachment(name or att.get("name") or "-"),
                                           attached_file_name=att.get("name") or "-", file_name="kousei.xml",
                                           item="添付書類ファイル名称"))

    def _check_signature(self, c: CheckedPackage) -> None:
        try:
            c.signatures = verify_kousei(c.package.kousei, c.package.files)
        except SignatureError as exc:
            c.report.append(ReportItem(content=exc.message, file_name="kousei.xml", item="署名情報"))
            return
        if c.proc.configuration_files:  # 個別署名形式: the 構成情報 files carry the signatures
            signatures, problems = check_configuration_files(c.proc, c.package)
            c.signatures.extend(signatures)
            c.report.extend(problems)
            if problems:
                return
        if not c.signatures:
            if c.proc.signature_required:
                c.report.append(ReportItem(content=reports.SIGNATURE_MISSING, file_name="kousei.xml", item="署名情報"))
            return
        trust = TrustStore.load(self.session)
        for sig in c.signatures:
            problem = certificate_problem(self.session, trust, sig.certificate, self.now)
            if problem:
                c.report.append(ReportItem(content=problem, file_name="kousei.xml", item="署名情報"))
