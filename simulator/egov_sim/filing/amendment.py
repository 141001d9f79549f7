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
from .submission import CheckedPackage
from .timeline import Notice

AMEND_TYPES = ("部分補正",)
NO_AMENDMENT = "指定された到達番号の申請案件は補正できません。部分補正の補正通知が発行されていません。"
USE_APPLY = "補正種別が再提出の申請案件は、申請データ送信（申請種別：再提出）で再提出してください。"
PAST_DEADLINE = "補正期限を過ぎているため、補正できません。"


def open_gate(f: FilingService, caller: Caller, arrive_id: str) -> tuple[Application, Notice]:
    """The case and its open 部分補正 request, or the reason it cannot be amended now."""
    app = find_case(f, caller, arrive_id)
    return app, _gate(f, app)


def _gate(f: FilingService, app: Application) -> Notice:
    state = f.view(app).state
    gate = state.open_gate if state else None
    if gate is None:
        raise bad_request(NO_AMENDMENT)
    if gate.gate != "amend":
        raise bad_request(USE_APPLY)
    if gate.correct_expired is not None and f.now.date() > gate.correct_expired:
        raise bad_request(PAST_DEADLINE)
    return gate


def check_target(checked: CheckedPackage, arrive_id: str) -> None:
    """The 補正 package's 初回受付番号 must name the amended case."""
    if (checked.package.first_arrive_id or "").strip() != arrive_id:
        checked.report.append(ReportItem(content=reports.WRONG_FIRST_ARRIVE_ID, file_name="kousei.xml",
                                         item="初回受付番号"))


def record(f: FilingService, app: Application, gate: Notice, raw: bytes) -> dict[str, Any]:
    f.lock(app)  # two amendments sent at once: the request is answered once, the other is refused
    if _gate(f, app).step != gate.step:
        raise bad_request(NO_AMENDMENT)
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
