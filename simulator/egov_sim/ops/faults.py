"""Fault rules: what they match, what they do, when they fire. Rules only (no Flask).

A rule as posted to /__admin/faults:

    {"name": "busy apply",
     "match": {"method": "POST", "path": "/shinsei/v2/apply", "account": "demo", "proc_id": "950A010700005000"},
     "action": {"status": 503} | {"status": 500, "detail": "...", "report_list": [...]}
               | {"latency": {"fixed": 2} | {"uniform": [1, 5]} | {"lognormal": {"median": 3, "sigma": 1}}}
               | {"reset": true} | {"hang": true, "seconds": 600}
               | {"arrival_check": "PT30M"} | {"auto_return": "missing_required"} | {"report_list": [...]},
     "when": "before" | "after",          # reset/hang after the request was processed (outcome unknown)
     "times": 1, "probability": 0.5, "from": "2024-03-31T00:00:00", "until": "2024-04-01T00:00:00"}

`latency` and `arrival_check` may be combined with each other and with one other action. Paths are globs (`/shinsei/v2/apply/*`) or, starting
with `^`, regular expressions. `account` is a login ID (aliases are resolved by the admin API).
"""

from __future__ import annotations

import fnmatch
import math
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..clock import parse_duration
from ..store.ops_tables import FaultRule

TERMINAL = ("status", "reset", "hang", "auto_return", "report_list")  # decide the answer; at most one fires
MODIFIERS = ("latency", "arrival_check")  # change timing or visibility; combine with anything
MAX_LATENCY = 900.0  # seconds: no single injected delay is longer than this
MAX_HANG = 3600.0


class FaultError(ValueError):
    """A rule the admin API refuses."""


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    account: str | None = None
    proc_id: str | None = None


@dataclass(frozen=True)
class Latency:
    """A delay distribution in seconds: fixed, uniform [low, high] or log-normal (median, sigma)."""

    kind: str
    a: float
    b: float = 0.0
    cap: float = MAX_LATENCY

    @classmethod
    def parse(cls, spec: Any) -> Latency:
        if isinstance(spec, int | float):
            spec = {"fixed": spec}
        if not isinstance(spec, dict) or len(spec) < 1:
            raise FaultError("latency は {fixed: s} / {uniform: [min, max]} / {lognormal: {median, sigma}} です。")
        cap = float(spec.get("max", MAX_LATENCY))
        if "fixed" in spec:
            return cls("fixed", _nonneg(spec["fixed"]), cap=cap)
        if "uniform" in spec:
            low, high = (spec["uniform"] + [None, None])[:2] if isinstance(spec["uniform"], list) else (None, None)
            if low is None or high is None or _nonneg(low) > _nonneg(high):
                raise FaultError("latency.uniform は [min, max] (秒) です。")
            return cls("uniform", float(low), float(high), cap)
        if "lognormal" in spec:
            ln = spec["lognormal"]
            if not isinstance(ln, dict) or "median" not in ln:
                raise FaultError("latency.lognormal は {median: 秒, sigma: 数値} です。")
            return cls("lognormal", _nonneg(ln["median"]), _nonneg(ln.get("sigma", 0.5)), float(ln.get("max", cap)))
        raise FaultError("latency の種類は fixed / uniform / lognormal です。")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        else:
            value = rng.lognormvariate(math.log(self.a), self.b) if self.a > 0 else 0.0
        return min(max(value, 0.0), self.cap, MAX_LATENCY)

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "fixed":
            return {"fixed": self.a}
        if self.kind == "uniform":
            return {"uniform": [self.a, self.b]}
        return {"lognormal": {"median": self.a, "sigma": self.b, "max": self.cap}}


def _nonneg(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise FaultError(f"数値で指定してください: {v!r}") from None
    if f < 0 or not math.isfinite(f):
        raise FaultError(f"0以上の数値で指定してください: {v!r}")
    return f


@dataclass(frozen=True)
class Action:
    latency: Latency | None = None
    status: int | None = None
    title: str | None = None
    detail: str | None = None
    report_list: tuple[dict[str, str], ...] = ()
    retry_after: int | None = None
    reset: bool = False
    hang: float | None = None  # seconds at most
    arrival_check: timedelta | None = None
    auto_return: str | None = None
    when: str = "before"

    @property
    def kind(self) -> str:
        """The terminal action's name, or "modifier" when the rule only changes timing or visibility."""
        for name in TERMINAL:
            if getattr(self, name):
                return name
        return "modifier"


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    method: tuple[str, ...]
    path: str
    account: str | None
    proc_id: str | None
    action: Action
    probability: float = 1.0
    active_from: datetime | None = None
    active_until: datetime | None = None
    limit: int | None = None
    fired: int = 0
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    def matches(self, req: RequestInfo, now: datetime) -> bool:
        if self.method and req.method.upper() not in self.method:
            return False
        if self.path and not _path_matches(self.path, req.path):
            return False
        if self.account and (req.account or "").lower() != self.account.lower():
            return False
        if self.proc_id and req.proc_id != self.proc_id:
            return False
        if self.active_from and now < self.active_from:
            return False
        if self.active_until and now >= self.active_until:
            return False
        return not (self.limit is not None and self.fired >= self.limit)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec, "fired": self.fired,
                "remaining": None if self.limit is None else max(self.limit - self.fired, 0)}


def _path_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("^"):
        return re.match(pattern, path) is not None
    return fnmatch.fnmatchcase(path, pattern)


def _report_item(item: Any) -> dict[str, str]:
    if isinstance(item, str):
        item = {"content": item}
    if not isinstance(item, dict) or not item.get("content"):
        raise FaultError("report_list の各要素には content が必要です。")
    return {k: str(item.get(k) or "-") for k in ("form_name", "attached_file_name", "file_name", "item", "content")}


def parse_action(spec: Any) -> Action:
    if not isinstance(spec, dict) or not spec:
        raise FaultError("action を指定してください。")
    unknown = set(spec) - {"when", "title", "detail", "retry_after", "seconds", *TERMINAL, *MODIFIERS}
    if unknown:
        raise FaultError(f"action に不明な項目があります: {', '.join(sorted(unknown))}")
    kinds = [k for k in TERMINAL if spec.get(k)]
    if len(kinds) > 1:
        raise FaultError("action には status / reset / hang / auto_return / report_list のうち1種類までを指定できます。")
    if not kinds and not any(k in spec for k in MODIFIERS):
        raise FaultError("action の種類がありません (status, latency, reset, hang, arrival_check, auto_return)。")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultError("status は 400〜599 の数値です。")
    when = spec.get("when", "before")
    if when not in ("before", "after"):
        raise FaultError("when は before か after です。")
    report = tuple(_report_item(i) for i in spec.get("report_list") or [])
    if report and status is None:
        status = 400
    arrival = None
    if spec.get("arrival_check"):
        try:
            arrival = parse_duration(str(spec["arrival_check"]))
        except ValueError as exc:
            raise FaultError(f"arrival_check: {exc}") from None
    hang = None
    if spec.get("hang"):
        hang = min(_nonneg(spec.get("seconds", MAX_HANG)), MAX_HANG)
    return Action(latency=Latency.parse(spec["latency"]) if "latency" in spec else None, status=status,
                  title=spec.get("title"), detail=spec.get("detail"), report_list=report,
                  retry_after=int(spec["retry_after"]) if spec.get("retry_after") is not None else None,
                  reset=bool(spec.get("reset")), hang=hang, arrival_check=arrival,
                  auto_return=spec.get("auto_return") or None, when=when)


def _jst(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise FaultError(f"{name} は日時 (例: 2024-03-31T00:00:00) で指定してください。") from None


def validate(spec: Any) -> dict[str, Any]:
    """Check a posted rule; returns the normalised spec to store."""
    if not isinstance(spec, dict):
        raise FaultError("JSONオブジェクトで指定してください。")
    match = spec.get("match") or {}
    if not isinstance(match, dict):
        raise FaultError("match はオブジェクトです。")
    unknown = set(match) - {"method", "path", "account", "proc_id"}
    if unknown:
        raise FaultError(f"match に不明な項目があります: {', '.join(sorted(unknown))}")
    parse_action(spec.get("action"))
    prob = spec.get("probability", 1.0)
    if not isinstance(prob, int | float) or not 0 < prob <= 1:
        raise FaultError("probability は 0 より大きく 1 以下です。")
    times = spec.get("times")
    if times is not None and (not isinstance(times, int) or times < 1):
        raise FaultError("times は1以上の整数です。")
    _jst(spec.get("from"), "from")
    _jst(spec.get("until"), "until")
    path = match.get("path", "")
    if isinstance(path, str) and path.startswith("^"):
        try:
            re.compile(path)
        except re.error as exc:
            raise FaultError(f"path の正規表現に誤りがあります: {exc}") from None
    keys = ("name", "match", "action", "probability", "times", "from", "until")
    return {k: spec[k] for k in keys if k in spec}


def to_rule(row: FaultRule) -> Rule:
    spec = row.spec
    match = spec.get("match") or {}
    method = match.get("method") or ()
    methods = tuple(m.upper() for m in ([method] if isinstance(method, str) else method))
    return Rule(id=row.id, name=str(spec.get("name") or f"rule {row.id}"), method=methods,
                path=match.get("path") or "", account=match.get("account"), proc_id=match.get("proc_id"),
                action=parse_action(spec["action"]), probability=float(spec.get("probability", 1.0)),
                active_from=_jst(spec.get("from"), "from"), active_until=_jst(spec.get("until"), "until"),
                limit=row.limit, fired=row.fired, spec=spec)


def load_rules(session: Session) -> list[Rule]:
    return [to_rule(r) for r in session.scalars(select(FaultRule).order_by(FaultRule.id))]


def claim(session: Session, rule: Rule) -> bool:
    """Count one firing atomically; False when the rule has used up its `times` (another process won)."""
    stmt = update(FaultRule).where(FaultRule.id == rule.id)
    stmt = stmt.where(or_(FaultRule.limit.is_(None), FaultRule.fired < FaultRule.limit))
    return session.execute(stmt.values(fired=FaultRule.fired + 1)).rowcount == 1


def select_firing(session: Session, rules: list[Rule], req: RequestInfo, now: datetime,
                  rng: random.Random) -> list[Rule]:
    """The rules that fire for this request, in order; at most one with a terminal action."""
    fired: list[Rule] = []
    terminal = False
    for rule in rules:
        if not rule.matches(req, now):
            continue
        is_terminal = rule.action.kind != "modifier"
        if is_terminal and terminal:
            continue
        if rule.probability < 1 and rng.random() >= rule.probability:
            continue
        if not claim(session, rule):
            continue
        fired.append(rule)
        terminal = terminal or is_terminal
    return fired
