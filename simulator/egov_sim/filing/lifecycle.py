"""What a case looks like at a given instant: derived from its timeline, its actions and the clock.

Nothing is pushed by a background worker; every server process computes the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalogue import Procedure, Scenario
from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from . import presentation, timeline

# Withdrawal is not offered right after sending (seed 000: 「申請してすぐ取下げにする場合は…表示されていない」).
WITHDRAWABLE_AFTER = timeline.WITHDRAWABLE_AFTER
WITHDRAWABLE_STATUSES = timeline.WITHDRAWABLE_STATUSES
NO_PAYMENT = timeline.NO_PAYMENT


def build_timeline(scenario: Scenario, arrive_at: datetime, scale: float = 1.0) -> list[dict[str, Any]]:
    """The scenario's steps as absolute virtual times, stored with the application (`scale` < 1:
    sandbox mode's staff act sooner than the catalogue says)."""
    timeline = []
    for step in scenario.steps:
        entry: dict[str, Any] = {"at": format_datetime(arrive_at + step.after * scale)}
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
    state: timeline.CaseState | None = None  # the derived events behind the lists


def view(app: Application, actions: list[ApplicationAction], proc: Procedure | None, now: datetime) -> CaseView:
    """The case as the API shows it at `now` (see timeline.derive)."""
    options = proc.scenario(app.scenario).options if proc is not None else {}
    state = timeline.derive(app, actions, now, options, issuer=app.submission_destination)
    return CaseView(status=state.status, withdraw_flag=state.withdraw_flag, pay_status=state.pay_status,
                    notice_list=[presentation.notice_summary(n) for n in state.notices],
                    official_list=[presentation.official_summary(d) for d in state.documents],
                    apply_pay_list=[presentation.payment(p) for p in state.payments], state=state)
