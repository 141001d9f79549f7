"""Before/after-request hooks for the faultable trees (/shinsei/v2 and /auth): maintenance windows,
fault rules on method/path/account, busy-season latency and the request journal — infrastructure
only. The rules live in maintenance.py, faults.py, actions.py and latency.py; this module applies
them to Flask requests. Rules that need the submission (proc_id, auto_return, arrival_check) go to
the filing backend as hooks (`g.filing_hooks`, filing_hooks.py), applied after authentication.
"""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..clock import format_datetime, real_now_jst
from ..filing.v2.problems import not_found, problem, unauthorized
from ..idp.egov_tokens import from_epoch
from ..services import WORLD, services
from ..store.kv import put_setting
from ..store.models import Setting
from ..store.outage import OUTAGE_ERRORS
from . import connection, latency
from .faults import RequestInfo as FaultRequest
from .faults import Rule, load_rules, select_firing
from .filing_hooks import FaultAnswer, RuleHooks
from .journal import Entry, Journal, truncate
from .journal_store import new_journal
from .maintenance import DETAIL, Calendar, Occurrence, retry_after_seconds, settle

OPS_KEY = "egov_sim_ops"
API = "/shinsei/v2"
LATENCY_KEY = "ops.latency"
MAINTENANCE_END_HEADER = "X-Egov-Sim-Maintenance-End"  # the simulator's own: real e-Gov may not send it
AUTH_JSON_PATHS = ("/auth/token", "/auth/token/introspect", "/auth/logout")
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large",
          429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavaiable",
          504: "Gateway Timeout"}
DETAILS = {500: "サーバ内部でエラーが発生（システムエラー等）", 503: DETAIL, 502: "ゲートウェイでエラーが発生しました。",
           504: "ゲートウェイでタイムアウトが発生しました。", 429: "リクエストが集中しています。時間をおいて再度お試しください。"}


CACHE_SECONDS = 1.0  # the longest a process keeps its copy of the calendar, rules and profile
GENERATION_KEY = "ops.generation"  # a fresh token after every ops change: other processes reload at once
_GENERATION = select(Setting.value).where(Setting.key == GENERATION_KEY)
GENERATION_COLUMN = _GENERATION.scalar_subquery()  # the token read along with another statement


@dataclass
class OpsRoom:
    calendar: Calendar
    rules: list[Rule]
    latency: latency.LatencyConfig


@dataclass
class OpsState:
    """Per-process state of the ops room (the database holds the rest): the journal, the random
    source, and a short-lived copy of the calendar, rules and profile (invalidated by admin writes)."""

    journal: Journal
    rng: random.Random
    trees: dict[str, str]  # faultable URL prefix -> answer style ("api": the spec's errors, "auth": OAuth's)
    answers: dict[str, Callable[[Response], Response]] = field(default_factory=dict)  # prefix -> its own format
    _room: OpsRoom | None = None
    _loaded_at: float = 0.0
    _generation: Any = None

    def invalidate(self) -> None:
        """After an ops change: this process reloads, and a new generation token tells every other
        process sharing the database to reload on its next request (not up to CACHE_SECONDS later)."""
        self._room = None
        if not has_app_context():  # in-process callers (tests, scripts) outside a request: this process only
            return
        try:
            with services().db.session() as s:
                put_setting(s, GENERATION_KEY, {"token": uuid.uuid4().hex})
        except OUTAGE_ERRORS:  # the database is down: the change did not happen either
            pass

    def recent_room(self) -> OpsRoom | None:
        """The copy in hand if it is recent (not invalidated, younger than CACHE_SECONDS), without a read."""
        fresh = self._room is not None and time.monotonic() - self._loaded_at <= CACHE_SECONDS
        return self._room if fresh else None

    @property
    def generation(self) -> Any:
        return self._generation

    def _read_generation(self, svc: Any) -> Any:
        """The generation token (one prepared read of a single row). A kept read connection may have
        died with the database: one retry on another; if the database is down, the copy we have (the
        request's own work then meets the outage and answers it)."""
        for attempt in (1, 2):
            try:
                with svc.db.reads.connection() as conn:
                    rows = svc.db.prepared(_GENERATION).rows(conn, {})
                return rows[0][0] if rows else None
            except OUTAGE_ERRORS:
                if attempt == 2:
                    return self._generation
        return self._generation

    def room(self, svc: Any = None, generation: Any = ...) -> OpsRoom:
        """The calendar, rules and profile of this room's world (`svc`: its Services; the request's by
        default). `generation`: the token read already in the caller's own statement (GENERATION_COLUMN)."""
        svc = svc or services()
        if generation is ...:
            generation = self._read_generation(svc)
        if self._room is None or generation != self._generation or time.monotonic() - self._loaded_at > CACHE_SECONDS:
            self._generation = generation
            with svc.db.session() as s:
                row = s.get(Setting, LATENCY_KEY)
                config = latency.LatencyConfig(row.value["profile"], float(row.value["scale"])) if row else \
                    latency.LatencyConfig(svc.settings.latency_profile, svc.settings.latency_scale)
                self._room = OpsRoom(Calendar.load(s), load_rules(s), config)
            self._loaded_at = time.monotonic()
        return self._room


@dataclass
class RequestOps:
    """What the hooks learned and decided about one request."""

    t0: float
    kind: str
    account: str | None = None
    maintenance: int | None = None
    notes: list[str] = field(default_factory=list)
    after: list[Rule] = field(default_factory=list)  # fired rules whose `after` acts on the answer
    dropped: bool = False
    _now: datetime | None = None

    @property
    def now(self) -> datetime:
        """The request's virtual instant, read once and only when needed: the bearer check's own
        reading when it ran (so an API call with an empty ops room reads the clock once)."""
        if self._now is None:
            access = g.get("access")
            if access is not None and access.now is not None:
                self._now = access.now
            else:
                try:
                    self._now = services().clock.now()
                except OUTAGE_ERRORS:  # the clock lives in the database: journal at the real time
                    self._now = real_now_jst()
        return self._now


def install(app: Flask, faultable: dict[str | None, str],
            answers: dict[str, Callable[[Response], Response]] | None = None) -> None:
    """Apply the ops room to the `faultable` trees (URL prefix -> "api" | "auth"), declared by the
    blueprints served there; fault rules for any other path are refused. `answers`: a tree whose face
    answers in a format of its own (the legacy XML) converts the injected answers (URL prefix -> converter)."""
    settings = app.extensions["egov_sim"].settings
    trees = {prefix: kind for prefix, kind in faultable.items() if prefix}
    app.extensions[OPS_KEY] = OpsState(new_journal(app, app.extensions["egov_sim"]), random.Random(settings.seed), trees,
                                       dict(answers or {}))
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(FaultAnswer, lambda exc: exc.response)


def ops_state() -> OpsState:
    """The ops room of the request's world (its journal, rules cache) — the default world's if none."""
    world = g.get(WORLD)
    return world.ops(current_app.extensions[OPS_KEY]) if world is not None else current_app.extensions[OPS_KEY]


def faultable_trees() -> tuple[str, ...]:
    """The URL prefixes fault rules can act on (the admin API refuses rules for any other path)."""
    return tuple(ops_state().trees)


def _kind(path: str) -> str | None:
    for prefix, kind in ops_state().trees.items():
        if (path == prefix or path.startswith(prefix + "/")) and not path.endswith("/openapi.json"):
            return kind
    return None


_peeked: dict[str, dict[str, Any] | None] = {}  # token → unverified claims (bounded; a token's payload never changes)
_PEEK_CACHE_SIZE = 4096


def _token_claims() -> dict[str, Any] | None:
    """The bearer token's claims, unverified: only for matching and the journal (the API verifies it)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return peek_claims(token)


def peek_claims(token: str) -> dict[str, Any] | None:
    """A bearer token's payload, unverified and cached (only for routing, matching and the journal)."""
    try:
        return _peeked[token]
    except KeyError:
        pass
    claims = _peek(token)
    if len(_peeked) >= _PEEK_CACHE_SIZE:
        _peeked.pop(next(iter(_peeked)), None)
    _peeked[token] = claims
    return claims


def _peek(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def latency_config() -> latency.LatencyConfig:
    return ops_state().room().latency


# ---------------------------------------------------------------------------- responses

def api_error(status: int, *, title: str | None = None, detail: str | None = None,
              report: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> Response:
    """An injected answer for the current /shinsei/v2 path, drawn by the filing face's one problem renderer."""
    if status == 401:
        return unauthorized("Token is not active")
    if status == 404:
        return not_found()
    bulk = request.path.endswith("/bulk-apply")
    return problem(status, title or TITLES.get(status, "Error"),
                   (detail or DETAILS.get(status) or "リクエストを処理できませんでした。")[:256],
                   report=() if bulk else (report or ()), withdraw_shape=request.path.endswith("/apply/withdraw"),
                   error_count=max(len(report or []), 1) if bulk else None, headers=headers)


def auth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    """The auth server's answer: OAuth JSON on its JSON endpoints, a plain page on the browser ones."""
    if request.path in AUTH_JSON_PATHS:
        resp = jsonify({"error": error, "error_description": description})
    else:
        html = (f"<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{status}</title></head>"
                f"<body><h1>ただいまご利用いただけません</h1><p>{description}</p></body></html>")
        resp = Response(html, mimetype="text/html")
    resp.status_code = status
    resp.headers.update(headers or {})
    return resp


def _maintenance_response(kind: str, occ: Occurrence, now: datetime) -> Response:
    state = services().clock.state()
    end = occ.end.isoformat(timespec="seconds") + "+09:00"
    headers = {"Retry-After": str(retry_after_seconds(occ, now, state.speed, state.frozen)),
               MAINTENANCE_END_HEADER: end}
    detail = f"{DETAIL} メンテナンス終了予定: {format_datetime(occ.end)}"
    if kind == "auth":
        return auth_error(503, "temporarily_unavailable", f"e-Govはメンテナンス中です。終了予定: {format_datetime(occ.end)}",
                          headers)
    return api_error(503, title="Service Unavaiable", detail=detail, headers=headers)


@dataclass
class _RequestFaults:
    """The FaultContext of the request in hand (actions.py)."""

    ops: RequestOps

    def note(self, text: str) -> None:
        self.ops.notes.append(text)

    def sleep(self, delay: latency.Latency) -> float:
        seconds = delay.sample(ops_state().rng)
        time.sleep(seconds)
        return seconds

    def error(self, status: int, *, title: str | None, detail: str | None, report: list[dict[str, str]],
              headers: dict[str, str]) -> Response:
        if self.ops.kind == "auth" and not report:
            error = "temporarily_unavailable" if status == 503 else "server_error"
            return auth_error(status, error, detail or DETAILS.get(status, "error"), headers)
        return api_error(status, title=title, detail=detail, report=report, headers=headers)

    def drop(self) -> Response:
        self.ops.dropped = True
        return Response(connection.dropping_body(request.environ), status=200)

    def hang(self, seconds: float) -> float:
        return connection.hang(request.environ, seconds)


# ---------------------------------------------------------------------------- the hooks

def _before() -> Response | None:
    kind = _kind(request.path)
    if kind is None:
        return None
    svc = services()
    claims = _token_claims()
    ops = g.egov_ops = RequestOps(time.perf_counter(), kind)
    ops.account = (claims or {}).get("preferred_username") or (claims or {}).get("email") \
        or (request.form.get("username") if request.method == "POST" and request.mimetype ==
            "application/x-www-form-urlencoded" and request.path.endswith("/authenticate") else None)
    room = ops_state().room()
    calendar, rules = room.calendar, room.rules
    if calendar:
        now = ops.now
        settle(svc.db, calendar, now)
        occ = calendar.current(now)
        if occ is not None and (kind == "api" or occ.window.auth_down):
            ops.maintenance = occ.window.id
            return _maintenance_response(kind, occ, now)
        if kind == "api" and claims and isinstance(claims.get("iat"), int | float):
            expired_by = calendar.expired_token(from_epoch(claims["iat"]), now)
            if expired_by is not None:
                ops.notes.append(f"token issued before maintenance #{expired_by.window.id}")
                return Response(status=401, headers={
                    "WWW-Authenticate": 'Bearer realm="egov", error="invalid_token", error_description="Token expired"'})
    if rules:
        later = [r for r in rules if r.after_authentication]
        now_rules = [r for r in rules if not r.after_authentication]
        # no token tells who calls (the legacy access key): rules on the account wait for the face's authentication
        on_account = [r for r in now_rules if r.account] if ops.account is None and kind == "api" else []
        if on_account:
            now_rules = [r for r in now_rules if not r.account]
        ctx = _RequestFaults(ops)
        if (later or on_account) and kind == "api":
            g.filing_hooks = RuleHooks(later, svc.catalogue, request.method, request.path, ops.now,
                                       ops_state().rng, svc.db.session, ctx, ops.after, on_account)
        if now_rules:
            req = FaultRequest(request.method, request.path, ops.account)
            with svc.db.session() as s:
                fired = select_firing(s, now_rules, req, ops.now, ops_state().rng)
            ops.after.extend(fired)
            for rule in fired:
                for action in rule.actions:
                    answer = action.before(ctx, rule.label)
                    if answer is not None:
                        return answer
    _profile_latency(ops, calendar, room.latency)
    return None


def _profile_latency(ops: RequestOps, calendar: Calendar, config: latency.LatencyConfig) -> None:
    if config.profile == "off" or config.scale <= 0:
        return
    dist, reason = latency.distribution(config, ops.now, request.method, request.path, calendar)
    if dist is None:
        return
    delay = dist.sample(ops_state().rng) * config.scale
    ops.notes.append(f"profile {config.profile} ({reason}): latency {delay:.3f}s")
    time.sleep(delay)


def _after(response: Response) -> Response:
    ops: RequestOps | None = g.get("egov_ops")
    if ops is None:
        return response
    ctx = _RequestFaults(ops)
    for rule in ops.after:
        for action in rule.actions:
            if ops.dropped:
                break
            response = action.after(ctx, rule.label, response)
    convert = next((c for prefix, c in ops_state().answers.items() if request.path.startswith(prefix + "/")), None)
    if convert is not None and ops.after:  # a face with its own format: answers put in after processing too
        response = convert(response)
    _record(ops, response)
    return response


_UNJOURNALED = frozenset({"authorization", "cookie"})


def _record(ops: RequestOps, response: Response) -> None:
    state = ops_state()
    req = request._get_current_object()  # type: ignore[attr-defined]  # one context lookup, not one per attribute
    caller = g.get("caller")  # set only by a verified token (filing/v2/auth.py)
    verified = caller.username if caller is not None else None
    raw = None
    length = req.content_length
    if length and length < 1_000_000:
        try:
            raw = req.get_data(cache=True)
        except HTTPException:  # over MAX_CONTENT_LENGTH: the view already answered 413
            raw = None
    state.journal.add(journal_entry(
        state.journal, at=format_datetime(ops.now), method=req.method, path=req.path,
        query=req.query_string.decode("latin-1"), account=verified, claimed_account=None if verified else ops.account,
        status=0 if ops.dropped else response.status_code, t0=ops.t0, request_headers=req.headers, request_body=raw,
        response_headers=response.headers, response_body=None if response.is_streamed else response.get_data(),
        maintenance=ops.maintenance, faults=ops.notes))


def journal_entry(journal: Journal, *, at: str, method: str, path: str, query: str, account: str | None,
                  claimed_account: str | None, status: int, t0: float, request_headers: Any,
                  request_body: bytes | None, response_headers: Any, response_body: bytes | None,
                  maintenance: int | None = None, faults: list[str] | tuple[str, ...] = ()) -> Entry:
    """One journal entry (the hooks' and the fast poll's): credentials and cookies left out, bodies truncated."""
    return Entry(
        id=journal.next_id(), at=at, method=method, path=path, query=query, account=account,
        claimed_account=claimed_account, status=status, duration_ms=round((time.perf_counter() - t0) * 1000, 3),
        request_headers={k: v for k, v in request_headers.items() if k.lower() not in _UNJOURNALED},
        request_body=truncate(request_body), response_headers=dict(response_headers),
        response_body=truncate(response_body), maintenance=maintenance, faults=list(faults))
