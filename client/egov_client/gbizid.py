"""GビズID relying-party helper: authorization URL with PKCE and nonce, code exchange, ID-token
validation against the JWKS (signature, iss, aud, exp, iat, nonce), UserInfo and refresh — for the
real GビズID (production / staging) and the simulator alike.

Each request is described once as a `Call` (`GbizIdCalls`), each operation once as a flow of Calls
(`_GbizIdFlows`); `GbizIdClient` runs them on an `httpx.Client`, `AsyncGbizIdClient` on an
`httpx.AsyncClient`, through the client's executor. The endpoints come from the provider's discovery
document.

At the end: drivers for the simulator's login pages (ID/password, then the SMS or authenticator
code), also through e-Gov's 「GビズIDでログイン」.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

import httpx
import jwt

from .auth import (
    AuthCalls,
    AuthError,
    Clock,
    TokenSet,
    _login_form,
    _page_message,
    _parse_page,
    authorization_url,
    basic_authorization,
    follow,
    json_object,
    pkce_pair,
    utc_now,
)
from .calls import ANY_STATUS, Call, Flow, flow, page
from .config import Endpoint
from .executor import NO_RETRY, AsyncExecutor, SyncExecutor

DEFAULT_SCOPE = "openid profile user email"
LEEWAY = timedelta(seconds=60)


class IdTokenError(AuthError):
    """An ID token that must not be trusted (signature, issuer, audience, expiry or nonce)."""

    def __init__(self, description: str) -> None:
        super().__init__(0, "invalid_id_token", description)


# ---------------------------------------------------------------------------- provider presets

@dataclass(frozen=True)
class GbizIdProvider:
    """Where GビズID is (`base` = the host; endpoints live under `{base}/oauth`) and who the RP is."""

    name: str
    base: str
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""
    scope: str = DEFAULT_SCOPE

    @property
    def discovery_url(self) -> str:
        return f"{self.base.rstrip('/')}/oauth/.well-known/openid-configuration"

    def with_credentials(self, client_id: str, client_secret: str, redirect_uri: str = "",
                         scope: str | None = None) -> GbizIdProvider:
        return replace(self, client_id=client_id, client_secret=client_secret,
                       redirect_uri=redirect_uri or self.redirect_uri, scope=scope or self.scope)


PRODUCTION = GbizIdProvider("production", "https://gbiz-id.go.jp")
STAGING = GbizIdProvider("staging", "https://stg.gbiz-id.go.jp")


def simulator(base_url: str = "http://127.0.0.1:8080") -> GbizIdProvider:
    return GbizIdProvider("simulator", f"{base_url.rstrip('/')}/gbizid")


# ---------------------------------------------------------------------------- values

@dataclass(frozen=True)
class GbizIdAuthorization:
    """An authorization request in flight: the URL to open and what the callback is checked against."""

    url: str
    state: str
    nonce: str
    redirect_uri: str
    code_verifier: str | None = None


@dataclass(frozen=True)
class GbizIdTokens:
    access_token: str
    expires_at: datetime
    refresh_token: str = ""
    id_token: str = ""
    id_claims: dict[str, Any] = field(default_factory=dict)  # validated
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def sub(self) -> str:
        return str(self.id_claims.get("sub", ""))


def callback_code(url_or_query: str | Mapping[str, str], authorization: GbizIdAuthorization) -> str:
    """The code from the redirect back (a URL, a query string or parsed parameters), after checking
    `state`; an `error` there raises AuthError with the OP's error and description."""
    if isinstance(url_or_query, str):
        query = urlsplit(url_or_query).query if "://" in url_or_query else url_or_query.lstrip("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
    else:
        params = dict(url_or_query)
    if not secrets.compare_digest(params.get("state", ""), authorization.state):
        raise AuthError(400, "invalid_state", "the state returned by GビズID does not match")
    if "error" in params:
        raise AuthError(400, params["error"], params.get("error_description", ""))
    if not params.get("code"):
        raise AuthError(400, "invalid_response", "the redirect carries no code")
    return params["code"]


def validate_id_token(id_token: str, jwks: Mapping[str, Any], *, issuer: str, client_id: str,
                      nonce: str | None, now: datetime, leeway: timedelta = LEEWAY) -> dict[str, Any]:
    """Check an ID token as OpenID Connect Core §3.1.3.7 asks: RS256 signature by a key of the JWKS,
    iss, aud (and azp when several audiences), exp, iat, and the nonce of the request."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.InvalidTokenError as exc:
        raise IdTokenError(f"not a JWT: {exc}") from exc
    if header.get("alg") != "RS256":
        raise IdTokenError(f"unexpected signing algorithm {header.get('alg')!r}")
    key = _find_key(jwks, header.get("kid"))
    if key is None:
        raise IdTokenError(f"no key {header.get('kid')!r} in the JWKS")
    try:
        claims = jwt.decode(id_token, key, algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "verify_aud": False, "verify_iss": False})
    except jwt.InvalidTokenError as exc:
        raise IdTokenError(f"bad signature: {exc}") from exc
    if claims.get("iss") != issuer:
        raise IdTokenError(f"iss {claims.get('iss')!r} is not {issuer!r}")
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    if client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != client_id):
        raise IdTokenError("the ID token is not meant for this client (aud)")
    stamp = now.timestamp()
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= stamp - leeway.total_seconds():
        raise IdTokenError("the ID token has expired")
    if not isinstance(claims.get("iat"), int) or claims["iat"] > stamp + leeway.total_seconds():
        raise IdTokenError("the ID token was issued in the future (iat)")
    if nonce is not None and not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise IdTokenError("the nonce does not match the authorization request")
    return claims


def _find_key(jwks: Mapping[str, Any], kid: str | None) -> Any:
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"
            and k.get("use", "sig") == "sig"]
    chosen = [k for k in keys if k.get("kid") == kid] if kid else keys[:1]
    if not chosen:
        return None
    return jwt.PyJWK.from_dict(chosen[0], algorithm="RS256").key


# ---------------------------------------------------------------------------- requests, described once

class GbizIdCalls:
    """Builds the OP's requests for one provider registration."""

    def __init__(self, provider: GbizIdProvider, clock: Clock = utc_now) -> None:
        self.provider = provider
        self.clock = clock

    def _basic(self) -> dict[str, str]:
        return {"Authorization": basic_authorization(self.provider.client_id, self.provider.client_secret),
                "Accept": "application/json"}

    @staticmethod
    def _call(method: str, url: str, headers: dict[str, str], form: dict[str, str] | None = None,
              ) -> Call[dict[str, Any]]:
        return Call(method, url, json_object, data=form, headers=headers, bearer=False, ok_status=ANY_STATUS)

    def discovery(self) -> Call[dict[str, Any]]:
        return self._call("GET", self.provider.discovery_url, {"Accept": "application/json"})

    def jwks(self, metadata: Mapping[str, Any]) -> Call[dict[str, Any]]:
        return self._call("GET", str(metadata["jwks_uri"]), {"Accept": "application/json"})

    def exchange_code(self, metadata: Mapping[str, Any], code: str,
                      authorization: GbizIdAuthorization) -> Call[dict[str, Any]]:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": authorization.redirect_uri}
        if authorization.code_verifier:
            form["code_verifier"] = authorization.code_verifier
        return self._call("POST", str(metadata["token_endpoint"]), self._basic(), form)

    def refresh(self, metadata: Mapping[str, Any], refresh_token: str) -> Call[dict[str, Any]]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._call("POST", str(metadata["token_endpoint"]), self._basic(), form)

    def userinfo(self, metadata: Mapping[str, Any], access_token: str) -> Call[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        return self._call("GET", str(metadata["userinfo_endpoint"]), headers)

    def authorization(self, metadata: Mapping[str, Any], scope: str | None = None, *, prompt: str | None = None,
                      login_hint: str | None = None, pkce: bool = True,
                      redirect_uri: str | None = None) -> GbizIdAuthorization:
        redirect = redirect_uri or self.provider.redirect_uri
        if not redirect:
            raise ValueError("a redirect_uri registered for the RP is required")
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        params = {"response_type": "code", "client_id": self.provider.client_id, "redirect_uri": redirect,
                  "scope": scope or self.provider.scope, "state": state, "nonce": nonce}
        verifier = None
        if pkce:
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        if prompt:
            params["prompt"] = prompt
        if login_hint:
            params["login_hint"] = login_hint
        url = f"{metadata['authorization_endpoint']}?{urlencode(params, quote_via=quote)}"
        return GbizIdAuthorization(url, state, nonce, redirect, verifier)

    def tokens(self, body: dict[str, Any], metadata: Mapping[str, Any], jwks: Mapping[str, Any],
               nonce: str | None, previous_refresh: str = "") -> GbizIdTokens:
        """A validated token response (refresh responses may omit the refresh token: keep the old one)."""
        now = self.clock()
        id_token = str(body.get("id_token") or "")
        claims = validate_id_token(id_token, jwks, issuer=str(metadata["issuer"]), client_id=self.provider.client_id,
                                   nonce=nonce, now=now) if id_token else {}
        try:
            access_token, expires_in = str(body["access_token"]), int(body.get("expires_in", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise AuthError(200, "invalid_response", f"not a token response: {exc}") from exc
        return GbizIdTokens(access_token=access_token, expires_at=now + timedelta(seconds=expires_in),
                            refresh_token=str(body.get("refresh_token") or previous_refresh), id_token=id_token,
                            id_claims=claims, raw=dict(body))


def _needs_key_refresh(body: Mapping[str, Any], jwks: Mapping[str, Any]) -> bool:
    """True when the ID token names a kid the cached JWKS lacks (the OP rotated its keys)."""
    token = body.get("id_token")
    if not token:
        return False
    try:
        kid = jwt.get_unverified_header(str(token)).get("kid")
    except jwt.InvalidTokenError:
        return False
    return bool(kid) and not any(k.get("kid") == kid for k in jwks.get("keys", []))


class _GbizIdFlows:
    """The relying party's operations as flows, shared by GbizIdClient and AsyncGbizIdClient (results
    are awaitable in the latter). Discovery and the JWKS are fetched once and cached."""

    calls: GbizIdCalls
    _executor: Any
    _metadata: dict[str, Any] | None = None
    _jwks: dict[str, Any] | None = None

    def _metadata_flow(self) -> Flow[dict[str, Any]]:
        if self._metadata is None:
            self._metadata = yield self.calls.discovery()
        return self._metadata

    def _jwks_flow(self, refresh: bool = False) -> Flow[dict[str, Any]]:
        metadata = yield from self._metadata_flow()
        if self._jwks is None or refresh:
            self._jwks = yield self.calls.jwks(metadata)
        return self._jwks

    def _tokens(self, body: dict[str, Any], nonce: str | None, previous_refresh: str = "") -> Flow[GbizIdTokens]:
        jwks = yield from self._jwks_flow(refresh=_needs_key_refresh(body, (yield from self._jwks_flow())))
        return self.calls.tokens(body, (yield from self._metadata_flow()), jwks, nonce, previous_refresh)

    metadata = flow(_metadata_flow)
    jwks = flow(_jwks_flow)

    @flow
    def authorization(self, scope: str | None = None, **kwargs: Any) -> Flow[GbizIdAuthorization]:
        return self.calls.authorization((yield from self._metadata_flow()), scope, **kwargs)

    def _exchange_flow(self, code: str, authorization: GbizIdAuthorization) -> Flow[GbizIdTokens]:
        body = yield self.calls.exchange_code((yield from self._metadata_flow()), code, authorization)
        return (yield from self._tokens(body, authorization.nonce))

    exchange_code = flow(_exchange_flow)

    @flow
    def callback(self, url_or_query: str | Mapping[str, str], authorization: GbizIdAuthorization) -> Flow[GbizIdTokens]:
        return (yield from self._exchange_flow(callback_code(url_or_query, authorization), authorization))

    @flow
    def refresh(self, refresh_token: str) -> Flow[GbizIdTokens]:
        body = yield self.calls.refresh((yield from self._metadata_flow()), refresh_token)
        return (yield from self._tokens(body, None, refresh_token))

    @flow
    def userinfo(self, access_token: str) -> Flow[dict[str, Any]]:
        return (yield self.calls.userinfo((yield from self._metadata_flow()), access_token))


class GbizIdClient(_GbizIdFlows):
    """A GビズID relying party on a synchronous httpx.Client."""

    def __init__(self, provider: GbizIdProvider, http: httpx.Client | None = None, *, clock: Clock = utc_now) -> None:
        self.calls = GbizIdCalls(provider, clock)
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        self._executor = SyncExecutor(self.http, retry=NO_RETRY, map_errors=False)

    def __enter__(self) -> GbizIdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self.http.close()


class AsyncGbizIdClient(_GbizIdFlows):
    """The same relying party on an httpx.AsyncClient."""

    def __init__(self, provider: GbizIdProvider, http: httpx.AsyncClient | None = None, *,
                 clock: Clock = utc_now) -> None:
        self.calls = GbizIdCalls(provider, clock)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._executor = AsyncExecutor(self.http, retry=NO_RETRY, map_errors=False)

    async def __aenter__(self) -> AsyncGbizIdClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()


# ---------------------------------------------------------------------------- the simulator's login pages

OneTimeCode = Callable[[str], str]  # factor ("sms" | "app") → the 6-digit code


def simulator_one_time_code(http: httpx.Client, simulator_base: str, account_id: str) -> OneTimeCode:
    """Plays the user's phone against the simulator: the latest SMS in `/__admin/outbox`, or what the
    authenticator app shows now (`/__admin/gbizid/accounts/{id}/app/code`). Simulator only."""
    base = simulator_base.rstrip("/")

    def read(factor: str) -> str:
        if factor == "app":
            response = http.get(f"{base}/__admin/gbizid/accounts/{quote(account_id)}/app/code")
            return str(json_object(response)["code"])
        messages = json_object(http.get(f"{base}/__admin/outbox", params={"account": account_id, "limit": 1}))["messages"]
        if not messages:
            raise AuthError(404, "no_sms", f"no SMS for {account_id} in the outbox")
        return str(messages[0]["code"])
    return read


def _otp_form(doc: Any) -> tuple[Any, str] | None:
    for form in doc.forms:
        if "otp" in form.inputs:
            factor = form.inputs["factor"].value if "factor" in form.inputs else "sms"
            return form, factor
    return None


def _drive_gbizid_pages(response: httpx.Response, callback: str | None, final_redirect: str, account_id: str,
                        password: str, one_time_code: OneTimeCode | None) -> Flow[str]:
    """From the OP's login page (or an SSO redirect) to the final redirect: password, then the code."""
    if callback is None:
        doc = _parse_page(response)
        if not response.is_success:
            raise AuthError(response.status_code, "invalid_request", _page_message(doc) or response.reason_phrase)
        action, fields = _login_form(doc, str(response.url), account_id, password)
        response, callback = yield from follow((yield page("POST", urljoin(str(response.url), action), fields)),
                                               final_redirect)
    if callback is None:
        doc = _parse_page(response)
        otp = _otp_form(doc)
        if otp is None:
            raise AuthError(response.status_code, "login_failed", _page_message(doc) or "login failed")
        if one_time_code is None:
            raise AuthError(response.status_code, "second_factor_required", "a one-time code is needed")
        form, factor = otp
        fields = {name: value for name, value in form.form_values() if name}
        fields["otp"] = one_time_code(factor)
        response, callback = yield from follow((yield page("POST", urljoin(str(response.url), form.action), fields)),
                                               final_redirect)
    if callback is None:
        doc = _parse_page(response)
        raise AuthError(response.status_code, "login_failed", _page_message(doc) or "login failed")
    return callback


def _pages(http: httpx.Client) -> SyncExecutor:
    """Page requests as a browser makes them: once each, httpx's own errors."""
    return SyncExecutor(http, retry=NO_RETRY, map_errors=False)


def _gbizid_form_login(authorization: GbizIdAuthorization, account_id: str, password: str,
                       one_time_code: OneTimeCode | None) -> Flow[str]:
    response, callback = yield from follow((yield page("GET", authorization.url)), authorization.redirect_uri)
    return (yield from _drive_gbizid_pages(response, callback, authorization.redirect_uri, account_id, password,
                                           one_time_code))


def login_with_gbizid_form(http: httpx.Client, authorization: GbizIdAuthorization, account_id: str, password: str,
                           one_time_code: OneTimeCode | None = None) -> str:
    """Log in on the simulator's GビズID pages; returns the redirect back to the RP (not fetched)."""
    return _pages(http).run(_gbizid_form_login(authorization, account_id, password, one_time_code))


def _egov_gbizid_login(calls: AuthCalls, account_id: str, password: str, one_time_code: OneTimeCode | None,
                       scope: str | None) -> Flow[TokenSet]:
    endpoint = calls.endpoint
    if not endpoint.redirect_uri:
        raise ValueError("a redirect_uri is required (the one registered for the software)")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    response, callback = yield from follow((yield page("GET", authorization_url(endpoint, state, challenge, scope))),
                                           endpoint.redirect_uri)
    if callback is None:
        doc = _parse_page(response)
        forms = [f for f in doc.forms if "GビズID" in f.text_content()]
        if not response.is_success or not forms:
            raise AuthError(response.status_code, "login_failed",
                            _page_message(doc) or "no 「GビズIDでログイン」 on the login page")
        form = forms[0]
        fields = {name: value for name, value in form.form_values() if name}
        response, callback = yield from follow((yield page("POST", urljoin(str(response.url), form.action), fields)),
                                               endpoint.redirect_uri)
        callback = yield from _drive_gbizid_pages(response, callback, endpoint.redirect_uri, account_id, password,
                                                  one_time_code)
    params = dict(parse_qsl(urlsplit(callback).query, keep_blank_values=True))
    if "error" in params:
        raise AuthError(400, params["error"], params.get("error_description", ""))
    if params.get("state") != state or not params.get("code"):
        raise AuthError(400, "invalid_state", "the e-Gov redirect does not carry this login's state and code")
    return (yield calls.exchange_code(params["code"], verifier, endpoint.redirect_uri))


def login_egov_with_gbizid(endpoint: Endpoint, account_id: str, password: str, *, http: httpx.Client,
                           one_time_code: OneTimeCode | None = None, scope: str | None = None,
                           clock: Clock = utc_now) -> TokenSet:
    """e-Gov login through 「GビズIDでログイン」 on the e-Gov login page (simulator pages), then the
    e-Gov code exchange: the tokens of an e-Gov session whose IdP is GビズID."""
    return _pages(http).run(_egov_gbizid_login(AuthCalls(endpoint, clock), account_id, password, one_time_code,
                                               scope))
