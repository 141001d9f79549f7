"""The RP's OpenID Connect side: the project's GbizIdClient talking to the GビズID OP over HTTP.

egov_sim may not import egov_client, with one exception declared in pyproject's import-linter
contract: this module may import `egov_client.gbizid`. The RP then exercises the production client
against our OP exactly as a real web application would (discovery, PKCE, ID-token validation
against the JWKS, UserInfo) instead of a second, simulator-only OIDC client.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from egov_client.gbizid import AuthError, GbizIdAuthorization, GbizIdClient, GbizIdProvider

from ..clock import JST
from ..store.models import GbizRelyingParty

RP_CLIENT_ID = "keieikakushin"
CALLBACK_PATH = "/keieikakushin/callback"
SCOPE = "openid profile user email"


def ensure_registration(db: Any) -> GbizRelyingParty:
    """The RP's registration with GビズID (created on first use; redirect URI on this origin)."""
    with db.session() as s:
        rp = s.get(GbizRelyingParty, RP_CLIENT_ID)
        if rp is None:
            rp = GbizRelyingParty(client_id=RP_CLIENT_ID, client_secret=secrets.token_urlsafe(32),
                                  name="経営革新計画電子申請システム", redirect_uris=[CALLBACK_PATH],
                                  approved_scopes=[], system_cd="KEIEIKAKUSHIN")
            s.add(rp)
        return rp


def client(db: Any, op_host: str, site: str, now: Callable[[], datetime], *,
           this_app: Any = None) -> GbizIdClient:
    """A GbizIdClient for this RP; `op_host` is GビズID's host (endpoints under {host}/oauth).

    With `this_app` (the OP is this very server) the back channel is still HTTP — every request goes
    through the OP's HTTP endpoints and the whole WSGI stack — but over httpx's WSGI transport rather
    than a socket, so a server with one worker thread cannot deadlock on calling itself. Setting
    `gbizid_base` sends it over sockets instead (to another host, or here with several threads)."""
    rp = ensure_registration(db)
    provider = GbizIdProvider("keieikakushin", op_host).with_credentials(
        rp.client_id, rp.client_secret, site + CALLBACK_PATH, SCOPE)
    transport = httpx.WSGITransport(app=this_app) if this_app is not None else None
    return GbizIdClient(provider, httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), transport=transport),
                        clock=lambda: now().replace(tzinfo=JST))


def to_dict(a: GbizIdAuthorization) -> dict[str, Any]:
    return {"url": a.url, "state": a.state, "nonce": a.nonce, "redirect_uri": a.redirect_uri,
            "code_verifier": a.code_verifier}


def from_dict(d: dict[str, Any]) -> GbizIdAuthorization:
    return GbizIdAuthorization(d["url"], d["state"], d["nonce"], d["redirect_uri"], d.get("code_verifier"))
__all__ = ["AuthError", "client", "ensure_registration", "from_dict", "to_dict"]
