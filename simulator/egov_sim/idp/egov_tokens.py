"""The e-Gov auth server's state and rules (it behaves like Keycloak), without Flask.

Authorization requests, password login, codes, token issue/refresh/introspection/logout and
the bearer check used by the filing API. Every time comes from the virtual clock, so token
`iat`/`exp` are virtual epoch seconds and expiry is rehearsed by moving the clock.

The clock and the signing key are read before a database session is opened, never inside one:
both may use a session of their own (SQLite allows one writer; in memory, one connection).

EgovAuthServer (egov_auth_server.py) is the door to these rules; the filing face calls
`authenticate_bearer` (and the polling fast path `bearer_claims` / `bearer_context`) directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections import namedtuple
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import jwt
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import JST, ClockState
from ..store.models import Account, AuthCode, AuthSession, ClockRow, RefreshToken, Software
from .login_seal import login_claims, opens

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from ..settings import Settings
    from .context import IdpContext
    from .keys import HmacKey, SigningKey

KEY_PURPOSE = "egov-auth"
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)
REFRESH_TOKEN_LIFETIME = timedelta(days=180)  # 15552000 s
CODE_LIFETIME = timedelta(seconds=60)
LOGIN_FORM_LIFETIME = timedelta(minutes=30)  # Keycloak's login timeout
DEFAULT_SCOPE = "openid offline_access"
SUPPORTED_SCOPES = ("openid", "offline_access", "profile", "email")
ISSUER_KIND = "egov"  # AuthCode.issuer / AuthSession.issuer for this server

MSG_BAD_CREDENTIALS = "メールアドレスまたはパスワードが正しくありません。"
MSG_ACCOUNT_DISABLED = "このアカウントは利用できません。管理者にお問い合わせください。"
MSG_LOGIN_EXPIRED = "ログインの有効期限が切れました。最初からやり直してください。"

_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_JWT_OPTIONS = {"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                "verify_iss": False, "verify_sub": False, "verify_jti": False}


# ---------------------------------------------------------------------------- errors

class OAuthError(Exception):
    """An error of the token, introspection or logout endpoint: `{error, error_description}`."""

    def __init__(self, status: int, error: str, error_description: str) -> None:
        super().__init__(f"{error}: {error_description}")
        self.status = status
        self.error = error
        self.error_description = error_description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.error_description}

    def challenge(self, realm: str) -> str | None:
        """The WWW-Authenticate value: a failed client authentication asks for Basic."""
        return f'Basic realm="{realm}"' if self.status == 401 else None


def invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def invalid_client(description: str = "Invalid client or Invalid client credentials") -> OAuthError:
    return OAuthError(401, "invalid_client", description)


class AuthorizationRequestError(Exception):
    """A bad authorization request. `redirect_uri` is None when it must not be redirected
    (unknown client, unregistered redirect_uri): the user then sees an error page."""

    def __init__(self, error: str, description: str, *, redirect_uri: str | None = None,
                 state: str | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.error_description = description
        self.redirect_uri = redirect_uri
        self.state = state

    def redirect_url(self) -> str:
        assert self.redirect_uri is not None
        params = {"error": self.error, "error_description": self.error_description}
        if self.state is not None:
            params["state"] = self.state
        return build_redirect(self.redirect_uri, params)


class LoginError(Exception):
    """A login form submission refused; `message` is shown on the page (Japanese)."""

    def __init__(self, message: str, *, restart: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.restart = restart  # the pending request itself is unusable: start over


class InvalidTokenError(Exception):
    """A bearer token refused by `authenticate_bearer`."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


# ---------------------------------------------------------------------------- time and keys

def issuer_of(settings: Settings) -> str:
    """This server's `iss`: the public URL's /auth (never the request's Host)."""
    return settings.base_url + "/auth"


def epoch(dt: datetime) -> int:
    """Virtual naive-JST datetime → epoch seconds."""
    return int(dt.replace(tzinfo=JST).timestamp())


def from_epoch(seconds: float) -> datetime:
    """Epoch seconds → naive JST datetime."""
    return datetime.fromtimestamp(seconds, JST).replace(tzinfo=None)


_public_keys: dict[str, RSAPublicKey] = {}  # kid → public key (the kid is a hash of the key)


def _verify_key(ctx: IdpContext) -> RSAPublicKey:
    key = ctx.keys.get(KEY_PURPOSE)
    public = _public_keys.get(key.kid)
    if public is None:
        public = _public_keys[key.kid] = key.public_key
    return public


def _signing_key(ctx: IdpContext) -> SigningKey:
    return ctx.keys.get(KEY_PURPOSE)



def _sign_refresh(key: HmacKey, claims: dict[str, Any]) -> str:
    """Refresh tokens are signed as Keycloak signs them: HS512 under the realm's HMAC secret (they
    are only ever read by the server itself; the RSA key signs what clients may verify)."""
    return jwt.encode(claims, key.secret, algorithm="HS512", headers={"kid": key.kid, "typ": "JWT"})


def _decode(ctx: IdpContext, token: str, *, refresh: bool = False) -> dict[str, Any] | None:
    """Claims of a JWT signed by our key (signature only; time rules are checked by callers).
    `refresh`: also accept our HS512 refresh tokens (RS256 ones from before stay valid)."""
    try:
        if refresh and token.startswith(_HS512_HEADER_PREFIX):
            claims = _verify_hs512(token, _hmac_key(ctx).secret)
        else:
            claims = jwt.decode(token, _verify_key(ctx), algorithms=["RS256"], options=_JWT_OPTIONS)
    except (jwt.InvalidTokenError, ValueError):
        return None
    return claims if isinstance(claims, dict) and isinstance(claims.get("exp"), int) else None


# PyJWT writes headers with sorted keys: {"alg":"HS512","kid":...} always starts the same way.
_HS512_HEADER_PREFIX = base64.urlsafe_b64encode(b'{"alg":"HS512",').decode()[:16]


def _b64url(segment: str) -> bytes:
    """Strict base64url (RFC 7515 §2): no characters outside the alphabet, padding optional."""
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)


def _verify_hs512(token: str, secret: bytes) -> Any:
    """Our own HS512 refresh tokens, checked directly: header alg, HMAC-SHA512 over the signing
    input (constant-time compare), then the claims. PyJWT does the same with a per-character
    alphabet scan in Python that costs ~100 µs a token; here it is ~10 µs."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(_b64url(header_b64))
    if not isinstance(header, dict) or header.get("alg") != "HS512":
        raise ValueError("not HS512")
    expected = hmac.new(secret, f"{header_b64}.{payload_b64}".encode("ascii"), hashlib.sha512).digest()
    if not hmac.compare_digest(expected, _b64url(signature_b64)):
        raise ValueError("bad signature")
    return json.loads(_b64url(payload_b64))


def _hmac_key(ctx: IdpContext) -> HmacKey:
    return ctx.keys.hmac(KEY_PURPOSE)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _half_hash(token: str) -> str:
    """OIDC at_hash: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def build_redirect(uri: str, params: Mapping[str, str]) -> str:
    """`uri` with `params` appended to its query (existing parameters kept)."""
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# ---------------------------------------------------------------------------- authorization request

@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None


def _normalise_scope(scope: str) -> str:
    requested = list(dict.fromkeys(scope.split()))
    return " ".join(s for s in requested if s in SUPPORTED_SCOPES)


def validate_authorization_request(ctx: IdpContext, params: Mapping[str, str]) -> AuthorizationRequest:
    """Check `GET /auth/auth` parameters; raise AuthorizationRequestError."""
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    with ctx.db.session() as s:
        software = s.get(Software, client_id) if client_id else None
        registered = list(software.redirect_uris) if software else []
    if software is None:
        raise AuthorizationRequestError("invalid_request", "Client not found.")
    if redirect_uri not in registered:
        raise AuthorizationRequestError("invalid_request", "Invalid parameter: redirect_uri")

    state = params.get("state")

    def refuse(error: str, description: str) -> AuthorizationRequestError:
        return AuthorizationRequestError(error, description, redirect_uri=redirect_uri, state=state)

    response_type = params.get("response_type", "")
    if not response_type:
        raise refuse("invalid_request", "Missing parameter: response_type")
    if response_type != "code":
        raise refuse("unsupported_response_type", "Client is not allowed to initiate browser login "
                     "with given response_type.")
    scope = _normalise_scope(params.get("scope", ""))
    if "openid" not in scope.split():
        raise refuse("invalid_scope", "Invalid scopes: openid is required")
    challenge, method = params.get("code_challenge") or None, params.get("code_challenge_method") or None
    if challenge is None and method is not None:
        raise refuse("invalid_request", "Missing parameter: code_challenge")
    if challenge is not None:
        if method != "S256":  # absent means "plain" (RFC 7636), which e-Gov does not accept
            raise refuse("invalid_request", "Invalid parameter: code_challenge_method")
        if not _PKCE_VALUE.match(challenge):
            raise refuse("invalid_request", "Invalid parameter: code_challenge")
    return AuthorizationRequest(client_id=client_id, redirect_uri=redirect_uri, scope=scope, state=state,
                                nonce=params.get("nonce") or None, code_challenge=challenge,
                                code_challenge_method=method)


def seal_login_request(ctx: IdpContext, request: AuthorizationRequest, binding: str) -> str:
    """The pending request as an opaque signed value for the login form, bound to `binding`
    (a per-browser cookie value) so a form cannot be replayed from another browser."""
    now = ctx.clock.now()
    claims = login_claims("Login", asdict(request), binding, epoch(now), epoch(now + LOGIN_FORM_LIFETIME))
    return _signing_key(ctx).sign(claims)


def open_login_request(ctx: IdpContext, sealed: str, binding: str) -> AuthorizationRequest:
    claims = _decode(ctx, sealed)
    if claims is None or not opens(claims, "Login", binding, epoch(ctx.clock.now())):
        raise LoginError(MSG_LOGIN_EXPIRED, restart=True)
    return AuthorizationRequest(**claims["req"])


# ---------------------------------------------------------------------------- login

@dataclass(frozen=True)
class LoginResult:
    code: str
    session_state: str

    def redirect_url(self, request: AuthorizationRequest) -> str:
        params = {"code": self.code}
        if request.state is not None:
            params["state"] = request.state
        params["session_state"] = self.session_state
        return build_redirect(request.redirect_uri, params)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


def _check_credentials(s: Session, username: str, password: str) -> Account:
    account = s.scalars(select(Account).where(func.lower(Account.username) == username.strip().lower())).first()
    if account is None:
        check_password_hash(_dummy_hash(), password)  # same cost as a real check
        raise LoginError(MSG_BAD_CREDENTIALS)
    if not password or not check_password_hash(account.password_hash, password):
        raise LoginError(MSG_BAD_CREDENTIALS)
    if account.disabled:
        raise LoginError(MSG_ACCOUNT_DISABLED)
    return account


def _new_session(s: Session, account: Account, client_id: str, now: datetime,
                 extidp_auth_time: datetime | None = None) -> AuthSession:
    session = AuthSession(id=str(uuid.uuid4()), issuer=ISSUER_KIND, account_id=account.id, client_id=client_id,
                          auth_time=now, idp=account.idp or "egov",
                          extidp_auth_time=(extidp_auth_time or now) if account.idp == "gbizid" else None)
    s.add(session)
    return session


def login(ctx: IdpContext, request: AuthorizationRequest, username: str, password: str) -> LoginResult:
    """Check the credentials, open a session and issue a single-use code (raises LoginError)."""
    now = ctx.clock.now()
    with ctx.db.session() as s:
        account = _check_credentials(s, username, password)
        if account.idp == "gbizid" and not ctx.settings.egov_form_gbizid_password:
            raise LoginError(MSG_BAD_CREDENTIALS)  # a GビズID-backed account logs in through GビズID
        return _issue_code(s, request, account, now)


def login_federated(ctx: IdpContext, request: AuthorizationRequest, account_id: int,
                    extidp_auth_time: datetime) -> LoginResult:
    """Finish a login brokered by an external IdP (GビズID): session marked with the IdP, code issued."""
    now = ctx.clock.now()
    with ctx.db.session() as s:
        account = s.get(Account, account_id)
        if account is None or account.disabled:
            raise LoginError(MSG_ACCOUNT_DISABLED)
        return _issue_code(s, request, account, now, extidp_auth_time)


def _issue_code(s: Session, request: AuthorizationRequest, account: Account, now: datetime,
                extidp_auth_time: datetime | None = None) -> LoginResult:
    session = _new_session(s, account, request.client_id, now, extidp_auth_time)
    code = AuthCode(code=secrets.token_urlsafe(32), issuer=ISSUER_KIND, client_id=request.client_id,
                    account_id=account.id, session_id=session.id, redirect_uri=request.redirect_uri,
                    scope=request.scope, nonce=request.nonce, code_challenge=request.code_challenge,
                    code_challenge_method=request.code_challenge_method, expires_at=now + CODE_LIFETIME)
    s.add(code)
    return LoginResult(code=code.code, session_state=session.id)


# ---------------------------------------------------------------------------- client authentication

_CLIENT_SECRET = select(Software.client_secret).where(Software.client_id == bindparam("client_id"))


def authenticate_client(ctx: IdpContext, authorization: str | None) -> str:
    """HTTP Basic client authentication (RFC 6749 §2.3.1: both parts form-urlencoded).
    Returns the client_id; raises 401 invalid_client."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise invalid_client("Client authentication with HTTP Basic is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError as exc:
        raise invalid_client("Malformed Basic authorization header") from exc
    raw_id, sep, raw_secret = decoded.partition(":")
    if not sep:
        raise invalid_client("Malformed Basic authorization header")
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    with ctx.db.reads.connection() as conn:  # on every token call: a prepared read
        rows = ctx.db.prepared(_CLIENT_SECRET).rows(conn, {"client_id": client_id})
    expected = rows[0][0] if rows else None
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        raise invalid_client()
    return client_id


# ---------------------------------------------------------------------------- token issue

@dataclass(frozen=True)
class _Grant:
    """Everything needed to mint one token response."""

    session: AuthSession
    account: Account
    client_id: str
    scope: str
    issuer: str
    now: datetime
    nonce: str | None = None


def _identity_claims(grant: _Grant) -> dict[str, Any]:
    account, session = grant.account, grant.session
    claims: dict[str, Any] = {"email_verified": True, "preferred_username": account.username,
                              "email": account.username, "egov_idp": session.idp}
    if session.idp == "gbizid":
        extidp = session.extidp_auth_time or session.auth_time
        claims["egov_extidp_auth_time"] = epoch(extidp) * 1000
        if account.gbizid_account_type:
            claims["egov_gbizid_account_type"] = account.gbizid_account_type
    return claims


def _access_claims(grant: _Grant) -> dict[str, Any]:
    iat = epoch(grant.now)
    return {
        "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "iat": iat,
        "auth_time": epoch(grant.session.auth_time), "jti": str(uuid.uuid4()), "iss": grant.issuer,
        "aud": "account", "sub": grant.account.sub, "typ": "Bearer", "azp": grant.client_id,
        "session_state": grant.session.id, "acr": "1", "scope": grant.scope, "sid": grant.session.id,
        **_identity_claims(grant),
    }


def _refresh_claims(grant: _Grant, jti: str) -> dict[str, Any]:
    iat = epoch(grant.now)
    return {
        "exp": iat + int(REFRESH_TOKEN_LIFETIME.total_seconds()), "iat": iat, "jti": jti,
        "iss": grant.issuer, "aud": grant.issuer, "sub": grant.account.sub, "typ": "Refresh",
        "azp": grant.client_id, "session_state": grant.session.id, "scope": grant.scope,
        "sid": grant.session.id,
    }


def _id_claims(grant: _Grant, access_token: str) -> dict[str, Any]:
    iat = epoch(grant.now)
    claims: dict[str, Any] = {
        "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "iat": iat,
        "auth_time": epoch(grant.session.auth_time), "jti": str(uuid.uuid4()), "iss": grant.issuer,
        "aud": grant.client_id, "sub": grant.account.sub, "typ": "ID", "azp": grant.client_id,
        "session_state": grant.session.id, "at_hash": _half_hash(access_token), "acr": "1",
        "sid": grant.session.id, "email_verified": True, "preferred_username": grant.account.username,
        "email": grant.account.username,
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    return claims


def _issue(key: SigningKey, s: Session, grant: _Grant, hmac_key: HmacKey) -> dict[str, Any]:
    """Mint access, refresh and ID tokens; record the refresh token. Field order: results_token."""
    response, row = _mint(key, hmac_key, grant)
    s.add(RefreshToken(**row))
    return response


def _mint(key: SigningKey, hmac_key: HmacKey, grant: _Grant) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token response and the refresh-token row to record (no database work)."""
    jti = str(uuid.uuid4())
    row = {"jti": jti, "session_id": grant.session.id, "issued_at": grant.now,
           "expires_at": grant.now + REFRESH_TOKEN_LIFETIME}
    access_token = key.sign(_access_claims(grant))
    return {
        "access_token": access_token,
        "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        "refresh_expires_in": int(REFRESH_TOKEN_LIFETIME.total_seconds()),
        "refresh_token": _sign_refresh(hmac_key, _refresh_claims(grant, jti)),
        "token_type": "Bearer",
        "id_token": key.sign(_id_claims(grant, access_token)),
        "not-before-policy": 0,
        "session_state": grant.session.id,
        "scope": grant.scope,
    }, row


def _revoke(s: Session, session_id: str, now: datetime) -> None:
    s.execute(update(AuthSession).where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
              .values(revoked_at=now))


def _active_session(s: Session, session_id: str) -> tuple[AuthSession, Account]:
    session = s.get(AuthSession, session_id)
    if session is None or session.revoked_at is not None or session.issuer != ISSUER_KIND:
        raise invalid_grant("Session not active")
    account = s.get(Account, session.account_id)
    if account is None or account.disabled:
        raise invalid_grant("Account disabled")
    return session, account


def token(ctx: IdpContext, client_id: str, form: Mapping[str, str], issuer: str) -> dict[str, Any]:
    """`POST /auth/token` for an authenticated client."""
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        return exchange_code(ctx, client_id, form, issuer)
    if grant_type == "refresh_token":
        return refresh(ctx, client_id, form.get("refresh_token", ""), issuer)
    if not grant_type:
        raise invalid_request("Missing form parameter: grant_type")
    if grant_type in ("password", "client_credentials"):
        raise OAuthError(400, "unauthorized_client", f"Client not allowed to use grant_type {grant_type}")
    raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")


def _consume_code(ctx: IdpContext, code: str, now: datetime) -> AuthCode:
    """Mark a code used (atomically). A second use revokes its session, as Keycloak does."""
    with ctx.db.session() as s:
        row = s.get(AuthCode, code)
        if row is None or row.issuer != ISSUER_KIND:
            raise invalid_grant("Code not valid")
        consumed = s.execute(update(AuthCode).where(AuthCode.code == code, AuthCode.used.is_(False))
                             .values(used=True)).rowcount == 1
        if not consumed:
            _revoke(s, row.session_id, now)
    if not consumed:
        raise invalid_grant("Code not valid")
    return row


def _check_pkce(row: AuthCode, verifier: str | None) -> None:
    if row.code_challenge is None:
        if verifier:  # PKCE downgrade (RFC 9700 §2.1.1): a verifier for a code issued without a challenge
            raise invalid_grant("PKCE verification failed: no code challenge was sent")
        return
    if not verifier:
        raise invalid_grant("PKCE code verifier not specified")
    if not _PKCE_VALUE.match(verifier):
        raise invalid_grant("PKCE verification failed: Invalid code verifier")
    if not hmac.compare_digest(_s256(verifier), row.code_challenge):
        raise invalid_grant("PKCE verification failed: Code mismatch")


def exchange_code(ctx: IdpContext, client_id: str, form: Mapping[str, str], issuer: str) -> dict[str, Any]:
    code = form.get("code", "")
    if not code:
        raise invalid_request("Missing parameter: code")
    now = ctx.clock.now()
    row = _consume_code(ctx, code, now)
    if row.expires_at <= now or row.client_id != client_id:
        raise invalid_grant("Code not valid")
    if form.get("redirect_uri", "") != row.redirect_uri:
        raise invalid_grant("Incorrect redirect_uri")
    _check_pkce(row, form.get("code_verifier"))
    key, hmac_key = _signing_key(ctx), _hmac_key(ctx)
    with ctx.db.session() as s:
        session, account = _active_session(s, row.session_id)
        grant = _Grant(session=session, account=account, client_id=client_id, scope=row.scope,
                       issuer=issuer, now=now, nonce=row.nonce)
        return _issue(key, s, grant, hmac_key)


def _refresh_claims_of(ctx: IdpContext, refresh_token: str, client_id: str) -> dict[str, Any]:
    claims = _decode(ctx, refresh_token, refresh=True)
    if claims is None or claims.get("typ") != "Refresh":
        raise invalid_grant("Invalid refresh token")
    if claims.get("azp") != client_id:
        raise invalid_grant("Invalid refresh token. Token client and authorized client don't match")
    return claims


def refresh(ctx: IdpContext, client_id: str, refresh_token: str, issuer: str) -> dict[str, Any]:
    """grant_type=refresh_token with rotation: the presented token is used up."""
    if not refresh_token:
        raise invalid_request("Missing parameter: refresh_token")
    claims = _refresh_claims_of(ctx, refresh_token, client_id)
    db = ctx.db
    with db.reads.connection() as conn:  # token row, session, account and clock: one read
        rows = db.prepared(_REFRESH_STATE).rows(conn, {"jti": claims["jti"], "sid": claims["sid"]})
    if not rows:
        raise invalid_grant("Invalid refresh token")  # no clock row means no database at all
    state = _RefreshState._make(rows[0])
    now = ClockState(state.anchor_real, state.anchor_virtual, state.speed, state.frozen).now()
    if claims["exp"] <= epoch(now):
        raise invalid_grant("Token is not active")
    if state.jti is None:
        raise invalid_grant("Invalid refresh token")
    if state.session_id is None or state.revoked_at is not None or state.issuer != ISSUER_KIND:
        raise invalid_grant("Session not active")
    if state.account_id is None or state.disabled:
        raise invalid_grant("Account disabled")
    grant = _Grant(session=_SessionView(state.session_id, state.auth_time, state.idp, state.extidp_auth_time),
                   account=_AccountView(state.sub, state.username, state.gbizid_account_type),
                   client_id=client_id, scope=claims.get("scope", DEFAULT_SCOPE), issuer=issuer, now=now)
    # Sign first, then write: the RSA work stays outside the write transaction (other processes
    # wait on it), which is two statements — use up the presented token, record the new one.
    response, row = _mint(_signing_key(ctx), _hmac_key(ctx), grant)
    with db.engine.begin() as write:
        consumed = write.execute(_CONSUME_REFRESH, {"used_jti": claims["jti"], "used_at": now}).rowcount == 1
        if consumed:
            write.execute(_RECORD_REFRESH, row)
    if not consumed:  # a rotated token presented again: stolen or replayed, end the session (RFC 9700 §4.14.2)
        with db.session() as s:
            _revoke(s, state.session_id, now)
        raise invalid_grant("Maximum allowed refresh token reuse exceeded")
    return response


# The refresh grant's reads and writes, prebuilt: the presented token's row (outer-joined so a
# missing row, session or account is told apart), its session and account, and the clock.
_REFRESH_STATE = (
    select(ClockRow.anchor_real, ClockRow.anchor_virtual, ClockRow.speed, ClockRow.frozen, RefreshToken.jti,
           AuthSession.id.label("session_id"), AuthSession.issuer, AuthSession.revoked_at, AuthSession.auth_time,
           AuthSession.idp, AuthSession.extidp_auth_time, Account.id.label("account_id"), Account.disabled,
           Account.sub, Account.username, Account.gbizid_account_type)
    .select_from(ClockRow)
    .outerjoin(RefreshToken, RefreshToken.jti == bindparam("jti"))
    .outerjoin(AuthSession, AuthSession.id == bindparam("sid"))
    .outerjoin(Account, Account.id == AuthSession.account_id)
    .where(ClockRow.id == 1)
)
_RefreshState = namedtuple("_RefreshState", [c.key for c in _REFRESH_STATE.selected_columns])  # type: ignore[misc]
_SessionView = namedtuple("_SessionView", "id auth_time idp extidp_auth_time")
_AccountView = namedtuple("_AccountView", "sub username gbizid_account_type")
_CONSUME_REFRESH = (update(RefreshToken)
                    .where(RefreshToken.jti == bindparam("used_jti"), RefreshToken.used_at.is_(None))
                    .values(used_at=bindparam("used_at")))
_RECORD_REFRESH = RefreshToken.__table__.insert()


def issue_tokens_for(ctx: IdpContext, account_id: int, client_id: str, issuer: str) -> dict[str, Any]:
    """Mint a token pair without the browser flow (CLI `egov-sim token`, load tests): opens a
    session as a login would and returns the results_token dict."""
    now, key, hmac_key = ctx.clock.now(), _signing_key(ctx), _hmac_key(ctx)
    with ctx.db.session() as s:
        if s.get(Software, client_id) is None:
            raise invalid_request(f"Unknown client: {client_id}")
        account = s.get(Account, account_id)
        if account is None or account.disabled:
            raise invalid_grant("Account disabled" if account else f"Unknown account: {account_id}")
        session = _new_session(s, account, client_id, now)
        s.flush()
        grant = _Grant(session=session, account=account, client_id=client_id, scope=DEFAULT_SCOPE,
                       issuer=issuer, now=now)
        return _issue(key, s, grant, hmac_key)


# ---------------------------------------------------------------------------- logout

def logout(ctx: IdpContext, client_id: str, refresh_token: str) -> None:
    """Revoke the refresh token's session and with it every token of the session. Idempotent
    for a valid token of this client (an expired or already logged-out one is accepted)."""
    if not refresh_token:
        raise invalid_request("Missing parameter: refresh_token")
    claims = _refresh_claims_of(ctx, refresh_token, client_id)
    now = ctx.clock.now()
    with ctx.db.session() as s:
        _revoke(s, claims["sid"], now)


# ---------------------------------------------------------------------------- reading sessions

def _session_snapshot(s: Session, session_id: str) -> tuple[AuthSession, Account, datetime] | None:
    """Session, account and the virtual now in one indexed read (the clock is a single row)."""
    row = s.execute(
        select(AuthSession, Account, ClockRow)
        .join(Account, Account.id == AuthSession.account_id)
        .join(ClockRow, ClockRow.id == 1)
        .where(AuthSession.id == session_id)
    ).first()
    if row is None:
        return None
    session, account, clock = row
    now = ClockState(clock.anchor_real, clock.anchor_virtual, clock.speed, clock.frozen).now()
    return session, account, now


_INACTIVE: dict[str, Any] = {"active": False}


def introspect(ctx: IdpContext, token_value: str, token_type_hint: str | None = None) -> dict[str, Any]:
    """RFC 7662 introspection with e-Gov's extra fields; `{"active": false}` for anything unusable.
    The hint is advisory only: the token's own `typ` decides."""
    claims = _decode(ctx, token_value, refresh=True) if token_value else None
    if claims is None or claims.get("typ") not in ("Bearer", "Refresh") or not claims.get("sid"):
        return dict(_INACTIVE)
    with ctx.db.session() as s:
        snapshot = _session_snapshot(s, claims["sid"])
        if snapshot is None:
            return dict(_INACTIVE)
        session, account, now = snapshot
        refresh_row = s.get(RefreshToken, claims["jti"]) if claims["typ"] == "Refresh" else None
    if (claims["exp"] <= epoch(now) or session.revoked_at is not None or account.disabled
            or session.issuer != ISSUER_KIND):
        return dict(_INACTIVE)
    if claims["typ"] == "Refresh":
        if refresh_row is None or refresh_row.used_at is not None:
            return dict(_INACTIVE)
        return _introspection_body(claims, account, access=False)
    return _introspection_body(claims, account, access=True)


_ACCESS_ONLY = ("auth_time", "email", "email_verified", "acr", "egov_idp", "egov_extidp_auth_time",
                "egov_gbizid_account_type")
_INTROSPECTION_FIELDS = ("exp", "iat", "auth_time", "jti", "iss", "aud", "sub", "typ", "azp", "session_state",
                         "email", "email_verified", "acr", "scope", "sid", "egov_idp", "egov_extidp_auth_time",
                         "egov_gbizid_account_type")


def _introspection_body(claims: dict[str, Any], account: Account, *, access: bool) -> dict[str, Any]:
    """The results_introspect fields in the spec's order (refresh tokens omit the access-only ones)."""
    body = {name: claims[name] for name in _INTROSPECTION_FIELDS
            if name in claims and (access or name not in _ACCESS_ONLY)}
    body.update(client_id=claims["azp"], username=account.username, active=True)
    return body


# ---------------------------------------------------------------------------- the bearer check

@dataclass(frozen=True)
class AccessContext:
    """Who is calling the API, from a verified access token."""

    account_id: int
    sub: str
    username: str
    session_id: str
    client_id: str
    idp: str
    gbizid_account_type: str | None
    issued_at: datetime  # naive JST (virtual)
    now: datetime | None = None  # the virtual clock read with the session (one instant per request)


# The bearer check runs on every API call: claims of verified access tokens are remembered per
# (key, token) — a signature never changes its verdict — and the live state (session, account,
# clock) is read with one prebuilt Core statement, so revocation and clock moves in any process
# take effect at once.
_BEARER_CACHE_SIZE = 4096
_bearer_claims: dict[tuple[str, str], dict[str, Any]] = {}

BEARER_COLUMNS = (AuthSession.id, AuthSession.issuer, AuthSession.revoked_at, AuthSession.idp,
                  Account.id.label("account_id"), Account.sub, Account.username, Account.disabled,
                  Account.gbizid_account_type, ClockRow.anchor_real, ClockRow.anchor_virtual, ClockRow.speed,
                  ClockRow.frozen)  # what bearer_context needs: session, account, clock
_BEARER_STATE = (
    select(*BEARER_COLUMNS)
    .join(Account, Account.id == AuthSession.account_id)
    .join(ClockRow, ClockRow.id == 1)
    .where(AuthSession.id == bindparam("sid"))
)
_BearerRow = namedtuple("_BearerRow", [c.key for c in BEARER_COLUMNS])  # type: ignore[misc]


def _bearer_claims_of(ctx: IdpContext, token_value: str) -> dict[str, Any] | None:
    kid = _signing_key(ctx).kid
    claims = _bearer_claims.get((kid, token_value))
    if claims is None:
        claims = _decode(ctx, token_value)
        if claims is None or claims.get("typ") != "Bearer" or not claims.get("sid"):
            return None
        if len(_bearer_claims) >= _BEARER_CACHE_SIZE:
            _bearer_claims.pop(next(iter(_bearer_claims)))  # oldest first (dicts keep insertion order)
        _bearer_claims[(kid, token_value)] = claims
    return claims


def authenticate_bearer(ctx: IdpContext, token_value: str, *, issuer: str | None = None) -> AccessContext:
    """Verify an access token for an API call: RS256 signature with our key, `typ` Bearer, issuer
    (this server's unless given), expiry on the virtual clock, live session, enabled account. One indexed read."""
    claims = bearer_claims(ctx, token_value, issuer=issuer)
    db = ctx.db
    with db.reads.connection() as conn:  # a prepared read (store/prepared.py)
        rows = db.prepared(_BEARER_STATE).rows(conn, {"sid": claims["sid"]})
    return bearer_context(claims, _BearerRow._make(rows[0]) if rows else None)


def bearer_claims(ctx: IdpContext, token_value: str, *, issuer: str | None = None) -> dict[str, Any]:
    """The verified claims of an access token (cached), before the live state is checked."""
    claims = _bearer_claims_of(ctx, token_value) if token_value else None
    if claims is None:
        raise InvalidTokenError("Invalid token")
    if claims.get("iss") != (issuer or issuer_of(ctx.settings)):
        raise InvalidTokenError("Invalid token issuer")
    if claims.get("aud") != "account":  # e-Gov's access tokens are for the API ("account"), nothing else
        raise InvalidTokenError("Invalid token audience")
    return claims


def bearer_context(claims: dict[str, Any], row: Any) -> AccessContext:
    """The bearer rules on the live state read for the token's session (`_BEARER_STATE`'s columns;
    None when the session does not exist): expiry on the virtual clock, live session, enabled account."""
    if row is None:
        raise InvalidTokenError("Token is not active")
    now = ClockState(row.anchor_real, row.anchor_virtual, row.speed, row.frozen).now()
    if claims["exp"] <= epoch(now):
        raise InvalidTokenError("Token expired")
    if isinstance(claims.get("nbf"), int | float) and claims["nbf"] > epoch(now):
        raise InvalidTokenError("Token not yet valid")
    if row.revoked_at is not None or row.issuer != ISSUER_KIND:
        raise InvalidTokenError("Session not active")
    if row.sub != claims.get("sub"):
        raise InvalidTokenError("Invalid token")
    if row.disabled:
        raise InvalidTokenError("Account disabled")
    return AccessContext(account_id=row.account_id, sub=row.sub, username=row.username,
                         session_id=row.id, client_id=str(claims.get("azp", "")), idp=row.idp,
                         gbizid_account_type=row.gbizid_account_type,
                         issued_at=from_epoch(claims.get("iat", 0)), now=now)
