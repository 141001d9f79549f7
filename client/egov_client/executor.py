"""Running Calls: bearer tokens and refresh, retries with Retry-After, per-operation timeouts, error mapping.

The policy is written once, as a generator (`Executor.steps`): it yields what to do next — `Send` a
request, `Sleep` a while, `Refresh` the tokens — and is sent the outcome (a response, or the exception
thrown back into it). `SyncExecutor` drives it with an httpx.Client, `AsyncExecutor` with an
httpx.AsyncClient; both also run flows (generators of Calls, calls.py). ("Transport" keeps httpx's
meaning: the seam below the httpx client, where tests plug in a MockTransport.)
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from .calls import Call, Flow
from .errors import (
    ApiError,
    CommunicationError,
    EgovError,
    MaintenanceError,
    NotFoundError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnauthorizedError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter, honouring Retry-After.

    A Retry-After longer than `max_delay` (a maintenance window of hours) is not waited out: the
    error is raised at once, carrying the window end, so the caller can schedule the work."""

    attempts: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0
    retry_status: tuple[int, ...] = (502, 503, 504)

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        if retry_after is not None:
            return retry_after if retry_after <= self.max_delay else None
        return min(self.backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4), self.max_delay)


NO_RETRY = RetryPolicy(attempts=1)
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class TimeoutPolicy:
    """Read timeouts per operation (seconds). A send takes 3 s – 5 min normally (seed 001) and longer in
    busy periods, so `submit` waits longest; inquiries should answer quickly."""

    default: float = 60.0
    connect: float = 10.0
    per_operation: dict[str, float] = field(default_factory=lambda: {
        "submit": 330.0, "get_procedure": 60.0, "list_applications": 60.0, "get_application": 60.0})

    def for_call(self, call: Call[Any]) -> httpx.Timeout:
        seconds = self.per_operation.get(call.name)
        if seconds is None:
            seconds = call.timeout if call.timeout is not None else self.default
        return httpx.Timeout(seconds, connect=min(self.connect, seconds))

    def with_(self, **per_operation: float) -> TimeoutPolicy:
        return TimeoutPolicy(self.default, self.connect, {**self.per_operation, **per_operation})


DEFAULT_TIMEOUTS = TimeoutPolicy()
MAINTENANCE_END_HEADER = "X-Egov-Sim-Maintenance-End"


def parse_window_end(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else None


def communication_error(call: Call[Any], exc: httpx.TransportError) -> CommunicationError:
    """A transport failure as an EgovError: was the request possibly delivered?"""
    delivered = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    cls = RequestTimeoutError if isinstance(exc, httpx.TimeoutException) and delivered else CommunicationError
    return cls(f"{type(exc).__name__}: {exc}", maybe_delivered=delivered, operation=call.name)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _www_authenticate_description(header: str) -> str:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip() == "error_description":
            return value.strip().strip('"')
    return ""


def raise_for_api_error(resp: httpx.Response) -> None:
    """Map an e-Gov error answer to an exception carrying title, detail and report_list."""
    status = resp.status_code
    if status == 401:
        raise UnauthorizedError(_www_authenticate_description(resp.headers.get("WWW-Authenticate", "")))
    if status == 404:
        raise NotFoundError(str(resp.request.url))
    body: dict[str, Any] = {}
    try:
        parsed = resp.json()
        body = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    kwargs = {"status": status, "title": body.get("title") or resp.reason_phrase, "detail": body.get("detail", ""),
              "report_list": body.get("report_list") or body.get("error") or [], "body": body}
    if status == 503:
        raise MaintenanceError(**kwargs, retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                               window_end=parse_window_end(resp.headers.get(MAINTENANCE_END_HEADER)))
    if status == 413:
        raise PayloadTooLargeError(**kwargs)
    raise ApiError(**kwargs)


class TokenSource:
    """Supplies access tokens; the API client plugs its token manager in here."""

    def access_token(self) -> str | None:  # pragma: no cover - interface
        return None

    def refresh_call(self, force: bool) -> Call[Any] | None:
        """A call that refreshes the tokens (or None if not needed / not possible)."""
        return None

    def accept(self, result: Any) -> None:
        """Store what the refresh call returned."""




# ---------------------------------------------------------------------------- the policy, written once

@dataclass(frozen=True)
class Send:
    """Make this request (httpx.request keyword arguments); answered with the response."""

    request: dict[str, Any]


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Refresh:
    """Refresh the tokens (`force`: even if they look fresh); answered True when refreshed, False when
    there is nothing to refresh with. A refused refresh is thrown back."""

    force: bool


Step = Send | Sleep | Refresh


class Executor:
    """Where and how Calls are sent; `steps` is the retry/refresh policy the drivers below run."""

    def __init__(self, api_base: str = "", tokens: TokenSource | None = None, retry: RetryPolicy = DEFAULT_RETRY,
                 trial: bool = False, timeouts: TimeoutPolicy | None = None, *, map_errors: bool = True) -> None:
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens or TokenSource()
        self.retry = retry
        self.trial = trial
        self.timeouts = timeouts
        self.map_errors = map_errors  # False: network failures propagate as httpx raised them

    def steps(self, call: Call[T]) -> Generator[Step, Any, T]:
        """Send `call` until it has an answer worth returning, then parse it (or raise the mapped error)."""
        if call.bearer:
            yield Refresh(force=False)
        attempt, refreshed, refused = 0, False, False
        while True:
            attempt += 1
            resp, error = None, None
            try:
                resp = yield Send(self.request(call))
            except httpx.TransportError as exc:
                error = exc
            if resp is not None and resp.status_code == 401 and call.bearer and not refreshed:
                refreshed = True
                try:
                    if (yield Refresh(force=True)):
                        attempt -= 1  # the retry with a fresh token does not count
                        continue
                except EgovError:
                    refused = True
            wait = self._retry_wait(call, attempt, resp, error)
            if wait is None:
                if error is not None:
                    if not self.map_errors:
                        raise error
                    raise communication_error(call, error) from error
                assert resp is not None
                return self._finish(call, resp, refused)
            yield Sleep(wait)

    def request(self, call: Call[Any]) -> dict[str, Any]:
        url = call.url if call.url.startswith("http") else f"{self.api_base}{call.url}"
        headers = dict(call.headers)
        if call.bearer:
            token = self.tokens.access_token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if self.trial:
                headers.setdefault("X-eGovAPI-Trial", "true")
        args: dict[str, Any] = {"method": call.method, "url": url, "headers": headers, "params": call.params}
        if call.json is not None:
            args["json"] = call.json
        if call.data is not None:
            args["data"] = call.data
        if self.timeouts is not None and call.bearer:
            args["timeout"] = self.timeouts.for_call(call)
        elif call.timeout is not None:
            args["timeout"] = call.timeout
        return args

    def _retry_wait(self, call: Call[Any], attempt: int, resp: httpx.Response | None,
                    exc: Exception | None) -> float | None:
        """Seconds to wait before the next attempt, or None to stop."""
        if attempt >= self.retry.attempts:
            return None
        if exc is not None:
            # A connection never made cannot have delivered the request; anything else might have.
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) or call.idempotent:
                return self.retry.delay(attempt, None)
            return None
        assert resp is not None
        if resp.status_code in self.retry.retry_status and (call.idempotent or resp.status_code == 503):
            return self.retry.delay(attempt, parse_retry_after(resp.headers.get("Retry-After")))
        return None

    @staticmethod
    def _finish(call: Call[T], resp: httpx.Response, refresh_refused: bool = False) -> T:
        if resp.status_code not in call.ok_status:
            try:
                raise_for_api_error(resp)
            except UnauthorizedError as exc:
                exc.refresh_failed = refresh_refused
                raise
        return call.parse(resp)


# ---------------------------------------------------------------------------- the drivers

def _advance(steps: Generator[Any, Any, Any], outcome: Any, error: BaseException | None) -> tuple[bool, Any]:
    """(done, value): the generator's next step, or its return value."""
    try:
        return False, steps.throw(error) if error is not None else steps.send(outcome)
    except StopIteration as stop:
        return True, stop.value


class SyncExecutor(Executor):
    """Runs Calls and flows on an httpx.Client."""

    def __init__(self, http: httpx.Client, api_base: str = "", tokens: TokenSource | None = None,
                 retry: RetryPolicy = DEFAULT_RETRY, trial: bool = False, timeouts: TimeoutPolicy | None = None,
                 *, map_errors: bool = True, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(api_base, tokens, retry, trial, timeouts, map_errors=map_errors)
        self.http = http
        self.sleep = sleep
        self._refresh_lock = threading.Lock()
        self._flow_lock = threading.Lock()

    def execute(self, call: Call[T]) -> T:
        return self._drive(self.steps(call), self._step)

    def run(self, flow: Flow[T], *, exclusive: bool = False) -> T:
        """Run a flow; `exclusive`: one at a time on this executor (e.g. a check-then-refresh)."""
        with self._flow_lock if exclusive else nullcontext():
            return self._drive(flow, self.execute)

    @staticmethod
    def _drive(steps: Generator[Any, Any, T], perform: Callable[[Any], Any]) -> T:
        outcome, error = None, None
        while True:
            done, step = _advance(steps, outcome, error)
            if done:
                return step
            outcome, error = None, None
            try:
                outcome = perform(step)
            except Exception as exc:  # handed to the generator, which decides
                error = exc

    def _step(self, step: Step) -> Any:
        if isinstance(step, Send):
            return self.http.request(**step.request)
        if isinstance(step, Sleep):
            return self.sleep(step.seconds)
        with self._refresh_lock:  # one refresh at a time: the refresh token rotates
            refresh = self.tokens.refresh_call(step.force)
            if refresh is None:
                return False
            self.tokens.accept(self.execute(refresh))
            return True


class AsyncExecutor(Executor):
    """Runs Calls and flows on an httpx.AsyncClient (the same policy, awaited)."""

    def __init__(self, http: httpx.AsyncClient, api_base: str = "", tokens: TokenSource | None = None,
                 retry: RetryPolicy = DEFAULT_RETRY, trial: bool = False, timeouts: TimeoutPolicy | None = None,
                 *, map_errors: bool = True, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        super().__init__(api_base, tokens, retry, trial, timeouts, map_errors=map_errors)
        self.http = http
        self.sleep = sleep
        self._refresh_lock = asyncio.Lock()
        self._flow_lock = asyncio.Lock()

    async def execute(self, call: Call[T]) -> T:
        return await self._drive(self.steps(call), self._step)

    async def run(self, flow: Flow[T], *, exclusive: bool = False) -> T:
        if not exclusive:
            return await self._drive(flow, self.execute)
        async with self._flow_lock:
            return await self._drive(flow, self.execute)

    @staticmethod
    async def _drive(steps: Generator[Any, Any, T], perform: Callable[[Any], Awaitable[Any]]) -> T:
        outcome, error = None, None
        while True:
            done, step = _advance(steps, outcome, error)
            if done:
                return step
            outcome, error = None, None
            try:
                outcome = await perform(step)
            except Exception as exc:
                error = exc

    async def _step(self, step: Step) -> Any:
        if isinstance(step, Send):
            return await self.http.request(**step.request)
        if isinstance(step, Sleep):
            return await self.sleep(step.seconds)
        async with self._refresh_lock:
            refresh = self.tokens.refresh_call(step.force)
            if refresh is None:
                return False
            self.tokens.accept(await self.execute(refresh))
            return True
