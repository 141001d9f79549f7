"""EgovClient and AsyncEgovClient: one method per API operation, described once.

Each operation returns a `Call` (see transport.py); the `operation` decorator hands it to the
client's transport, which runs it synchronously (EgovClient) or asynchronously (AsyncEgovClient).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import httpx

from .auth import (
    AsyncAuthClient,
    AuthCall,
    AuthCalls,
    AuthClient,
    AuthError,
    MemoryTokenStore,
    TokenSet,
    TokenStore,
    login_with_form,
)
from .config import Endpoint
from .models import Application, ApplicationPage, ApplyResult, ProcedureSkeleton
from .transport import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    AsyncTransport,
    Call,
    RetryPolicy,
    SyncTransport,
    TimeoutPolicy,
    TokenSource,
)

P = ParamSpec("P")
T = TypeVar("T")


def operation(build: Callable[P, Call[T]]) -> Callable[P, Any]:
    """Turn a Call builder into a client method (returns T, or an awaitable of T when async)."""

    @wraps(build)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = build(self, *args, **kwargs)
        return self._transport.execute(call if call.name else dataclasses.replace(call, name=build.__name__))

    return method  # type: ignore[return-value]


def _json(resp: httpx.Response) -> dict[str, Any]:
    return resp.json()


class Operations:
    """The e-Gov API v2 operations, shared by the sync and async clients."""

    _transport: Any

    @operation
    def get_procedure(self, proc_id: str) -> Call[ProcedureSkeleton]:
        """手続選択: the skeleton (kousei.xml, forms, stylesheets) of a procedure."""
        return Call("GET", f"/procedure/{proc_id}", lambda r: ProcedureSkeleton.from_json(proc_id, r.json()),
                    idempotent=True)

    @operation
    def submit(self, proc_id: str, package_zip: bytes, file_name: str | None = None) -> Call[ApplyResult]:
        """申請データ送信 (`POST /apply`) of a signed package zip."""
        body = {"proc_id": proc_id, "send_file": {"file_name": file_name or f"{proc_id}.zip",
                                                   "file_data": base64.b64encode(package_zip).decode()}}
        return Call("POST", "/apply", lambda r: ApplyResult.from_json(r.json()), json=body, timeout=300.0)

    @operation
    def list_applications(self, *, send_number: str | None = None, date_from: date | None = None,
                          date_to: date | None = None, limit: int = 50, offset: int = 0) -> Call[ApplicationPage]:
        """申請案件一覧取得: by send_number, or by arrival date range (limit ≤ 50)."""
        if send_number:
            params: dict[str, Any] = {"send_number": send_number}
        else:
            if date_from is None or date_to is None:
                raise ValueError("give send_number, or date_from and date_to")
            params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "limit": limit,
                      "offset": offset}
        return Call("GET", "/apply/lists", lambda r: ApplicationPage.from_json(r.json()), params=params,
                    idempotent=True)

    @operation
    def get_application(self, arrive_id: str) -> Call[Application]:
        """申請案件取得: the status, notices, documents and payments of one case."""
        return Call("GET", f"/apply/{arrive_id}", lambda r: Application.from_json(r.json()["results"]),
                    idempotent=True)


# ---------------------------------------------------------------------------- tokens for the transport

def _from_auth_call(call: AuthCall[T]) -> Call[T]:
    return Call(call.method, call.url, call.parse, data=call.form, headers=call.headers, bearer=False,
                ok_status=tuple(range(100, 600)))  # the auth call's own parser raises AuthError


class _StoreTokens(TokenSource):
    """Tokens from a TokenStore, refreshed through the auth server before they expire."""

    def __init__(self, calls: AuthCalls, store: TokenStore) -> None:
        self.calls = calls
        self.store = store

    def access_token(self) -> str | None:
        tokens = self.store.load()
        return tokens.access_token if tokens else None

    def refresh_call(self, force: bool) -> Call[Any] | None:
        tokens = self.store.load()
        if tokens is None or not tokens.refresh_token:
            return None
        if not force and not tokens.needs_refresh(self.calls.clock()):
            return None
        return _from_auth_call(self.calls.refresh(tokens.refresh_token))

    def accept(self, result: Any) -> None:
        self.store.save(result)


def _token_store(tokens: TokenSet | TokenStore | None) -> TokenStore:
    if tokens is None:
        return MemoryTokenStore()
    if isinstance(tokens, TokenSet):
        return MemoryTokenStore(tokens)
    return tokens


class _ClientBase(Operations):
    endpoint: Endpoint
    store: TokenStore
    trial: bool

    @property
    def tokens(self) -> TokenSet | None:
        return self.store.load()


class EgovClient(_ClientBase):
    """Synchronous e-Gov API v2 client (real e-Gov or the simulator)."""

    def __init__(self, endpoint: Endpoint, tokens: TokenSet | TokenStore | None = None, *,
                 http: httpx.Client | None = None, trial: bool = False, retry: RetryPolicy = DEFAULT_RETRY,
                 timeouts: TimeoutPolicy = DEFAULT_TIMEOUTS) -> None:
        self.endpoint = endpoint
        self.store = _token_store(tokens)
        self.trial = trial
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        self.auth = AuthClient(endpoint, self.http)
        self._transport = SyncTransport(self.http, endpoint.api_base, _StoreTokens(self.auth.calls, self.store),
                                        retry, trial, timeouts)

    @classmethod
    def login(cls, endpoint: Endpoint, username: str, password: str, *, http: httpx.Client | None = None,
              **kwargs: Any) -> EgovClient:
        """Log in through the auth server's login form (the simulator's, or any Keycloak-like page)."""
        client = cls(endpoint, http=http, **kwargs)
        client.store.save(login_with_form(endpoint, username, password, http=client.http))
        return client

    def trial_mode(self) -> EgovClient:
        """The same login in trial mode (`X-eGovAPI-Trial: true`): nothing sent counts."""
        clone = EgovClient(self.endpoint, self.store, http=self.http, trial=True, retry=self._transport.retry,
                           timeouts=self._transport.timeouts)
        clone._own_http = False
        return clone

    def introspect(self, token: str | None = None) -> dict[str, Any]:
        tokens = self.store.load()
        return self.auth.introspect(token or (tokens.access_token if tokens else ""))

    def refresh(self) -> TokenSet:
        tokens = self.store.load()
        if tokens is None:
            raise AuthError(401, "login_required", "no tokens")
        new = self.auth.refresh(tokens.refresh_token)
        self.store.save(new)
        return new

    def logout(self) -> None:
        tokens = self.store.load()
        if tokens is not None:
            self.auth.logout(tokens.refresh_token)
            self.store.clear()

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> EgovClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEgovClient(_ClientBase):
    """Asynchronous e-Gov API v2 client: the same operations as EgovClient, awaited."""

    def __init__(self, endpoint: Endpoint, tokens: TokenSet | TokenStore | None = None, *,
                 http: httpx.AsyncClient | None = None, trial: bool = False,
                 retry: RetryPolicy = DEFAULT_RETRY, timeouts: TimeoutPolicy = DEFAULT_TIMEOUTS) -> None:
        self.endpoint = endpoint
        self.store = _token_store(tokens)
        self.trial = trial
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))
        self.auth = AsyncAuthClient(endpoint, self.http)
        self._transport = AsyncTransport(self.http, endpoint.api_base, _StoreTokens(self.auth.calls, self.store),
                                         retry, trial, timeouts)

    async def introspect(self, token: str | None = None) -> dict[str, Any]:
        tokens = self.store.load()
        return await self.auth.introspect(token or (tokens.access_token if tokens else ""))

    async def logout(self) -> None:
        tokens = self.store.load()
        if tokens is not None:
            await self.auth.logout(tokens.refresh_token)
            self.store.clear()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncEgovClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
