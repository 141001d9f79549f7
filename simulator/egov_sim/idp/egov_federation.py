"""e-Gov's login through GビズID (Keycloak's identity brokering), without Flask.

e-Gov is a relying party of GビズID: 「GビズIDでログイン」 sends the browser to the OP with
state, nonce and PKCE; the callback exchanges the code, validates the ID token, reads UserInfo,
links the GビズID account to an e-Gov account (idp="gbizid", gbizid_account_type) and finishes
the pending e-Gov login, so e-Gov's tokens carry egov_idp / egov_gbizid_account_type /
egov_extidp_auth_time. Both servers live in this process, so the back-channel calls are direct
calls of the OP's rules (the same functions its HTTP endpoints run).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..store.models import Account, GbizRelyingParty, Setting
from . import gbizid_op as op
from .egov_tokens import AuthorizationRequest, LoginError, LoginResult, OAuthError, epoch, login_federated

if TYPE_CHECKING:
    from .context import IdpContext

EGOV_RP_CLIENT_ID = "e-gov"
FEDERATION_CLIENT_KEY = "egov.gbizid_client_id"  # setting: this world's e-Gov RP at GビズID, if not "e-gov" (worlds.py)
CALLBACK_PATH = "/auth/broker/gbizid/endpoint"
BROKER_SCOPE = "openid profile user email"
STATE_LIFETIME = timedelta(minutes=30)
STATE_KEY = "egov-auth"

MSG_FEDERATION_FAILED = "GビズIDでログインできませんでした。もう一度お試しください。"
MSG_FEDERATION_CANCELLED = "GビズIDでのログインが完了しませんでした。"
MSG_EMAIL_TAKEN = "このメールアドレスは既にe-Govアカウントとして登録されています。e-Govアカウントでログインしてください。"


def ensure_egov_rp(ctx: IdpContext) -> GbizRelyingParty:
    """e-Gov's own registration with GビズID (created on first use; its redirect URI is on this origin)."""
    with ctx.db.session() as s:
        own = s.get(Setting, FEDERATION_CLIENT_KEY)
        client_id = str(own.value["client_id"]) if own is not None else EGOV_RP_CLIENT_ID
        rp = s.get(GbizRelyingParty, client_id)
        if rp is None:
            rp = GbizRelyingParty(client_id=client_id, client_secret=secrets.token_urlsafe(32),
                                  name="e-Gov電子申請", redirect_uris=[CALLBACK_PATH], approved_scopes=[],
                                  system_cd="EGOV")
            s.add(rp)
        return rp


@dataclass(frozen=True)
class BrokerStart:
    authorize_url: str
    sealed_state: str  # kept in a cookie until the callback


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def start(ctx: IdpContext, egov_request: AuthorizationRequest, host_url: str) -> BrokerStart:
    """The redirect to GビズID for a pending e-Gov login, and the state to keep until it returns."""
    rp = ensure_egov_rp(ctx)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier, challenge = _pkce()
    now = ctx.clock.now()
    key = ctx.keys.get(STATE_KEY)
    sealed = jwt.encode({"typ": "Broker", "req": asdict(egov_request), "state": state, "nonce": nonce,
                         "cv": verifier, "iat": epoch(now), "exp": epoch(now + STATE_LIFETIME)},
                        key.private_key, algorithm="RS256", headers={"kid": key.kid})
    site = op.origin(ctx.settings, host_url)
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": site + CALLBACK_PATH,
              "scope": BROKER_SCOPE, "state": state, "nonce": nonce, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    return BrokerStart(f"{op.op_base(ctx.settings, host_url)}/authorize?{urlencode(params)}", sealed)


def pending_request(ctx: IdpContext, sealed_state: str) -> tuple[AuthorizationRequest, dict[str, Any]]:
    """The e-Gov request waiting for GビズID, from the broker cookie (LoginError when unusable)."""
    key = ctx.keys.get(STATE_KEY)
    try:
        claims = jwt.decode(sealed_state, key.public_key, algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False})
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise LoginError(MSG_FEDERATION_FAILED, restart=True) from exc
    if claims.get("typ") != "Broker" or claims.get("exp", 0) <= epoch(ctx.clock.now()):
        raise LoginError(MSG_FEDERATION_FAILED, restart=True)
    return AuthorizationRequest(**claims["req"]), claims


def complete(ctx: IdpContext, sealed_state: str, params: Mapping[str, str],
             host_url: str) -> tuple[AuthorizationRequest, LoginResult]:
    """The callback: check state, exchange the code, validate the ID token, read UserInfo, link the
    account and finish the e-Gov login."""
    egov_request, claims = pending_request(ctx, sealed_state)
    if params.get("state") != claims["state"]:
        raise LoginError(MSG_FEDERATION_FAILED, restart=True)
    if "error" in params or not params.get("code"):
        raise LoginError(MSG_FEDERATION_CANCELLED)
    rp = ensure_egov_rp(ctx)
    site = op.origin(ctx.settings, host_url)
    iss = op.issuer(ctx.settings, host_url)
    try:
        tokens = op.token(ctx, rp.client_id, {"grant_type": "authorization_code", "code": params["code"],
                                                   "redirect_uri": site + CALLBACK_PATH,
                                                   "code_verifier": claims["cv"]}, iss)
        id_claims = op.verify_id_token(ctx, tokens["id_token"], rp.client_id, iss, claims["nonce"])
        info = op.userinfo(ctx, f"Bearer {tokens['access_token']}")
    except (OAuthError, op.UserinfoError) as exc:
        raise LoginError(MSG_FEDERATION_FAILED) from exc
    if info.get("sub") != id_claims["sub"]:
        raise LoginError(MSG_FEDERATION_FAILED)
    account_id = link_account(ctx, info)
    return egov_request, login_federated(ctx, egov_request, account_id, op.auth_time_of(id_claims))


def link_account(ctx: IdpContext, info: dict[str, Any]) -> int:
    """The e-Gov account for a GビズID identity: found by its GビズID sub or login ID, else created;
    its account type and names follow GビズID on every login. Two first logins at once: one creates the
    account, the other fails on its login ID and, looking again, finds it."""
    try:
        return _link_account(ctx, info)
    except IntegrityError:
        return _link_account(ctx, info)


def _link_account(ctx: IdpContext, info: dict[str, Any]) -> int:
    email = str(info.get("email") or "").lower()
    user_name = f"{info.get('user_last_nm', '')}　{info.get('user_first_nm', '')}".strip("　")
    kana = f"{info.get('user_last_nm_kana', '')}　{info.get('user_first_nm_kana', '')}".strip("　")
    now = ctx.clock.now()
    with ctx.db.session() as s:
        account = s.scalars(select(Account).where(Account.username == email)).first()
        if account is not None and account.idp != "gbizid":
            raise LoginError(MSG_EMAIL_TAKEN)
        if account is None:  # the GビズID account ID may have changed since the last login
            account = next((a for a in s.scalars(select(Account).where(Account.idp == "gbizid"))
                            if (a.profile or {}).get("gbizid_sub") == info["sub"]), None)
        if account is None:
            account = Account(sub=str(uuid.uuid4()), username=email, password_hash="!", display_name=user_name,
                              name_kana=kana, idp="gbizid", profile={})
            s.add(account)
        account.username = email
        account.gbizid_account_type = str(info.get("account_type") or "") or None
        account.corporation_name = str(info.get("name") or account.corporation_name or "")
        account.display_name = user_name or account.display_name
        account.name_kana = kana or account.name_kana
        account.profile = {**(account.profile or {}), "gbizid_sub": info["sub"],
                           "gbizid_linked_at": now.isoformat(timespec="seconds")}
        s.flush()
        return account.id
