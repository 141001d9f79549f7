"""The operator's reads of cases (the console's 申請一覧 and 案件): every account's cases with their
derived status, the progress screen's 到達状況 filter, and one case's timeline — past and scheduled
steps on the virtual clock. Rules only (no Flask); statuses are derived as the API derives them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from egov_format.statuses import status_group
from sqlalchemy import select
from sqlalchemy.orm import defer

from ..catalogue.steps import TimelineStep
from ..clock import format_datetime
from ..filing import lifecycle, presentation, timeline
from ..filing.cases import FilingService
from ..store.models import Account, Application, ApplicationAction
from ..store.ops_tables import ApplicationHold

ACTION_NAMES = {"withdraw": "取下げ依頼", "amend": "補正", "resubmit": "再提出", "complete": "公文書取得完了",
                "pay": "納付", "post_complete": "電子送達取得完了", "notice-read": "通知取得完了"}


@dataclass(frozen=True)
class CaseQuery:
    """送信日時 range (inclusive dates; None: open), 到達状況 group, account (login ID), page."""

    sent_from: date | None = None
    sent_to: date | None = None
    group: str = "全て"
    account: str | None = None
    limit: int = 20
    offset: int = 0


def _actions(f: FilingService, ids: list[int]) -> dict[int, list[ApplicationAction]]:
    by_app: dict[int, list[ApplicationAction]] = {i: [] for i in ids}
    if ids:
        q = (select(ApplicationAction).where(ApplicationAction.application_id.in_(ids))
             .order_by(ApplicationAction.at, ApplicationAction.id))
        for a in f.session.scalars(q):
            by_app[a.application_id].append(a)
    return by_app


def _holds(f: FilingService, ids: list[int]) -> dict[int, str]:
    """Cases inquiries do not show now: why (arrival still being checked / lost in maintenance)."""
    if not ids:
        return {}
    rows = f.session.scalars(select(ApplicationHold).where(ApplicationHold.application_id.in_(ids)))
    out = {}
    for h in rows:
        if h.lost_reason:
            out[h.application_id] = f"消失（{h.lost_reason}）"
        elif h.hidden_until and h.hidden_until > f.now:
            out[h.application_id] = f"到達確認中（{format_datetime(h.hidden_until)} まで）"
    return out


def _row(f: FilingService, app: Application, username: str, actions: list[ApplicationAction],
         held: str | None) -> dict[str, Any]:
    v = lifecycle.view(app, actions, f.catalogue.get(app.proc_id), f.now)
    arrived = app.arrive_at <= f.now
    status = v.status if arrived else "未到達（一括送信の取込待ち）"
    return {"arrive_id": app.arrive_id, "send_number": app.send_number, "send_date": format_datetime(app.send_at),
            "arrive_date": format_datetime(app.arrive_at), "proc_id": app.proc_id, "proc_name": app.proc_name,
            "account": username, "trial": app.trial, "apply_type": app.apply_type, "scenario": app.scenario,
            "corporation_name": app.corporation_name, "applicant_name": app.applicant_name,
            "status": status, "group": status_group(status), "held": held, "pay_status": v.pay_status,
            "notice_count": len(v.notice_list), "doc_count": len(v.official_list)}


def list_cases(f: FilingService, query: CaseQuery) -> tuple[int, list[dict[str, Any]]]:
    """Newest sent first; (how many match, the page)."""
    q = (select(Application, Account.username).join(Account, Account.id == Application.account_id)
         .options(defer(Application.package)).order_by(Application.send_at.desc(), Application.id.desc()))
    if query.sent_from:
        q = q.where(Application.send_at >= datetime.combine(query.sent_from, datetime.min.time()))
    if query.sent_to:
        q = q.where(Application.send_at < datetime.combine(query.sent_to, datetime.min.time()) + timedelta(days=1))
    if query.account:
        q = q.where(Account.username == query.account)
    found = [(a, user) for a, user in f.session.execute(q)]
    ids = [a.id for a, _ in found]
    actions, holds = _actions(f, ids), _holds(f, ids)
    rows = [_row(f, a, user, actions[a.id], holds.get(a.id)) for a, user in found]  # status is derived: filter here
    if query.group != "全て":
        rows = [r for r in rows if r["group"] == query.group]
    return len(rows), rows[query.offset:query.offset + query.limit]


def _step_parts(step: TimelineStep) -> list[str]:
    parts = []
    if step.notice is not None:
        parts.append(f"通知「{step.notice.title}」（{step.notice.type}）")
    if step.document is not None:
        parts.append(f"公文書「{step.document.title or '公文書'}」")
    if step.payment is not None:
        parts.append(f"納付 {step.payment.fee:,}円")
    if step.post is not None:
        parts.append(f"電子送達「{step.post.title}」")
    return parts


def case_detail(f: FilingService, arrive_id: str) -> dict[str, Any] | None:
    """One case as the operator sees it, or None: its list row, the views' lists, its timeline."""
    found = f.session.execute(select(Application, Account.username).join(Account, Account.id == Application.account_id)
                              .where(Application.arrive_id == arrive_id)).first()
    if found is None:
        return None
    app, username = found
    actions = _actions(f, [app.id])[app.id]
    proc = f.catalogue.get(app.proc_id)
    v = lifecycle.view(app, actions, proc, f.now)
    events, open_step, shift = timeline.visible_events(app, [a for a in actions if a.at <= f.now], f.now, None)
    steps = []
    for index, entry in enumerate(app.timeline):
        step = TimelineStep.stored(entry)
        done = index < len(events)
        if done:
            at, state = events[index].at, "済"
        elif open_step is not None:
            at, state = None, "補正待ち（申請者の補正・再提出の後）"
        else:
            at, state = timeline.entry_time(entry) + shift, "予定"
        steps.append({"index": index, "at": format_datetime(at) if at else None, "state": state, "done": done,
                      "status": step.status, "parts": _step_parts(step)})
    history = [{"at": format_datetime(a.at), "kind": ACTION_NAMES.get(a.kind, a.kind), "data": a.data}
               for a in actions]
    return {**_row(f, app, username, actions, _holds(f, [app.id]).get(app.id)),
            "ministry_name": app.ministry_name, "submission_destination": app.submission_destination,
            "first_arrive_id": app.first_arrive_id, "forms": app.forms, "attachments": app.attachments,
            "withdraw_flag": v.withdraw_flag, "notices": v.notice_list, "documents": v.official_list,
            "payments": [{**presentation.payment(p), "pay_status": p.status(f.now)} for p in v.state.payments]
            if v.state else [], "steps": steps, "actions": history,
            "scenarios": sorted(proc.scenarios) if proc else [], "now": format_datetime(f.now)}
