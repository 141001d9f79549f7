"""Login to the e-Gov auth server (real e-Gov or the simulator): authorization code + PKCE,
token refresh, introspection, logout, and token storage.

Each auth server request is described once as a `Call` (`AuthCalls`), the form login as a flow of
Calls; `AuthClient` runs them on an `httpx.Client`, `AsyncAuthClient` on an `httpx.AsyncClient`,
through the same executor as the API.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urljoin, urlsplit

import httpx
import lxml.html

from .calls import ANY_STATUS, Call, Flow, flow, operation, page
from .config import Endpoint
from .errors import EgovError
from .executor import NO_RETRY, AsyncExecutor, SyncExecutor

T = TypeVar("T")
Clock = Callable[[], datetime]

REFRESH_MARGIN = timedelta(seconds=60)


class AuthError(EgovError):
    """The auth server refused a request (`{error, error_description}`), or a login failed."""

    def __init__(self, status: int, error: str, error_description: str = "") -> None:
        super().__init__(f"{status} {error}: {error_description}" if error_description else f"{status} {error}")
        self.status = status
        self.error = error
        self.error_description = error_description


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------- PKCE and the authorization URL

def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, code_challenge) pair: 64-character verifier, S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _redirect_uri(endpoint: Endpoint, redirect_uri: str | None = None) -> str:
    uri = redirect_uri or endpoint.redirect_uri
    if not uri:
        raise ValueError("a redirect_uri is required (the one registered for the software)")
    return uri


def authorization_url(endpoint: Endpoint, state: str, code_challenge: str, scope: str | None = None, *,
                      redirect_uri: str | None = None) -> str:
    """The URL to open in a browser to log in (`{auth_base}/auth?client_id=...`)."""
    params = {
        "client_id": endpoint.client_id,
        "response_type": "code",
        "scope": scope or endpoint.scope,
        "redirect_uri": _redirect_uri(endpoint, redirect_uri),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{endpoint.auth_base.rstrip('/')}/auth?{urlencode(params, quote_via=quote)}"


# ---------------------------------------------------------------------------- tokens

@dataclass(frozen=True)
class TokenSet:
    """A token response with absolute expiry times (aware UTC, from the client's clock at receipt)."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None  # None: the server gave no limit (refresh_expires_in 0)
    id_token: str = ""
    session_state: str = ""
    scope: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_response(cls, data: dict[str, Any], now: datetime | None = None) -> TokenSet:
        now = now or utc_now()
        try:
            access_token, expires_in = str(data["access_token"]), int(data.get("expires_in", 0))
            refresh_in = int(data.get("refresh_expires_in", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthError(200, "invalid_response", f"not a token response: {exc}") from exc
        return cls(
            access_token=access_token,
            refresh_token=str(data.get("refresh_token", "")),
            expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in > 0 else None,
            id_token=str(data.get("id_token", "")),
            session_state=str(data.get("session_state", "")),
            scope=str(data.get("scope", "")),
            raw=dict(data),
        )

    def needs_refresh(self, now: datetime | None = None, margin: timedelta = REFRESH_MARGIN) -> bool:
        return (now or utc_now()) >= self.expires_at - margin

    def refresh_expired(self, now: datetime | None = None, margin: timedelta = REFRESH_MARGIN) -> bool:
        if not self.refresh_token:
            return True
        return self.refresh_expires_at is not None and (now or utc_now()) >= self.refresh_expires_at - margin

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat() if self.refresh_expires_at else None,
            "id_token": self.id_token,
            "session_state": self.session_state,
            "scope": self.scope,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        refresh_at = data.get("refresh_expires_at")
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token", ""),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            refresh_expires_at=datetime.fromisoformat(refresh_at) if refresh_at else None,
            id_token=data.get("id_token", ""),
            session_state=data.get("session_state", ""),
            scope=data.get("scope", ""),
            raw=data.get("raw") or {},
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        return cls.from_dict(json.loads(text))


class TokenStore(Protocol):
    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def clear(self) -> None: ...


class MemoryTokenStore:
    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens

    def load(self) -> TokenSet | None:
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    def clear(self) -> None:
        self._tokens = None


class FileTokenStore:
    """Tokens in a JSON file readable by the owner only (0600), replaced atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> TokenSet | None:
        try:
            return TokenSet.from_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # unreadable tokens are as good as none: log in again

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(tokens.to_json())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# ---------------------------------------------------------------------------- requests, described once

def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode both parts, then HTTP Basic."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        raise AuthError(response.status_code, str(body["error"]), str(body.get("error_description", "")))
    raise AuthError(response.status_code, f"http_{response.status_code}", response.text[:200])


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an OAuth answer, or AuthError (`{error, error_description}` or not JSON)."""
    _raise_for_error(response)
    try:
        body = response.json()
    except ValueError as exc:
        raise AuthError(response.status_code, "invalid_response", "response is not JSON") from exc
    if not isinstance(body, dict):
        raise AuthError(response.status_code, "invalid_response", "response is not a JSON object")
    return body


class AuthCalls:
    """Builds the auth server requests for one endpoint (software credentials included)."""

    def __init__(self, endpoint: Endpoint, clock: Clock = utc_now) -> None:
        self.endpoint = endpoint
        self.clock = clock
        self.base = endpoint.auth_base.rstrip("/")

    def _call(self, path: str, form: dict[str, str], parse: Callable[[httpx.Response], T]) -> Call[T]:
        headers = {"Authorization": basic_authorization(self.endpoint.client_id, self.endpoint.client_secret),
                   "Accept": "application/json"}
        return Call("POST", f"{self.base}{path}", parse, data=form, headers=headers, bearer=False,
                    ok_status=ANY_STATUS)

    def _token_set(self, keep_refresh: str = "") -> Callable[[httpx.Response], TokenSet]:
        def parse(response: httpx.Response) -> TokenSet:
            body = json_object(response)
            if keep_refresh and not body.get("refresh_token"):
                body["refresh_token"] = keep_refresh  # servers without rotation may omit it
            return TokenSet.from_response(body, self.clock())
        return parse

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str | None = None) -> Call[TokenSet]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": _redirect_uri(self.endpoint, redirect_uri), "code_verifier": code_verifier}
        return self._call("/token", form, self._token_set())

    def refresh(self, refresh_token: str) -> Call[TokenSet]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._call("/token", form, self._token_set(keep_refresh=refresh_token))

    def introspect(self, token: str, token_type_hint: str | None = None) -> Call[dict[str, Any]]:
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        return self._call("/token/introspect", form, json_object)

    def logout(self, refresh_token: str) -> Call[None]:
        return self._call("/logout", {"refresh_token": refresh_token}, _raise_for_error)


def _stored_tokens(store: TokenStore, now: datetime) -> tuple[TokenSet, bool]:
    """The stored tokens and whether they must be refreshed first."""
    tokens = store.load()
    if tokens is None:
        raise AuthError(401, "login_required", "no stored tokens: log in first")
    if not tokens.needs_refresh(now):
        return tokens, False
    if tokens.refresh_expired(now):
        raise AuthError(401, "login_required", "the refresh token has expired: log in again")
    return tokens, True


class _AuthOperations:
    """The auth server's operations, shared by AuthClient and AsyncAuthClient (results are awaitable
    in the latter). Requests go out once: no retries, and network failures stay httpx's exceptions."""

    calls: AuthCalls
    _executor: Any

    @operation
    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str | None = None) -> Call[TokenSet]:
        return self.calls.exchange_code(code, code_verifier, redirect_uri)

    @operation
    def refresh(self, refresh_token: str) -> Call[TokenSet]:
        return self.calls.refresh(refresh_token)

    @operation
    def introspect(self, token: str, token_type_hint: str | None = None) -> Call[dict[str, Any]]:
        return self.calls.introspect(token, token_type_hint)

    @operation
    def logout(self, refresh_token: str) -> Call[None]:
        return self.calls.logout(refresh_token)

    def run(self, steps: Flow[T], *, exclusive: bool = False) -> Any:
        """Run a flow of auth server Calls (e.g. one built from `calls` and `form_login`)."""
        return self._executor.run(steps, exclusive=exclusive)

    def valid_tokens(self, store: TokenStore) -> Any:
        """Stored tokens, refreshed (and saved) first when the access token is about to expire."""
        return self.run(self._valid_tokens(store), exclusive=True)

    def _valid_tokens(self, store: TokenStore) -> Flow[TokenSet]:
        tokens, stale = _stored_tokens(store, self.calls.clock())
        if stale:
            tokens = yield self.calls.refresh(tokens.refresh_token)
            store.save(tokens)
        return tokens

    def form_login(self, username: str, password: str, *, state: str | None = None,
                   scope: str | None = None) -> Flow[TokenSet]:
        """Log in through the auth server's HTML login form (the simulator, Keycloak-like servers)
        and exchange the code: PKCE, form post, code read from the final redirect's Location."""
        endpoint = self.calls.endpoint
        redirect_uri = _redirect_uri(endpoint)
        verifier, challenge = pkce_pair()
        state = state or secrets.token_urlsafe(24)
        response = yield page("GET", authorization_url(endpoint, state, challenge, scope))
        response, callback = yield from follow(response, redirect_uri)
        if callback is None:
            doc = _parse_page(response)
            if not response.is_success:
                raise AuthError(response.status_code, "invalid_request", _page_message(doc) or response.reason_phrase)
            action, fields = _login_form(doc, str(response.url), username, password)
            response, callback = yield from follow((yield page("POST", action, fields)), redirect_uri)
        if callback is None:
            doc = _parse_page(response)
            raise AuthError(response.status_code, "login_failed", _page_message(doc) or "login failed")
        code = _callback_code(callback, state)
        return (yield self.calls.exchange_code(code, verifier, redirect_uri))

    login_with_form = flow(form_login)


class AuthClient(_AuthOperations):
    """The auth server on a synchronous httpx.Client."""

    def __init__(self, endpoint: Endpoint, http: httpx.Client, *, clock: Clock = utc_now) -> None:
        self.calls = AuthCalls(endpoint, clock)
        self.http = http
        self._executor = SyncExecutor(http, retry=NO_RETRY, map_errors=False)


class AsyncAuthClient(_AuthOperations):
    """The auth server on an httpx.AsyncClient (same calls as AuthClient, awaited)."""

    def __init__(self, endpoint: Endpoint, http: httpx.AsyncClient, *, clock: Clock = utc_now) -> None:
        self.calls = AuthCalls(endpoint, clock)
        self.http = http
        self._executor = AsyncExecutor(http, retry=NO_RETRY, map_errors=False)


# ---------------------------------------------------------------------------- form login (simulator, Keycloak-like pages)

MAX_REDIRECTS = 10


def _is_callback(url: str, redirect_uri: str) -> bool:
    a, b = urlsplit(url), urlsplit(redirect_uri)
    return (a.scheme, a.netloc.lower(), a.path) == (b.scheme, b.netloc.lower(), b.path)


def follow(response: httpx.Response, redirect_uri: str) -> Flow[tuple[httpx.Response, str | None]]:
    """Follow redirects until a page, or until one points at the redirect_uri (not fetched)."""
    for _ in range(MAX_REDIRECTS):
        if not response.is_redirect:
            return response, None
        location = urljoin(str(response.url), response.headers["location"])
        if _is_callback(location, redirect_uri):
            return response, location
        response = yield page("GET", location)
    raise AuthError(response.status_code, "too_many_redirects", "the login did not reach the redirect_uri")


def _page_message(doc: lxml.html.HtmlElement) -> str:
    """The error text of a login or error page (ours, Keycloak's, or any role=alert)."""
    for xpath in ("//*[@id='input-error']", "//*[contains(@class, 'kc-feedback-text')]",
                  "//*[@role='alert']", "//*[contains(@class, 'alert-error')]"):
        for element in doc.xpath(xpath):
            text = " ".join(element.text_content().split())
            if text:
                return text
    return ""


def _parse_page(response: httpx.Response) -> lxml.html.HtmlElement:
    if not response.content.strip():
        raise AuthError(response.status_code, "login_failed", "the auth server returned an empty page")
    return lxml.html.document_fromstring(response.text, base_url=str(response.url))


def _login_form(doc: lxml.html.HtmlElement, page_url: str, username: str,
                password: str) -> tuple[str, dict[str, str]]:
    """(action URL, fields) of the page's password form, with the credentials filled in."""
    for form in doc.forms:
        secret = [i for i in form.inputs if i.get("type", "").lower() == "password" and i.name]
        if not secret:
            continue
        fields = {name: value for name, value in form.form_values() if name}
        login_field = next((i.name for i in form.inputs if i.tag == "input" and i.name
                            and i.get("type", "text").lower() in ("text", "email")), "username")
        fields[login_field] = username
        fields[secret[0].name] = password
        return form.action or page_url, fields
    raise AuthError(200, "login_failed", _page_message(doc) or "no login form on the authorization page")


def _callback_code(location: str, state: str) -> str:
    params = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    if "error" in params:
        raise AuthError(400, params["error"], params.get("error_description", ""))
    if params.get("state") != state:
        raise AuthError(400, "invalid_state", "the state returned by the auth server does not match")
    if not params.get("code"):
        raise AuthError(400, "invalid_response", "the redirect carries no code")
    return params["code"]


def login_with_form(endpoint: Endpoint, username: str, password: str, *, http: httpx.Client,
                    state: str | None = None, scope: str | None = None, clock: Clock = utc_now) -> TokenSet:
    """`AuthClient.login_with_form` on `http` (PKCE, form post, code exchange)."""
    return AuthClient(endpoint, http, clock=clock).login_with_form(username, password, state=state, scope=scope)
