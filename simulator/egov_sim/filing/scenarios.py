"""Which scenario a submission follows, and moving one case to its next step (admin controls).

Choice, first match wins: the `X-Sandbox-Scenario` request header (a test convenience), an admin
override for the account and/or procedure (`POST /__admin/scenario`), the catalogue's default.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalogue import Procedure
from ..clock import format_datetime
from ..store.kv import put_setting
from ..store.models import Application, ApplicationAction, Setting
from ..store.prepared import session_rows
from . import timeline

OVERRIDES_KEY = "scenario_overrides"
_OVERRIDES = select(Setting.value).where(Setting.key == OVERRIDES_KEY)  # read on every submission


def _overrides(session: Session) -> list[dict[str, Any]]:
    row = session.get(Setting, OVERRIDES_KEY)
    return list(row.value.get("rules", [])) if row else []


def set_override(session: Session, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """Add (or with scenario None, remove) a rule {scenario, account_id?, proc_id?, remaining?}."""
    rules = [r for r in _overrides(session)
             if (r.get("account_id"), r.get("proc_id")) != (rule.get("account_id"), rule.get("proc_id"))]
    if rule.get("scenario"):
        rules.insert(0, rule)
    put_setting(session, OVERRIDES_KEY, {"rules": rules})
    return rules


def choose(session: Session, proc: Procedure, account_id: int, header: str | None) -> str:
    if header and header in proc.scenarios:
        return header
    found = session_rows(session, _OVERRIDES, {})  # most often none: one cheap read
    if not found or not (found[0][0] or {}).get("rules"):
        return "default"
    rules = _overrides(session)
    for rule in rules:
        if rule.get("account_id") not in (None, account_id) or rule.get("proc_id") not in (None, proc.proc_id):
            continue
        if rule["scenario"] not in proc.scenarios:
            continue
        if rule.get("remaining") is not None:
            rule["remaining"] -= 1
            if rule["remaining"] <= 0:
                rules.remove(rule)
            session.get(Setting, OVERRIDES_KEY).value = {"rules": rules}  # type: ignore[union-attr]
        return rule["scenario"]
    return "default"


def advance_case(app: Application, actions: list[ApplicationAction], now: datetime) -> dict[str, Any] | None:
    """Bring the case's next pending step to `now` (later steps keep their spacing).

    Returns the step made current, or None when nothing is pending or the case waits for the user
    (an open 補正 request)."""
    events, open_step, shift = timeline.visible_events(app, [a for a in actions if a.at <= now], now, None)
    if open_step is not None:
        return None
    index = len(events)
    if index >= len(app.timeline):
        return None
    delta = timeline.entry_time(app.timeline[index]) + shift - now
    if delta <= timedelta(0):
        return None
    entries = [dict(e) for e in app.timeline]
    for e in entries[index:]:
        e["at"] = format_datetime(timeline.entry_time(e) - delta)
    app.timeline = entries
    return entries[index]
