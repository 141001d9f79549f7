"""What a case looks like at a given instant: derived from its timeline, its actions and the clock.

Nothing is pushed by a background worker; every server process computes the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..catalogue import Procedure, Scenario
from ..clock import format_datetime
from ..store.models import Application, ApplicationAction

# Withdrawal is not offered right after sending (seed 000: 「申請してすぐ取下げにする場合は…表示されていない」).
WITHDRAWABLE_AFTER = timedelta(minutes=5)
WITHDRAWABLE_STATUSES = frozenset({"到達", "審査中", "審査中（補正待ち）"})
NO_PAYMENT = "なし"


def build_timeline(scenario: Scenario, arrive_at: datetime) -> list[dict[str, Any]]:
    """The scenario's steps as absolute virtual times, stored with the application."""
    timeline = []
    for step in scenario.steps:
        entry: dict[str, Any] = {"at": format_datetime(arrive_at + step.after)}
        if step.status:
            entry["status"] = step.status
        entry.update(step.extra)
        timeline.append(entry)
    return timeline


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"])  # "YYYY-MM-DD HH:MM:SS" (C-fast, unlike strptime)


@dataclass
class CaseView:
    status: str
    withdraw_flag: bool
    pay_status: str = NO_PAYMENT
    notice_list: list[dict[str, Any]] = field(default_factory=list)
    official_list: list[dict[str, Any]] = field(default_factory=list)
    apply_pay_list: list[dict[str, Any]] = field(default_factory=list)


def view(app: Application, actions: list[ApplicationAction], proc: Procedure | None, now: datetime) -> CaseView:
    """The case as the API shows it at `now`."""
    status = "到達"
    for entry in app.timeline:
        if _at(entry) > now:
            break
        if "status" in entry:
            status = entry["status"]
    withdraw_flag = status in WITHDRAWABLE_STATUSES and now - app.arrive_at >= WITHDRAWABLE_AFTER
    return CaseView(status=status, withdraw_flag=withdraw_flag)
