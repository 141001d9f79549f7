"""取下げ申請: the withdrawal of the legacy 外部連携API (`POST /shinsei/1/access/withdrawal`).

Its package is an application of its own (reference legacy-api.md §1.2): folder `9990000000000008(n)`,
kousei.xml with 手続ID 9990000000000008, 受付行政機関ID 100999, 申請種別 取下げ申請 and 初回受付番号 =
the target, plus torisageshinsei.xml (様式ID 999000000000000008, 取下げ申請書情報), signed as any
application. Once it passes, the case is withdrawn exactly as by v2's 取下げ依頼 (withdrawal.record),
and the withdrawal arrives with a 到達番号 of its own (NewArriveID). v2's 取下げ依頼 package
(9990000000000003) is refused: the recordings never show the legacy API taking it.
"""

from __future__ import annotations

from typing import Any

from egov_format import reports
from egov_format.errors import PackageError, PackageTooLargeError
from egov_format.package import WITHDRAWAL_PROC_ID, ParsedPackage, parse_package
from egov_format.reports import ReportItem

from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from . import withdrawal
from .access import find_case
from .cases import Caller, FilingService
from .errors import FilingError, bad_request

PROC_ID = "9990000000000008"
AGENCY_ID = "100999"
APPLY_TYPE = "取下げ申請"
FORM_FILE = "torisageshinsei.xml"
FORM_ID = "999000000000000008"
# seed 001: the applicant enters 申請者氏名 and 理由; 到達番号 names the case (the rest is optional here)
REQUIRED = ("到達番号", "申請者氏名", "理由")
# running numbers of withdrawals' own arrivals: apart from the applications' (their row id), so never equal
ARRIVAL_NUMBERS = 900_000_000
NOT_LEGACY = (f"取下げ依頼（手続ID {WITHDRAWAL_PROC_ID}）は外部連携APIでは受け付けていません。"
              f"取下げ申請（手続ID {PROC_ID}）の申請データを送信してください。")
REFUSED = "取下げ申請データに誤りがあります。"


def _item(content: str, item: str = "-", file_name: str = "kousei.xml") -> ReportItem:
    return ReportItem(content=content, file_name=file_name, item=item)


def check_package(f: FilingService, app: Application, raw: bytes,
                  *, max_file_bytes: int) -> tuple[ParsedPackage | None, list[ReportItem]]:
    """A 取下げ申請 package for `app` and every problem of it, in e-Gov's words ([] when it is fine)."""
    try:
        p = parse_package(raw, max_file_bytes=max_file_bytes)
    except PackageTooLargeError:
        raise FilingError(413, "アップロードサイズファイル上限オーバー") from None
    except PackageError as exc:
        return None, [_item(exc.message, exc.item or "-", exc.file_name or "-")]
    if WITHDRAWAL_PROC_ID in (p.folder, p.proc_id):
        raise bad_request(NOT_LEGACY)
    report = []
    if p.folder != PROC_ID or p.proc_id != PROC_ID:
        report.append(_item(f"構成管理XML.手続IDが取下げ申請の手続識別子({PROC_ID})ではありません", "手続ID"))
    if p.agency_id != AGENCY_ID:
        report.append(_item("構成管理XML.受付行政機関IDに誤りがあります", "受付行政機関ID"))
    if p.apply_type != APPLY_TYPE:
        report.append(_item(f"構成管理XML.申請種別に誤りがあります（{p.apply_type or '未設定'}）", "申請種別"))
    if p.first_arrive_id.strip() != app.arrive_id:
        report.append(_item(reports.WRONG_FIRST_ARRIVE_ID, "初回受付番号"))
    if [(form["form_id"], form["file_name"]) for form in p.forms] != [(FORM_ID, FORM_FILE)]:
        report.append(_item(f"構成管理XML.申請書属性情報に取下げ申請書({FORM_FILE})を設定してください", "申請書属性情報"))
    root = p.form_roots.get(FORM_FILE)
    info = root.find("取下げ申請書情報") if root is not None else None
    if root is not None and info is None:
        report.append(_item("取下げ申請書の形式に誤りがあります", "取下げ申請書情報", FORM_FILE))
    if info is not None:
        for path in REQUIRED:
            if not (info.findtext(path) or "").strip():
                report.append(_item(reports.MISSING_REQUIRED, path, FORM_FILE))
        target = (info.findtext("到達番号") or "").strip()
        if target and target != app.arrive_id:
            report.append(_item("取下げ申請書の到達番号が取下げ対象の到達番号と一致しません", "到達番号", FORM_FILE))
        proc_id = (info.findtext("手続ID") or "").strip()
        if proc_id and proc_id != app.proc_id:
            report.append(_item("取下げ申請書の手続IDが取下げ対象の手続IDと一致しません", "手続ID", FORM_FILE))
    return p, [*report, *withdrawal.signature_report(f, p)]


def arrival_number(app: Application, action: ApplicationAction) -> str:
    """The withdrawal's own 到達番号: the target's family prefix and the year of arrival, as e-Gov's
    9002015000246823 for a 取下げ申請 of 9002015000246820, then a running number of its own."""
    return f"{app.arrive_id[:3]}{action.at.year}{ARRIVAL_NUMBERS + action.id:09d}"


def withdraw(f: FilingService, caller: Caller, arrive_id: str, raw: bytes, *, max_file_bytes: int) -> dict[str, Any]:
    app = find_case(f, caller, arrive_id)
    p, report = check_package(f, app, raw, max_file_bytes=max_file_bytes)
    if p is None or report:
        raise bad_request(REFUSED, report)
    action = withdrawal.record(f, app, raw)
    f.session.flush()  # the action's id numbers the withdrawal's arrival
    new_arrive_id = arrival_number(app, action)
    action.data = {**action.data, "new_arrive_id": new_arrive_id}
    return {**withdrawal.receipt(f, app), "new_arrive_id": new_arrive_id, "arrive_date": format_datetime(f.now),
            "form_names": [form["name"] for form in p.forms]}
