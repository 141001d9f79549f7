"""補正 (`POST /apply/amend`) and 再提出 (a new `POST /apply` naming the original arrival).

A 補正 notice with correct_type 部分補正 opens the case for one amendment until its deadline; 再提出
and 手続終了(再提出可) call for a new application instead. Both are recorded as actions on the original
case; timeline.derive resumes the scenario from that moment.
"""

from __future__ import annotations

import base64
from typing import Any

from egov_format import reports
from egov_format.reports import ReportItem

from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from .access import find_case
from .cases import Caller, FilingService
from .errors import bad_request
from .submission import PackageChecker

AMEND_TYPES = ("部分補正",)
NO_AMENDMENT = "指定された到達番号の申請案件は補正できません。部分補正の補正通知が発行されていません。"
USE_APPLY = "補正種別が再提出の申請案件は、申請データ送信（申請種別：再提出）で再提出してください。"
PAST_DEADLINE = "補正期限を過ぎているため、補正できません。"


def amend(f: FilingService, caller: Caller, arrive_id: str, file_name: str, raw: bytes, *,
          max_file_bytes: int) -> dict[str, Any]:
    app = find_case(f, caller, arrive_id)
    state = f.view(app).state
    gate = state.open_gate if state else None
    if gate is None:
        raise bad_request(NO_AMENDMENT)
    if gate.gate != "amend":
        raise bad_request(USE_APPLY)
    if gate.correct_expired is not None and f.now.date() > gate.correct_expired:
        raise bad_request(PAST_DEADLINE)
    checked = PackageChecker(f.catalogue, f.session, f.now, max_file_bytes=max_file_bytes).check(
        app.proc_id, file_name, raw, allowed_apply_types=AMEND_TYPES)
    if (checked.package.first_arrive_id or "").strip() != arrive_id:
        checked.report.append(ReportItem(content=reports.WRONG_FIRST_ARRIVE_ID, file_name="kousei.xml",
                                         item="初回受付番号"))
    if checked.report:
        raise bad_request("補正データに誤りがあります。", checked.report)
    f.session.add(ApplicationAction(application_id=app.id, kind="amend", at=f.now,
                                    data={"step": gate.step, "notice_sub_id": gate.sub_id,
                                          "package": base64.b64encode(raw).decode()}))
    return {"arrive_id": app.arrive_id, "amend_date": format_datetime(f.now)}


def link_resubmission(f: FilingService, caller: Caller, new: Application) -> None:
    """A 再提出 answers the original's open 再提出 request (if any): the original's scenario moves on."""
    if new.apply_type != "再提出" or not new.first_arrive_id:
        return
    original = f.session.query(Application).filter_by(arrive_id=new.first_arrive_id,
                                                      account_id=caller.account_id).first()
    if original is None:
        return
    state = f.view(original).state
    if state and state.open_gate is not None and state.open_gate.gate == "resubmit":
        f.session.add(ApplicationAction(application_id=original.id, kind="resubmit", at=f.now,
                                        data={"step": state.open_gate.step, "arrive_id": new.arrive_id}))
