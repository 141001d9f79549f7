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

`latency` and `arrival_check` may be combined with each other and with one other action (actions.py:
one class per kind). Paths are globs (`/shinsei/v2/apply/*`) or, starting with `^`, regular expressions.
`account` is a login ID (aliases are resolved by the admin API).

Who applies a rule: the middleware, before and after the view, for rules on method, path and the
token's account; the filing hooks (filing_hooks.py), after authentication, for rules on `proc_id` and
for actions that need the submission (auto_return, arrival_check). A rule that can never fire — a path
under no faultable tree, a submission action on a path that sends nothing — is refused.
"""

from __future__ import annotations

import fnmatch
import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..store.ops_tables import FaultRule
from .actions import FaultAction, parse_action
from .errors import FaultError

# what the filing hooks see: the operations that send a package (filing/hooks.py Submission.operation)
SUBMISSION_PATHS = ("/shinsei/v2/apply", "/shinsei/v2/bulk-apply", "/shinsei/v2/apply/amend",
                    "/shinsei/v2/post-apply")
_WILDCARDS = re.compile(r"[*?\[]")
_REGEX_SPECIALS = re.compile(r"[.^$*+?{}\[\]\\|()]")


@dataclass(frozen=True)
class RequestInfo:
    method: str
    path: str
    account: str | None = None
    proc_id: str | None = None


@dataclass(frozen=True)
class Rule:
    id: int
    name: str
    method: tuple[str, ...]
    path: str
    account: str | None
    proc_id: str | None
    actions: tuple[FaultAction, ...]
    probability: float = 1.0
    active_from: datetime | None = None
    active_until: datetime | None = None
    limit: int | None = None
    fired: int = 0
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"#{self.id} {self.name}"

    @property
    def terminal(self) -> bool:
        return any(a.TERMINAL for a in self.actions)

    @property
    def after_authentication(self) -> bool:
        """Matched by the filing hooks (real account and proc_id), not by the middleware."""
        return self.proc_id is not None or any(a.NEEDS_SUBMISSION for a in self.actions)

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


def _jst(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        raise FaultError(f"{name} は日時 (例: 2024-03-31T00:00:00) で指定してください。") from None


def _literal_prefix(pattern: str) -> str:
    """The part of a path pattern every matching path starts with."""
    if pattern.startswith("^"):
        body = pattern[1:]
        cut = _REGEX_SPECIALS.search(body)
        return body[:cut.start()] if cut else body
    cut = _WILDCARDS.search(pattern)
    return pattern[:cut.start()] if cut else pattern


def can_reach(pattern: str, tree: str) -> bool:
    """Whether a path pattern may match a path in `tree` (a URL prefix like /shinsei/v2)."""
    prefix = _literal_prefix(pattern)
    return prefix.startswith(tree) or tree.startswith(prefix)


def _never_fires(spec: dict[str, Any], actions: tuple[FaultAction, ...], trees: tuple[str, ...]) -> str | None:
    match = spec.get("match") or {}
    path = match.get("path") or ""
    if path and not any(can_reach(path, t) for t in trees):
        return (f"path {path} は障害を注入できる範囲 ({', '.join(trees)}) の外です。"
                f" (this rule can never fire: faults apply under {', '.join(trees)} only)")
    method = match.get("method") or ()
    methods = {m.upper() for m in ([method] if isinstance(method, str) else method)}
    if (match.get("proc_id") or any(a.NEEDS_SUBMISSION for a in actions)) and (
            (methods and "POST" not in methods) or (path and not any(_path_matches(path, p) for p in SUBMISSION_PATHS))):
        return ("proc_id・auto_return・arrival_check の規則は申請データの送信 (POST "
                f"{', '.join(SUBMISSION_PATHS)}) にだけ適用されます。"
                " (this rule can never fire: it needs a submission)")
    return None


def validate(spec: Any, trees: tuple[str, ...]) -> dict[str, Any]:
    """Check a posted rule against the faultable URL trees; returns the normalised spec to store."""
    if not isinstance(spec, dict):
        raise FaultError("JSONオブジェクトで指定してください。")
    match = spec.get("match") or {}
    if not isinstance(match, dict):
        raise FaultError("match はオブジェクトです。")
    unknown = set(match) - {"method", "path", "account", "proc_id"}
    if unknown:
        raise FaultError(f"match に不明な項目があります: {', '.join(sorted(unknown))}")
    actions = parse_action(spec.get("action"))
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
    never = _never_fires(spec, actions, trees)
    if never:
        raise FaultError(never)
    keys = ("name", "match", "action", "probability", "times", "from", "until")
    return {k: spec[k] for k in keys if k in spec}


def to_rule(row: FaultRule) -> Rule:
    spec = row.spec
    match = spec.get("match") or {}
    method = match.get("method") or ()
    methods = tuple(m.upper() for m in ([method] if isinstance(method, str) else method))
    return Rule(id=row.id, name=str(spec.get("name") or f"rule {row.id}"), method=methods,
                path=match.get("path") or "", account=match.get("account"), proc_id=match.get("proc_id"),
                actions=parse_action(spec["action"]), probability=float(spec.get("probability", 1.0)),
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
        is_terminal = rule.terminal
        if is_terminal and terminal:
            continue
        if rule.probability < 1 and rng.random() >= rule.probability:
            continue
        if not claim(session, rule):
            continue
        fired.append(rule)
        terminal = terminal or is_terminal
    return fired
