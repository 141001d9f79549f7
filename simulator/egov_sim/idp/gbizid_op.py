"""The GビズID OpenID provider's protocol rules, without Flask.

Authorization code flow only (PKCE optional, S256 only), two-factor login (SMS one-time code put in
the outbox, or an authenticator app) after ID + password for prime and member accounts, codes of 22
alphanumerics valid 5 minutes and single use, `client_secret_basic`, RS256 ID and access tokens
(both JWTs) of 3600 s, refresh tokens only with offline_access, UserInfo per scope. Where the real
behaviour is uncertain the settings decide (issuer slash, refresh format/rotation, omitted scope).
Every time comes from the virtual clock; the clock and the key are read before a session is opened.
GbizIdProvider (gbizid_provider.py) is the door to these rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import jwt
import pyotp
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import parse_duration, real_now_jst
from ..store.kv import count_up
from ..store.models import (
    GbizAccount,
    GbizCode,
    GbizGrant,
    GbizRelyingParty,
    GbizSecondFactorLock,
    GbizSession,
    GbizSmsMessage,
    GbizToken,
)
from .egov_tokens import AuthorizationRequestError, LoginError, OAuthError, build_redirect, epoch, from_epoch
from .gbizid_accounts import APPROVAL_SCOPES, ENTRY, standing
from .gbizid_claims import userinfo_claims
from .login_seal import login_claims, opens

if TYPE_CHECKING:
    from ..settings import Settings
    from .context import IdpContext
    from .keys import SigningKey

KEY_PURPOSE = "gbizid"
PATH = "/gbizid/oauth"
CODE_LIFETIME = timedelta(minutes=5)
ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)
OTP_LIFETIME = timedelta(minutes=5)
LOGIN_FORM_LIFETIME = timedelta(minutes=30)
MAX_OTP_ATTEMPTS = 5
BASE_SCOPES = ("openid", "profile", "user", "mandate", "email", "offline_access")
SUPPORTED_SCOPES = (*BASE_SCOPES, *APPROVAL_SCOPES)
CODE_ALPHABET = string.ascii_letters + string.digits

MSG_BAD_CREDENTIALS = "アカウントIDまたはパスワードが正しくありません。"
MSG_BAD_OTP = "ワンタイムパスワードが正しくありません。"
MSG_OTP_EXPIRED = "ワンタイムパスワードの有効期限が切れました。再送信してください。"
MSG_OTP_LOCKED = "ワンタイムパスワードの入力回数が上限を超えました。最初からログインしてください。"
MSG_LOGIN_EXPIRED = "ログインの有効期限が切れました。最初からやり直してください。"

_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


# ---------------------------------------------------------------------------- URLs

def op_base(settings: Settings, host_url: str = "") -> str:
    """`{simulator}/gbizid/oauth` — where the endpoints live (the public URL's; `host_url` is not used)."""
    return settings.base_url + PATH


def issuer(settings: Settings, host_url: str = "") -> str:
    """The `iss` value: the OP base, with a trailing slash unless configured otherwise (uncertain)."""
    return op_base(settings, host_url) + ("/" if settings.gbizid_issuer_trailing_slash else "")


def origin(settings: Settings, host_url: str = "") -> str:
    return settings.base_url


def discovery(settings: Settings, host_url: str) -> dict[str, Any]:
    base = op_base(settings, host_url)
    return {
        "issuer": issuer(settings, host_url),
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "jti", "account_type",
                             "corp_type", "parent_id", "corporate_number", "name", "email", "verified_claims",
                             "role", "delegation_info", "mandate_info"],
    }


# ---------------------------------------------------------------------------- keys and small helpers

def _key(ctx: IdpContext) -> SigningKey:
    return ctx.keys.get(KEY_PURPOSE)



def _verify(key: SigningKey, token: str) -> dict[str, Any] | None:
    try:
        claims = jwt.decode(token, key.public_key, algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "verify_aud": False, "verify_iss": False})
    except (jwt.InvalidTokenError, ValueError):
        return None
    return claims if isinstance(claims.get("exp"), int) else None


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


def registered_redirect(rp: GbizRelyingParty, redirect_uri: str, site: str) -> bool:
    """Exact match; a registered "/path" stands for the simulator's own origin + path."""
    return any(redirect_uri == (site + uri if uri.startswith("/") else uri) for uri in rp.redirect_uris)


# ---------------------------------------------------------------------------- authorization request

@dataclass(frozen=True)
class GbizAuthRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    prompt: str | None = None
    login_hint: str | None = None

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


def validate_authorization_request(ctx: IdpContext, params: Mapping[str, str], site: str) -> GbizAuthRequest:
    """Check `GET /authorize`. Unknown client / unregistered redirect_uri: error page (no redirect);
    everything else is redirected back with error, error_description and state."""
    client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
    with ctx.db.session() as s:
        rp = s.get(GbizRelyingParty, client_id) if client_id else None
        approved = set(rp.approved_scopes) if rp else set()
        registered = rp is not None and bool(redirect_uri) and registered_redirect(rp, redirect_uri, site)
    if rp is None:
        raise AuthorizationRequestError("invalid_request", "client_id が正しくありません (unknown client)")
    if not registered:
        raise AuthorizationRequestError("invalid_request", "redirect_uri が登録されたものと一致しません")
    state = params.get("state")

    def refuse(error: str, description: str) -> AuthorizationRequestError:
        return AuthorizationRequestError(error, description, redirect_uri=redirect_uri, state=state)

    response_type = params.get("response_type", "")
    if not response_type:
        raise refuse("invalid_request", "response_type is required")
    if response_type != "code":
        raise refuse("unsupported_response_type", "only response_type=code is supported")
    raw_scope = params.get("scope", "").split()
    if not raw_scope:
        if ctx.settings.gbizid_omitted_scope != "all":
            raise refuse("invalid_scope", "scope is required")
        raw_scope = [*BASE_SCOPES, *(s for s in APPROVAL_SCOPES if s in approved)]
    requested = list(dict.fromkeys(raw_scope))
    unknown = [s for s in requested if s not in SUPPORTED_SCOPES]
    if unknown:
        raise refuse("invalid_scope", f"unknown scope: {' '.join(unknown)}")
    unapproved = [s for s in requested if s in APPROVAL_SCOPES and s not in approved]
    if unapproved:
        raise refuse("invalid_scope", f"scope not approved for this client: {' '.join(unapproved)}")
    challenge, method = params.get("code_challenge") or None, params.get("code_challenge_method") or None
    if method is not None and method != "S256":
        raise refuse("invalid_request", "code_challenge_method must be S256")
    if (challenge is None) != (method is None):
        raise refuse("invalid_request", "code_challenge and code_challenge_method=S256 go together")
    if challenge is not None and not _PKCE_VALUE.match(challenge):
        raise refuse("invalid_request", "code_challenge is malformed")
    prompt = params.get("prompt") or None
    if prompt is not None and not set(prompt.split()) <= {"login", "none", "consent", "select_account"}:
        raise refuse("invalid_request", "unsupported prompt value")
    if prompt is not None and "none" in prompt.split() and len(prompt.split()) > 1:
        raise refuse("invalid_request", "prompt=none cannot be combined with other values")
    return GbizAuthRequest(client_id=client_id, redirect_uri=redirect_uri, scope=" ".join(requested), state=state,
                           nonce=params.get("nonce") or None, code_challenge=challenge, prompt=prompt,
                           login_hint=params.get("login_hint") or None)


def redirect_error(request: GbizAuthRequest, error: str, description: str) -> str:
    return AuthorizationRequestError(error, description, redirect_uri=request.redirect_uri,
                                     state=request.state).redirect_url()


# ---------------------------------------------------------------------------- the login form state

def seal(ctx: IdpContext, request: GbizAuthRequest, binding: str, **extra: Any) -> str:
    """The pending login (request + progress) as a signed value bound to the browser's cookie."""
    now = ctx.clock.now()
    claims = login_claims("GbizLogin", asdict(request), binding, epoch(now), epoch(now + LOGIN_FORM_LIFETIME),
                          **extra)
    return _key(ctx).sign(claims)


def unseal(ctx: IdpContext, sealed: str, binding: str) -> tuple[GbizAuthRequest, dict[str, Any]]:
    claims = _verify(_key(ctx), sealed) if sealed else None
    if claims is None or not opens(claims, "GbizLogin", binding, epoch(ctx.clock.now())):
        raise LoginError(MSG_LOGIN_EXPIRED, restart=True)
    return GbizAuthRequest(**claims["req"]), claims


# ---------------------------------------------------------------------------- login: password, then a second factor

@dataclass(frozen=True)
class PasswordChecked:
    account_ref: int
    account_id: str
    second_factor: str  # none (entry) | sms | app


def check_password(ctx: IdpContext, account_id: str, password: str) -> PasswordChecked:
    now = ctx.clock.now()
    with ctx.db.session() as s:
        account = s.scalars(select(GbizAccount).where(
            GbizAccount.account_id == account_id.strip().lower())).first()
        if account is None:
            check_password_hash(_dummy_hash(), password)
            raise LoginError(MSG_BAD_CREDENTIALS)
        if not password or not check_password_hash(account.password_hash, password):
            raise LoginError(MSG_BAD_CREDENTIALS)
        state = standing(s, account, now)
        if not state.usable:
            raise LoginError(state.reason)
        factor = "none" if account.account_type == ENTRY else ("app" if account.totp_secret else "sms")
        return PasswordChecked(account.id, account.account_id, factor)


def mask_number(number: str) -> str:
    return f"{number[:3]}-****-{number[-4:]}" if len(number) >= 7 else "****"


def send_sms_code(ctx: IdpContext, account_ref: int) -> tuple[int, str]:
    """"Send" a 6-digit code by SMS: it goes to the outbox. Returns (message id, masked number)."""
    now = ctx.clock.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    with ctx.db.session() as s:
        account = s.get(GbizAccount, account_ref)
        assert account is not None
        text = (f"【GビズID】認証コード: {code}\nこのコードを画面に入力してください。"
                f"有効期限は{int(OTP_LIFETIME.total_seconds() // 60)}分です。")
        message = GbizSmsMessage(account_ref=account_ref, to=account.sms_number, text=text, code=code, sent_at=now,
                                 expires_at=now + OTP_LIFETIME)
        s.add(message)
        s.flush()
        return message.id, mask_number(account.sms_number)


def verify_sms_code(ctx: IdpContext, account_ref: int, message_id: int, code: str) -> None:
    now = ctx.clock.now()
    with ctx.db.session() as s:
        message = s.get(GbizSmsMessage, message_id)
        if message is None or message.account_ref != account_ref or message.used_at is not None:
            raise LoginError(MSG_LOGIN_EXPIRED, restart=True)
        _refuse_if_locked(s, account_ref, now)
        sms = GbizSmsMessage.__table__
        # the attempt is taken before the code is compared, in one statement: codes sent in parallel
        # are each counted, so no more than MAX_OTP_ATTEMPTS are ever compared
        attempt = s.execute(update(sms).where(sms.c.id == message_id).values(attempts=sms.c.attempts + 1)
                            .returning(sms.c.attempts)).scalar_one()
        if attempt > MAX_OTP_ATTEMPTS:
            raise LoginError(MSG_OTP_LOCKED, restart=True)
        if message.expires_at <= now:
            raise LoginError(MSG_OTP_EXPIRED)
        if not hmac.compare_digest(message.code, code.strip()):
            error: LoginError | None = _wrong_code(ctx, s, account_ref, now)
        elif s.execute(update(sms).where(sms.c.id == message_id, sms.c.used_at.is_(None))
                       .values(used_at=now)).rowcount != 1:  # the same code used by a login in parallel
            raise LoginError(MSG_LOGIN_EXPIRED, restart=True)
        else:
            _right_code(s, account_ref)
            error = None
    if error is not None:
        raise error


def _refuse_if_locked(s: Any, account_ref: int, now: datetime) -> None:
    lock = s.get(GbizSecondFactorLock, account_ref)
    if lock is not None and lock.locked_until is not None and lock.locked_until > now:
        raise LoginError(MSG_OTP_LOCKED, restart=True)


def _wrong_code(ctx: IdpContext, s: Any, account_ref: int, now: datetime) -> LoginError:
    """Count a wrong code (any factor); the MAX_OTP_ATTEMPTS-th in a row locks the second factor for
    settings.gbizid_otp_lockout and the login starts over."""
    locks = GbizSecondFactorLock.__table__
    failures = count_up(s, locks, {"account_ref": account_ref}, "failures")  # wrong codes sent at once each count
    if failures < MAX_OTP_ATTEMPTS:
        return LoginError(MSG_BAD_OTP)
    s.execute(update(locks).where(locks.c.account_ref == account_ref).values(
        failures=0, locked_until=now + parse_duration(ctx.settings.gbizid_otp_lockout)))
    return LoginError(MSG_OTP_LOCKED, restart=True)


def _right_code(s: Any, account_ref: int) -> None:
    lock = s.get(GbizSecondFactorLock, account_ref)
    if lock is not None:
        s.delete(lock)


def _totp_step(totp: pyotp.TOTP, code: str, when: datetime) -> int | None:
    """The time step `code` is valid for around `when` (±1 step), or None."""
    for offset in (0, -1, 1):
        moment = when + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment.timestamp()), code):
            return totp.timecode(moment)
    return None


def verify_app_code(ctx: IdpContext, account_ref: int, code: str) -> None:
    """An authenticator-app TOTP (RFC 6238, 30 s, 6 digits) for the virtual clock (and for real time when
    the settings say so: the phone lives in real time); a code is accepted once."""
    now = ctx.clock.now()
    code = code.strip()
    with ctx.db.session() as s:
        account = s.get(GbizAccount, account_ref)
        if account is None or not account.totp_secret:
            raise LoginError(MSG_LOGIN_EXPIRED, restart=True)
        _refuse_if_locked(s, account_ref, now)
        totp = pyotp.TOTP(account.totp_secret)
        step = _totp_step(totp, code, _as_local(now)) if re.fullmatch(r"\d{6}", code) else None
        if step is None and ctx.settings.gbizid_totp_real_time:
            step = _totp_step(totp, code, _as_local(real_now_jst()))
        accounts = GbizAccount.__table__
        if step is None or s.execute(  # a code is used once, also by two logins in parallel
                update(accounts).where(accounts.c.id == account_ref, or_(accounts.c.totp_last_step.is_(None),
                                                                         accounts.c.totp_last_step < step))
                .values(totp_last_step=step)).rowcount != 1:
            error: LoginError | None = _wrong_code(ctx, s, account_ref, now)
        else:
            _right_code(s, account_ref)
            error = None
    if error is not None:
        raise error


def _as_local(jst_naive: datetime) -> datetime:
    """A naive JST datetime as an aware one (pyotp turns datetimes into epoch seconds)."""
    from ..clock import JST

    return jst_naive.replace(tzinfo=JST)


def totp_now(secret: str, when: datetime, last_step: int | None = None) -> tuple[str, int]:
    """What an authenticator shows at a virtual time — or, when that code was already used, the next
    step's (still accepted, one step ahead). Returns (code, seconds it stays usable); raises
    ValueError when both are used up (wait for the next step)."""
    totp = pyotp.TOTP(secret)
    moment = _as_local(when)
    step = totp.timecode(moment)
    if last_step is not None and last_step >= step:
        step = last_step + 1
    if step > totp.timecode(moment) + 1:
        raise ValueError("both usable codes were used; wait for the next one")
    remaining = (step + 1) * totp.interval - int(moment.timestamp())
    return totp.generate_otp(step), max(1, remaining)


def start_session(ctx: IdpContext, account_ref: int, amr: str) -> tuple[str, datetime]:
    now = ctx.clock.now()
    lifetime = parse_duration(ctx.settings.gbizid_session_lifetime)
    with ctx.db.session() as s:
        session = GbizSession(id=secrets.token_urlsafe(24), account_ref=account_ref, auth_time=now,
                              expires_at=now + lifetime, amr=amr)
        s.add(session)
        return session.id, now


def session_login(ctx: IdpContext, session_id: str) -> tuple[int, datetime] | None:
    """(account, auth_time) of a live OP session whose account may still log in."""
    if not session_id:
        return None
    now = ctx.clock.now()
    with ctx.db.session() as s:
        session = s.get(GbizSession, session_id)
        if session is None or session.expires_at <= now:
            return None
        account = s.get(GbizAccount, session.account_ref)
        if account is None or not standing(s, account, now).usable:
            return None
        return session.account_ref, session.auth_time


def issue_code(ctx: IdpContext, request: GbizAuthRequest, account_ref: int, auth_time: datetime) -> str:
    """A single-use code (22 alphanumerics, 5 minutes) and the redirect URL carrying it."""
    now = ctx.clock.now()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(22))
    with ctx.db.session() as s:
        s.add(GbizCode(code=code, client_id=request.client_id, account_ref=account_ref,
                       redirect_uri=request.redirect_uri, scope=request.scope, nonce=request.nonce,
                       code_challenge=request.code_challenge, auth_time=auth_time, expires_at=now + CODE_LIFETIME))
    params = {"code": code}
    if request.state is not None:
        params["state"] = request.state
    return build_redirect(request.redirect_uri, params)


# ---------------------------------------------------------------------------- token endpoint

def unauthorized(description: str) -> OAuthError:
    return OAuthError(401, "unauthorized", description)


def authenticate_client(ctx: IdpContext, authorization: str | None) -> str:
    """client_secret_basic only; anything else is 401 `unauthorized` (GビズID's word, not invalid_client)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise unauthorized("client authentication (client_secret_basic) is required")
    try:
        raw_id, sep, raw_secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError as exc:
        raise unauthorized("malformed Basic authorization header") from exc
    if not sep:
        raise unauthorized("malformed Basic authorization header")
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    with ctx.db.session() as s:
        rp = s.get(GbizRelyingParty, client_id)
        expected = rp.client_secret if rp else None
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        raise unauthorized("client authentication failed")
    return client_id


def invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def token(ctx: IdpContext, client_id: str, form: Mapping[str, str], iss: str) -> dict[str, Any]:
    grant_type = form.get("grant_type", "")
    if not grant_type:
        raise invalid_request("grant_type is required")
    if grant_type == "authorization_code":
        return exchange_code(ctx, client_id, form, iss)
    if grant_type == "refresh_token":
        return refresh(ctx, client_id, form, iss)
    raise OAuthError(400, "unsupported_grant_type", f"unsupported grant_type: {grant_type}")


def _id_token(key: SigningKey, iss: str, client_id: str, sub: str, auth_time: datetime, now: datetime,
              nonce: str | None) -> str:
    iat = epoch(now)
    claims: dict[str, Any] = {"sub": sub, "aud": client_id, "iss": iss,
                              "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "iat": iat,
                              "auth_time": epoch(auth_time)}
    if nonce:
        claims["nonce"] = nonce
    claims["jti"] = str(uuid.uuid4())
    return key.sign(claims)


def _refresh_value(settings: Settings, jti: str, expires_at: datetime) -> str:
    if settings.gbizid_refresh_format == "opaque":
        return jti
    return jwt.encode({"exp": epoch(expires_at), "jti": jti}, None, algorithm="none")


def _refresh_jti(settings: Settings, value: str) -> str | None:
    if settings.gbizid_refresh_format == "opaque":
        return value or None
    try:
        if jwt.get_unverified_header(value).get("alg") != "none":
            return None
        jti = jwt.decode(value, options={"verify_signature": False}).get("jti")
    except (jwt.InvalidTokenError, ValueError):
        return None
    return jti if isinstance(jti, str) else None


def _mint(ctx: IdpContext, key: SigningKey, s: Any, grant: GbizGrant, sub: str, iss: str, now: datetime,
          nonce: str | None, *, with_refresh: bool) -> dict[str, Any]:
    access_jti = str(uuid.uuid4())
    iat = epoch(now)
    access = key.sign({"sub": sub, "azp": grant.client_id, "iss": iss,
                         "exp": iat + int(ACCESS_TOKEN_LIFETIME.total_seconds()), "iat": iat, "jti": access_jti})
    s.add(GbizToken(jti=access_jti, grant_id=grant.id, kind="access", issued_at=now,
                    expires_at=now + ACCESS_TOKEN_LIFETIME))
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds())}
    scopes = set(grant.scope.split())
    if with_refresh and "offline_access" in scopes:
        refresh_jti = secrets.token_urlsafe(32)
        expires = now + parse_duration(ctx.settings.gbizid_refresh_lifetime)
        s.add(GbizToken(jti=refresh_jti, grant_id=grant.id, kind="refresh", issued_at=now, expires_at=expires))
        body["refresh_token"] = _refresh_value(ctx.settings, refresh_jti, expires)
    if "openid" in scopes:
        body["id_token"] = _id_token(key, iss, grant.client_id, sub, grant.auth_time, now, nonce)
    return body


def exchange_code(ctx: IdpContext, client_id: str, form: Mapping[str, str], iss: str) -> dict[str, Any]:
    code = form.get("code", "")
    if not code:
        raise invalid_request("code is required")
    now, key = ctx.clock.now(), _key(ctx)
    with ctx.db.session() as s:
        row = s.get(GbizCode, code)
        if row is None:
            raise invalid_grant("invalid authorization code")
        if row.used_at is not None:  # replay: the code is dead and so is everything issued from it
            if row.grant_id:
                s.execute(update(GbizGrant).where(GbizGrant.id == row.grant_id, GbizGrant.revoked_at.is_(None))
                          .values(revoked_at=now))
            error: OAuthError | None = invalid_grant("authorization code already used")
        else:
            consumed = s.execute(update(GbizCode).where(GbizCode.code == code, GbizCode.used_at.is_(None))
                                 .values(used_at=now)).rowcount == 1
            error = None if consumed else invalid_grant("authorization code already used")
    if error is not None:
        raise error
    if row.expires_at <= now:
        raise invalid_grant("authorization code expired")
    if row.client_id != client_id:
        raise invalid_grant("authorization code was issued to another client")
    if form.get("redirect_uri", "") != row.redirect_uri:
        raise invalid_grant("redirect_uri does not match the authorization request")
    if row.code_challenge is None and form.get("code_verifier"):  # PKCE downgrade (RFC 9700 §2.1.1)
        raise invalid_grant("code_verifier sent for a code issued without a code_challenge")
    if row.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        if not verifier:
            raise invalid_grant("code_verifier is required")
        if not _PKCE_VALUE.match(verifier) or not hmac.compare_digest(_s256(verifier), row.code_challenge):
            raise invalid_grant("code_verifier does not match the code_challenge")
    with ctx.db.session() as s:
        account = s.get(GbizAccount, row.account_ref)
        if account is None or not standing(s, account, now).usable:
            raise invalid_grant("the account cannot log in")
        grant = GbizGrant(id=str(uuid.uuid4()), account_ref=account.id, client_id=client_id, scope=row.scope,
                          auth_time=row.auth_time, created_at=now)
        s.add(grant)
        s.execute(update(GbizCode).where(GbizCode.code == code).values(grant_id=grant.id))
        s.flush()
        return _mint(ctx, key, s, grant, account.sub, iss, now, row.nonce, with_refresh=True)


def refresh(ctx: IdpContext, client_id: str, form: Mapping[str, str], iss: str) -> dict[str, Any]:
    value = form.get("refresh_token", "")
    if not value:
        raise invalid_request("refresh_token is required")
    jti = _refresh_jti(ctx.settings, value)
    now, key = ctx.clock.now(), _key(ctx)
    rotate = ctx.settings.gbizid_refresh_rotation
    with ctx.db.session() as s:
        row = s.get(GbizToken, jti) if jti else None
        grant = s.get(GbizGrant, row.grant_id) if row is not None and row.kind == "refresh" else None
        if row is None or grant is None:
            raise invalid_grant("invalid refresh token")
        if grant.client_id != client_id:
            raise invalid_grant("refresh token was issued to another client")
        reused = row.used_at is not None and grant.revoked_at is None
        if reused:  # a rotated token presented again: end the grant and all its tokens (RFC 9700 §4.14.2)
            grant.revoked_at = now
    if reused:
        raise invalid_grant("refresh token is no longer valid")
    with ctx.db.session() as s:
        row, grant = s.get(GbizToken, jti), s.get(GbizGrant, row.grant_id)
        if row.used_at is not None or row.expires_at <= now or grant.revoked_at is not None:
            raise invalid_grant("refresh token is no longer valid")
        account = s.get(GbizAccount, grant.account_ref)
        if account is None or not standing(s, account, now).usable:
            raise invalid_grant("the account cannot log in")
        requested = form.get("scope")
        if requested and not set(requested.split()) <= set(grant.scope.split()):
            raise OAuthError(400, "invalid_scope", "scope exceeds the original grant")
        if rotate and s.execute(update(GbizToken).where(GbizToken.jti == jti, GbizToken.used_at.is_(None))
                                .values(used_at=now)).rowcount != 1:  # used up by a refresh in parallel
            raise invalid_grant("refresh token is no longer valid")
        return _mint(ctx, key, s, grant, account.sub, iss, now, None, with_refresh=rotate)


# ---------------------------------------------------------------------------- userinfo

class UserinfoError(Exception):
    """401 invalid_token (or no token: 401 without error), 403 insufficient_scope."""

    def __init__(self, status: int, error: str | None, description: str = "") -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error or "invalid_token",
                "error_description": self.description if self.error else "a Bearer token is required"}

    def challenge(self, realm: str) -> str:
        """RFC 6750 §3: no error attributes when no token was sent."""
        if self.error is None:
            return f'Bearer realm="{realm}"'
        return f'Bearer realm="{realm}", error="{self.error}", error_description="{self.description}"'


def userinfo(ctx: IdpContext, authorization: str | None) -> dict[str, Any]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise UserinfoError(401, None)
    now, key = ctx.clock.now(), _key(ctx)
    claims = _verify(key, value.strip())
    if claims is None or not claims.get("jti") or "azp" not in claims or claims.get("iss") != issuer(ctx.settings):
        raise UserinfoError(401, "invalid_token", "the access token is invalid")
    if claims["exp"] <= epoch(now):
        raise UserinfoError(401, "invalid_token", "the access token has expired")
    with ctx.db.session() as s:
        row = s.get(GbizToken, claims["jti"])
        grant = s.get(GbizGrant, row.grant_id) if row is not None and row.kind == "access" else None
        if grant is None or grant.revoked_at is not None:
            raise UserinfoError(401, "invalid_token", "the access token has been revoked")
        if claims["azp"] != grant.client_id:  # issued to another RP than the grant's
            raise UserinfoError(401, "invalid_token", "the access token is invalid")
        account = s.get(GbizAccount, grant.account_ref)
        if account is None or account.sub != claims.get("sub") or not standing(s, account, now).usable:
            raise UserinfoError(401, "invalid_token", "the account cannot be used")
        scopes = set(grant.scope.split())
        if "openid" not in scopes:
            raise UserinfoError(403, "insufficient_scope", "the openid scope is required")
        return userinfo_claims(s, account, scopes, now)


def verify_id_token(ctx: IdpContext, id_token: str, client_id: str, iss: str,
                    nonce: str | None) -> dict[str, Any]:
    """An ID token this OP issued, checked as an RP must (used by e-Gov's broker in-process)."""
    claims = _verify(_key(ctx), id_token)
    now = epoch(ctx.clock.now())
    if (claims is None or claims.get("iss") != iss or claims.get("aud") != client_id or claims["exp"] <= now
            or (nonce is not None and claims.get("nonce") != nonce)):
        raise OAuthError(400, "invalid_id_token", "ID token validation failed")
    return claims


def auth_time_of(claims: Mapping[str, Any]) -> datetime:
    return from_epoch(int(claims.get("auth_time") or claims["iat"]))


def outbox(ctx: IdpContext, account: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The SMS outbox, newest first (optionally for one account ID or phone number)."""
    from ..clock import format_datetime

    with ctx.db.session() as s:
        query = select(GbizSmsMessage, GbizAccount.account_id).join(
            GbizAccount, GbizAccount.id == GbizSmsMessage.account_ref)
        if account:
            needle = account.strip().lower()
            query = query.where((GbizAccount.account_id == needle) | (GbizSmsMessage.to == needle.replace("-", ""))
                                | (func.lower(GbizAccount.sub) == needle))
        rows = s.execute(query.order_by(GbizSmsMessage.id.desc()).limit(limit)).all()
        return [{"id": m.id, "to": m.to, "account_id": account_id, "text": m.text, "code": m.code,
                 "sent_at": format_datetime(m.sent_at), "expires_at": format_datetime(m.expires_at),
                 "used": m.used_at is not None} for m, account_id in rows]
