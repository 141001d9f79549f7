"""取下げ依頼 (`POST /apply/withdraw`): check the request package, then record the withdrawal.

The package is kousei.xml for proc 9990000000000003 (申請種別 取下げ依頼, 初回受付番号 = the target)
plus torisageirai.xml (到達番号, 手続名称, 申請者氏名, 依頼年月日, 理由), signed. Allowed only while the
case's withdraw_flag is true. What the agency does next (accept or refuse) is the scenario's
`withdrawal` option, derived in timeline.py.
"""

from __future__ import annotations

import base64
from typing import Any

from egov_format import reports
from egov_format.errors import PackageError, PackageTooLargeError
from egov_format.package import WITHDRAWAL_FORM_FILE, ParsedPackage, parse_package
from egov_format.reports import ReportItem
from egov_format.safexml import parse_xml
from egov_format.signing import SignatureError, verify_kousei

from ..catalogue.catalogue import WITHDRAWAL_PROC_ID
from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from .access import find_case
from .cases import Caller, FilingService
from .errors import FilingError, bad_request
from .trust import TrustStore, certificate_problem

NOT_WITHDRAWABLE = "指定された到達番号の申請案件は、現在取下げできません。"
FORM_ITEMS = ("到達番号", "手続名称", "申請者氏名", "依頼年月日/年", "依頼年月日/月", "依頼年月日/日", "理由")


def _item(content: str, item: str = "-", file_name: str = "kousei.xml") -> ReportItem:
    return ReportItem(content=content, file_name=file_name, item=item)


def check_package(f: FilingService, arrive_id: str, raw: bytes, *, max_file_bytes: int) -> list[ReportItem]:
    """Every problem of a 取下げ依頼 package, in e-Gov's words ([] when it is fine)."""
    try:
        p = parse_package(raw, max_file_bytes=max_file_bytes)
    except PackageTooLargeError:
        raise FilingError(413, "アップロードサイズファイル上限オーバー") from None
    except PackageError as exc:
        return [_item(exc.message, exc.item or "-", exc.file_name or "-")]
    report = []
    if p.folder != WITHDRAWAL_PROC_ID or p.proc_id != WITHDRAWAL_PROC_ID:
        report.append(_item(f"構成管理XML.手続IDが取下げ依頼の手続識別子({WITHDRAWAL_PROC_ID})ではありません", "手続ID"))
    if p.apply_type != "取下げ依頼":
        report.append(_item(f"構成管理XML.申請種別に誤りがあります（{p.apply_type or '未設定'}）", "申請種別"))
    if p.first_arrive_id.strip() != arrive_id:
        report.append(_item(reports.WRONG_FIRST_ARRIVE_ID, "初回受付番号"))
    form = p.files.get(WITHDRAWAL_FORM_FILE)
    if form is None:
        report.append(_item(f"取下げ依頼書ファイル({WITHDRAWAL_FORM_FILE})が存在しません", "-", WITHDRAWAL_FORM_FILE))
    else:
        try:
            root = parse_xml(form, what="申請書XML", file_name=WITHDRAWAL_FORM_FILE)
        except PackageError as exc:
            return [*report, _item(exc.message, "-", WITHDRAWAL_FORM_FILE)]
        info = root.find("取下げ依頼情報")
        for path in FORM_ITEMS:
            el = info.find(path) if info is not None else None
            if el is None or not (el.text or "").strip():
                report.append(_item(reports.MISSING_REQUIRED, path, WITHDRAWAL_FORM_FILE))
        target = info.findtext("到達番号", "").strip() if info is not None else ""
        if target and target != arrive_id:
            report.append(_item("取下げ依頼書の到達番号が取下げ対象の到達番号と一致しません", "到達番号",
                                WITHDRAWAL_FORM_FILE))
    return [*report, *signature_report(f, p)]


def signature_report(f: FilingService, p: ParsedPackage) -> list[ReportItem]:
    """A withdrawal package must be signed (構成情報 and its form) by a certificate usable now."""
    try:
        signatures = verify_kousei(p.kousei, p.files, required=True)
    except SignatureError as exc:
        return [_item(exc.message, "署名情報")]
    trust = TrustStore.load(f.session)
    problems = (certificate_problem(f.session, trust, sig.certificate, f.now) for sig in signatures)
    return [_item(problem, "署名情報") for problem in problems if problem]


def withdraw(f: FilingService, caller: Caller, arrive_id: str, raw: bytes, *, max_file_bytes: int) -> dict[str, Any]:
    app = find_case(f, caller, arrive_id)
    report = check_package(f, arrive_id, raw, max_file_bytes=max_file_bytes)
    if report:
        raise bad_request("取下げ依頼データに誤りがあります。", report)
    record(f, app, raw)
    return receipt(f, app)


def record(f: FilingService, app: Application, raw: bytes) -> ApplicationAction:
    """The withdrawal of a case whose package passed its checks, allowed while its withdraw_flag is
    true; what the agency does next is derived (timeline.py). Two withdrawals sent at once: one is
    recorded, the other finds the case withdrawn."""
    f.lock(app)
    if not f.view(app).withdraw_flag:
        raise bad_request(NOT_WITHDRAWABLE)
    action = ApplicationAction(application_id=app.id, kind="withdraw", at=f.now,
                               data={"package": base64.b64encode(raw).decode()})
    f.session.add(action)
    return action


def receipt(f: FilingService, app: Application) -> dict[str, Any]:
    return {"arrive_id": app.arrive_id, "withdraw_date": format_datetime(f.now),
            "corporation_name": app.corporation_name, "applicant_name": app.applicant_name,
            "proc_name": app.proc_name, "ministry_name": app.ministry_name[:12],
            "submission_destination": app.submission_destination}
