"""The ops room inside a filing operation: fault rules matched after authentication.

The middleware hands the rules that need the real account and proc_id (faults.Rule.after_authentication)
to a RuleHooks set as `flask.g.filing_hooks`; the filing backend calls it once the caller is known.
A terminal action that answers on its own (status, reset, hang) interrupts the operation with
FaultAnswer, so its transaction is rolled back and nothing is stored; after-processing actions are
handed back to the middleware for the answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from egov_format.reports import ReportItem
from sqlalchemy.orm import Session

from ..catalogue import Catalogue
from ..clock import format_datetime
from ..filing.hooks import FilingHooks, HookAnswer, Submission
from .actions import FaultContext
from .faults import RequestInfo, Rule, select_firing


class FaultAnswer(HookAnswer):
    """A fault's answer in place of the operation's (the middleware renders it)."""


@dataclass
class RuleHooks(FilingHooks):
    rules: list[Rule]
    catalogue: Catalogue
    method: str
    path: str
    now: datetime
    rng: random.Random
    session: Callable[[], Session]  # a session of its own: firing counts stay counted
    ctx: FaultContext
    after: list[Rule]  # the middleware's: rules whose `after` acts on the answer
    on_account: list[Rule] = field(default_factory=list)  # rules on an account no header told the middleware
    _fired: dict[Submission, list[Rule]] = field(default_factory=dict)

    def _act(self, rules: list[Rule], req: RequestInfo) -> list[Rule]:
        with self.session() as s:
            fired = select_firing(s, rules, req, self.now, self.rng)
        self.after.extend(fired)
        for rule in fired:
            for action in rule.actions:
                answer = action.before(self.ctx, rule.label)
                if answer is not None:
                    raise FaultAnswer(answer)
        return fired

    def _fire(self, submission: Submission) -> list[Rule]:
        if submission not in self._fired:
            req = RequestInfo(self.method, self.path, submission.account, submission.proc_id)
            self._fired[submission] = self._act(self.rules, req)
        return self._fired[submission]

    def prepare(self, submissions: list[Submission]) -> None:
        for submission in submissions:
            self._fire(submission)  # counted in a session of its own, before the operation writes

    def authenticated(self, account: str) -> None:
        rules, self.on_account = self.on_account, []  # once per request
        if rules:
            self._act(rules, RequestInfo(self.method, self.path, account))

    def automatic_return(self, submission: Submission) -> tuple[str, list[ReportItem]] | None:
        proc = self.catalogue.get(submission.proc_id)
        for rule in self._fire(submission):
            for action in rule.actions:
                refusal = action.automatic_return(proc)
                if refusal is not None:
                    self.ctx.note(f"{rule.label}: {action.KEY}")
                    return refusal
        return None

    def arrival_check(self, submission: Submission) -> timedelta | None:
        for rule in self._fire(submission):
            for action in rule.actions:
                hold = action.arrival_check()
                if hold is not None:
                    self.ctx.note(f"{rule.label}: arrival being checked until {format_datetime(self.now + hold)}")
                    return hold
        return None
