"""The 検証環境's staff in sandbox mode: who decides what happens to a case, and how soon.

In e-Gov's 検証環境 nobody outside can move a case: its staff request 再提出 or 補正 and issue 公文書 by
hand, days later. Sandbox mode plays them with a plan (the n-th submission of an account to a
procedure follows the plan's n-th scenario, later ones the catalogue default) and a timer (every
scenario step, and the arrival of bulk folders, takes `scale` times its catalogue time). No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..catalogue import Procedure
from ..store.models import Application


def parse_plan(text: str) -> dict[str, tuple[str, ...]]:
    """"proc=s1,s2;proc2=s3" → {proc: (s1, s2), proc2: (s3,)}; a malformed part is an error."""
    plan: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        proc_id, sep, scenarios = part.partition("=")
        if not sep or not proc_id.strip():
            raise ValueError(f"sandbox staff plan: expected proc_id=scenario,… in {part!r}")
        plan[proc_id.strip()] = tuple(s.strip() for s in scenarios.split(",") if s.strip())
    return plan


@dataclass(frozen=True)
class SandboxStaff:
    plan: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scale: float = 1.0

    @classmethod
    def from_settings(cls, plan: str, scale: float) -> SandboxStaff:
        if not scale > 0:
            raise ValueError("sandbox staff scale must be > 0")
        return cls(parse_plan(plan), scale)

    def choose(self, session: Session, proc: Procedure, account_id: int) -> str:
        """The scenario of this account's next submission to `proc` (resubmissions count too)."""
        planned = self.plan.get(proc.proc_id, ())
        sent = session.scalar(select(func.count()).select_from(Application).where(
            Application.account_id == account_id, Application.proc_id == proc.proc_id)) or 0
        if sent < len(planned) and planned[sent] in proc.scenarios:
            return planned[sent]
        return "default"

    def delay(self, duration: timedelta) -> timedelta:
        return duration * self.scale
