"""Fault actions: what a fired rule does, one small class per kind.

The middleware calls `before` (may answer instead of the view) and `after` (may replace or drop the
answer) through a FaultContext; the filing hooks (filing_hooks.py) call `automatic_return` and
`arrival_check` after authentication, for actions that need the submission. A new fault kind is one
class here, added to ACTIONS: its spec key, how it parses, what it does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Protocol

from egov_format.reports import ReportItem
from flask import Response

from ..catalogue import Procedure
from ..clock import parse_duration
from . import auto_return
from .errors import FaultError
from .latency import Latency, nonneg

MAX_HANG = 3600.0
DEFAULT_HANG = 300.0  # `seconds` omitted: a bounded hold (it ends sooner when the client goes away)
NO_DELAY = Latency("fixed", 0.0)
WHEN = ("before", "after")  # after: once the request was processed (outcome unknown to the client)
COMMON_KEYS = frozenset({"when", "title", "detail", "retry_after", "seconds"})


class FaultContext(Protocol):
    """What an action may do to the request in hand (the middleware's, or a test's fake)."""

    def note(self, text: str) -> None: ...  # a line in the journal entry's `faults`
    def sleep(self, latency: Latency) -> float: ...  # sample and wait; returns the delay
    def error(self, status: int, *, title: str | None, detail: str | None,
              report: list[dict[str, str]], headers: dict[str, str]) -> Response: ...
    def drop(self) -> Response: ...  # a connection reset instead of an answer
    def hang(self, seconds: float) -> float: ...  # hold until the client gives up; returns the wait


@dataclass(frozen=True)
class FaultAction:
    """Base: does nothing. `terminal` actions decide the answer (at most one fires per request);
    the others change timing or visibility and combine with anything."""

    KEY: ClassVar[str]
    TERMINAL: ClassVar[bool] = True
    NEEDS_SUBMISSION: ClassVar[bool] = False  # only the filing hooks can apply it

    when: str = "before"

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        return cls(when=when)

    def before(self, ctx: FaultContext, label: str) -> Response | None:
        return None

    def after(self, ctx: FaultContext, label: str, response: Response) -> Response:
        return response

    def automatic_return(self, proc: Procedure | None) -> tuple[str, list[ReportItem]] | None:
        return None

    def arrival_check(self) -> timedelta | None:
        return None

    def refusal(self, proc: Procedure | None) -> str | None:
        """Why the admin API refuses this action for the rule's procedure (given when matched); None if fine."""
        return None


@dataclass(frozen=True)
class LatencyAction(FaultAction):
    KEY: ClassVar[str] = "latency"
    TERMINAL: ClassVar[bool] = False

    latency: Latency = NO_DELAY

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        return cls(when=when, latency=Latency.parse(spec[cls.KEY]))

    def before(self, ctx: FaultContext, label: str) -> Response | None:
        if self.when == "before":
            ctx.note(f"{label}: latency {ctx.sleep(self.latency):.3f}s")
        return None

    def after(self, ctx: FaultContext, label: str, response: Response) -> Response:
        if self.when == "after":
            ctx.note(f"{label}: latency after {ctx.sleep(self.latency):.3f}s")
        return response


@dataclass(frozen=True)
class _Answer(FaultAction):
    """A terminal action that answers before the view runs, or replaces the answer after it."""

    def before(self, ctx: FaultContext, label: str) -> Response | None:
        if self.when != "before":
            return None
        ctx.note(f"{label}: {self.KEY}")
        return self.answer(ctx, label, None)

    def after(self, ctx: FaultContext, label: str, response: Response) -> Response:
        return self.answer(ctx, label, response) if self.when == "after" else response

    def answer(self, ctx: FaultContext, label: str, processed: Response | None) -> Response:
        raise NotImplementedError


@dataclass(frozen=True)
class StatusAction(_Answer):
    """An error answer (`status`, or `report_list` items with 400): before processing, or after it
    (a 500 after storing: the outcome is unknown to the client)."""

    KEY: ClassVar[str] = "status"

    status: int = 500
    title: str | None = None
    detail: str | None = None
    report: tuple[dict[str, str], ...] = ()
    retry_after: int | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        status = spec.get("status")
        report = tuple(_report_item(i) for i in spec.get("report_list") or [])
        return cls(when=when, status=status or (400 if report else 500), title=spec.get("title"),
                   detail=spec.get("detail") or (auto_return.DETAIL if report else None), report=report,
                   retry_after=int(spec["retry_after"]) if spec.get("retry_after") is not None else None)

    def answer(self, ctx: FaultContext, label: str, processed: Response | None) -> Response:
        if processed is not None:
            ctx.note(f"{label}: {self.KEY} after processing ({processed.status_code})")
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return ctx.error(self.status, title=self.title, detail=self.detail, report=list(self.report),
                         headers=headers)


@dataclass(frozen=True)
class ReportListAction(StatusAction):
    """`report_list`: a 400 with the given report items (e-Gov's wording)."""

    KEY: ClassVar[str] = "report_list"


@dataclass(frozen=True)
class ResetAction(_Answer):
    KEY: ClassVar[str] = "reset"

    def answer(self, ctx: FaultContext, label: str, processed: Response | None) -> Response:
        if processed is not None:
            ctx.note(f"{label}: reset after processing ({processed.status_code})")
        return ctx.drop()

    def refusal(self, proc: Procedure | None) -> str | None:
        from ..services import services
        from ..serving import CONNECTION_FAULT_SERVERS

        server = services().settings.server
        if server and server not in CONNECTION_FAULT_SERVERS:
            return (f"reset は {server} では TCP リセットになりません（アプリに接続のソケットが渡されないため）。"
                    "`egov-sim serve --server gunicorn`（既定）で起動してください。")
        return None


@dataclass(frozen=True)
class HangAction(_Answer):
    KEY: ClassVar[str] = "hang"

    seconds: float = DEFAULT_HANG

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        return cls(when=when, seconds=min(nonneg(spec.get("seconds", DEFAULT_HANG)), MAX_HANG))

    def answer(self, ctx: FaultContext, label: str, processed: Response | None) -> Response:
        waited = ctx.hang(self.seconds)
        after = "" if processed is None else f" after processing ({processed.status_code})"
        ctx.note(f"{label}: held {waited:.2f}s{after}")
        return ctx.drop()


@dataclass(frozen=True)
class AutoReturnAction(FaultAction):
    """自動返戻 with one of the procedure's cases (auto_return.py), refused before anything is stored."""

    KEY: ClassVar[str] = "auto_return"
    NEEDS_SUBMISSION: ClassVar[bool] = True

    case: str = ""
    detail: str | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        return cls(when=when, case=str(spec[cls.KEY]), detail=spec.get("detail"))

    def refusal(self, proc: Procedure | None) -> str | None:
        if proc is not None and auto_return.find(proc, self.case) is None:
            return f"手続 {proc.proc_id} に自動返戻ケース {self.case} はありません。"
        return None

    def automatic_return(self, proc: Procedure | None) -> tuple[str, list[ReportItem]] | None:
        case = auto_return.find(proc, self.case)
        return self.detail or auto_return.DETAIL, list(case.report) if case else []


@dataclass(frozen=True)
class ArrivalCheckAction(FaultAction):
    """The new arrival stays 'being checked' (absent from the lists) for a while."""

    KEY: ClassVar[str] = "arrival_check"
    TERMINAL: ClassVar[bool] = False
    NEEDS_SUBMISSION: ClassVar[bool] = True

    duration: timedelta = timedelta(0)

    @classmethod
    def parse(cls, spec: dict[str, Any], when: str) -> FaultAction:
        try:
            return cls(when=when, duration=parse_duration(str(spec[cls.KEY])))
        except ValueError as exc:
            raise FaultError(f"arrival_check: {exc}") from None

    def arrival_check(self) -> timedelta | None:
        return self.duration


ACTIONS: tuple[type[FaultAction], ...] = (StatusAction, ResetAction, HangAction, AutoReturnAction, ReportListAction,
                                          LatencyAction, ArrivalCheckAction)
KEYS = frozenset(a.KEY for a in ACTIONS)


def _report_item(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        item = {"content": item}
    if not isinstance(item, dict) or not item.get("content"):
        raise FaultError("report_list の各要素には content が必要です。")
    return {k: str(item.get(k) or "-") for k in ("form_name", "attached_file_name", "file_name", "item", "content")}


def parse_action(spec: Any) -> tuple[FaultAction, ...]:
    """A posted `action` object as its actions: at most one terminal, any modifiers."""
    if not isinstance(spec, dict) or not spec:
        raise FaultError("action を指定してください。")
    unknown = set(spec) - COMMON_KEYS - KEYS
    if unknown:
        raise FaultError(f"action に不明な項目があります: {', '.join(sorted(unknown))}")
    given = [a for a in ACTIONS if spec.get(a.KEY) or (not a.TERMINAL and a.KEY in spec)]
    if sum(a.TERMINAL for a in given) > 1:
        raise FaultError("action には status / reset / hang / auto_return / report_list のうち1種類までを指定できます。")
    if not given:
        raise FaultError("action の種類がありません (status, latency, reset, hang, arrival_check, auto_return)。")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultError("status は 400〜599 の数値です。")
    when = spec.get("when", "before")
    if when not in WHEN:
        raise FaultError("when は before か after です。")
    return tuple(a.parse(spec, when) for a in given)
