"""The executor's retry/refresh policy (executor.py): the generator driven with scripted answers, no
network; then the same scripts through the sync and async drivers (httpx.MockTransport) with the same
outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from egov_client.calls import ANY_STATUS, Call
from egov_client.errors import ApiError, CommunicationError, UnauthorizedError
from egov_client.executor import (
    AsyncExecutor,
    Executor,
    Refresh,
    RetryPolicy,
    Send,
    Sleep,
    SyncExecutor,
    TokenSource,
)

API = "https://api.test/shinsei/v2"
TOKEN_URL = "https://auth.test/token"
RETRY = RetryPolicy(attempts=3, backoff=0.5, max_delay=30.0)

Answer = tuple[int, dict[str, str], Any] | Callable[[httpx.Request], Exception]


def ok(body: Any = None) -> Answer:
    return 200, {}, body if body is not None else {"ok": True}


def reset(request: httpx.Request) -> Exception:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def refused(request: httpx.Request) -> Exception:
    return httpx.ConnectError("Connection refused", request=request)


class Tokens(TokenSource):
    """An access token that a forced refresh replaces (by POST to the token URL)."""

    def __init__(self) -> None:
        self.token = "old"

    def access_token(self) -> str | None:
        return self.token

    def refresh_call(self, force: bool) -> Call[Any] | None:
        if not force:
            return None
        return Call("POST", TOKEN_URL, lambda r: r.json()["access_token"] if r.is_success else _refused(r),
                    data={"grant_type": "refresh_token"}, bearer=False, ok_status=ANY_STATUS)

    def accept(self, result: Any) -> None:
        self.token = result


def _refused(response: httpx.Response) -> Any:
    from egov_client.auth import AuthError

    raise AuthError(response.status_code, "invalid_grant")


@dataclass
class Script:
    """Answers requests in order and records what was sent and slept."""

    answers: list[Answer]
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, str(request.url), request.headers.get("Authorization", "")))
        answer = self.answers.pop(0)
        if callable(answer):
            raise answer(request)
        status, headers, body = answer
        return httpx.Response(status, headers=headers, json=body, request=request)


def outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", run()
    except (ApiError, CommunicationError, UnauthorizedError) as exc:
        return type(exc).__name__, {k: getattr(exc, k, None) for k in
                                    ("maybe_delivered", "retry_after", "status", "refresh_failed")}


def drive(executor: Executor, call: Call[Any], script: Script) -> Any:
    """The policy by hand: each step answered from the script (refreshes run through the policy too)."""
    steps = executor.steps(call)
    answer: Any = None
    error: Exception | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(answer)
        except StopIteration as stop:
            return stop.value
        answer, error = None, None
        try:
            if isinstance(step, Send):
                args = step.request
                answer = script.answer(httpx.Request(args["method"], args["url"], headers=args["headers"]))
            elif isinstance(step, Sleep):
                script.slept.append(step.seconds)
            else:
                assert isinstance(step, Refresh)
                refresh = executor.tokens.refresh_call(step.force)
                if refresh is not None:
                    executor.tokens.accept(drive(executor, refresh, script))
                answer = refresh is not None
        except Exception as exc:
            error = exc


def by_hand(call: Call[Any], answers: list[Answer]) -> tuple[tuple[str, Any], Script]:
    script = Script(list(answers))
    return outcome(lambda: drive(Executor(API, Tokens(), RETRY), call, script)), script


def sync_driver(call: Call[Any], answers: list[Answer]) -> tuple[tuple[str, Any], Script]:
    script = Script(list(answers))
    with httpx.Client(transport=httpx.MockTransport(script.answer)) as http:
        executor = SyncExecutor(http, API, Tokens(), RETRY, sleep=script.slept.append)
        return outcome(lambda: executor.execute(call)), script


def async_driver(call: Call[Any], answers: list[Answer]) -> tuple[tuple[str, Any], Script]:
    script = Script(list(answers))

    async def sleep(seconds: float) -> None:
        script.slept.append(seconds)

    async def run() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(script.answer)) as http:
            return await AsyncExecutor(http, API, Tokens(), RETRY, sleep=sleep).execute(call)

    return outcome(lambda: asyncio.run(run())), script


GET = Call("GET", "/apply/lists", lambda r: r.json(), idempotent=True, name="list_applications")
POST = Call("POST", "/apply", lambda r: r.json(), json={"proc_id": "x"}, name="submit")


@dataclass(frozen=True)
class Case:
    name: str
    call: Call[Any]
    answers: list[Answer]
    expected: tuple[str, Any]
    sent: list[tuple[str, str, str]]
    slept: Callable[[list[float]], bool]


BEARER_OLD = ("GET", f"{API}/apply/lists", "Bearer old")
CASES = [
    Case("503 with Retry-After is retried after that wait", GET,
         [(503, {"Retry-After": "2"}, {"title": "busy"}), ok()], ("ok", {"ok": True}),
         [BEARER_OLD, BEARER_OLD], lambda s: s == [2.0]),
    Case("a non-idempotent call is retried on 503 too (the gateway refused it)", POST,
         [(503, {"Retry-After": "1"}, {}), ok()], ("ok", {"ok": True}),
         [("POST", f"{API}/apply", "Bearer old")] * 2, lambda s: s == [1.0]),
    Case("Retry-After past max_delay: MaintenanceError at once", GET,
         [(503, {"Retry-After": "3600"}, {"title": "maintenance"})],
         ("MaintenanceError", {"maybe_delivered": None, "retry_after": 3600.0, "status": 503, "refresh_failed": None}),
         [BEARER_OLD], lambda s: s == []),
    Case("401: one forced refresh, then the call again with the new token", GET,
         [(401, {"WWW-Authenticate": 'Bearer error_description="token expired"'}, None),
          ok({"access_token": "new"}), ok()], ("ok", {"ok": True}),
         [BEARER_OLD, ("POST", TOKEN_URL, ""), ("GET", f"{API}/apply/lists", "Bearer new")], lambda s: s == []),
    Case("401 twice: refreshed once only", GET,
         [(401, {}, None), ok({"access_token": "new"}), (401, {}, None)],
         ("UnauthorizedError", {"maybe_delivered": None, "retry_after": None, "status": None,
                                "refresh_failed": False}),
         [BEARER_OLD, ("POST", TOKEN_URL, ""), ("GET", f"{API}/apply/lists", "Bearer new")], lambda s: s == []),
    Case("401 and the refresh refused: refresh_failed", GET,
         [(401, {}, None), (400, {}, {"error": "invalid_grant"})],
         ("UnauthorizedError", {"maybe_delivered": None, "retry_after": None, "status": None,
                                "refresh_failed": True}),
         [BEARER_OLD, ("POST", TOKEN_URL, "")], lambda s: s == []),
    Case("a reset after sending a non-idempotent call: maybe delivered, not resent", POST, [reset],
         ("CommunicationError", {"maybe_delivered": True, "retry_after": None, "status": None,
                                 "refresh_failed": None}),
         [("POST", f"{API}/apply", "Bearer old")], lambda s: s == []),
    Case("a reset on an idempotent call is retried with backoff", GET, [reset, ok()], ("ok", {"ok": True}),
         [BEARER_OLD, BEARER_OLD], lambda s: len(s) == 1 and 0.5 <= s[0] <= 0.625),
    Case("a refused connection delivered nothing: even a send is retried", POST, [refused, ok()],
         ("ok", {"ok": True}), [("POST", f"{API}/apply", "Bearer old")] * 2, lambda s: len(s) == 1),
    Case("retries are bounded: the last answer's error", GET, [(502, {}, {"title": "Bad Gateway"})] * 3,
         ("ApiError", {"maybe_delivered": None, "retry_after": None, "status": 502, "refresh_failed": None}),
         [BEARER_OLD] * 3, lambda s: len(s) == 2),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_by_hand(case: Case) -> None:
    result, script = by_hand(case.call, case.answers)
    assert result == case.expected
    assert script.sent == case.sent
    assert case.slept(script.slept)
    assert script.answers == []


@pytest.mark.parametrize("driver", [sync_driver, async_driver], ids=["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_drivers_agree_with_the_policy(case: Case, driver: Callable[..., Any]) -> None:
    expected, by_hand_script = by_hand(case.call, case.answers)
    result, script = driver(case.call, case.answers)
    assert result == expected == case.expected
    assert script.sent == by_hand_script.sent
    assert len(script.slept) == len(by_hand_script.slept) and case.slept(script.slept)
