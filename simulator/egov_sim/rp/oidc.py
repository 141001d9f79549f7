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
from typing import TYPE_CHECKING, Any

from ..clock import JST
from ..store.models import GbizRelyingParty
from .config import CALLBACK_PATH, RP_CLIENT_ID, RP_NAME, SYSTEM_CD

if TYPE_CHECKING:
    from egov_client.gbizid import AuthError, GbizIdAuthorization, GbizIdClient

# httpx and the client are imported on the RP's first login, not at start: ~0.1 s of every server's
# cold start for pages most runs never open


def __getattr__(name: str) -> Any:
    if name == "AuthError":  # the client's error, raised by its calls (see views.py)
        from egov_client.gbizid import AuthError

        return AuthError
    raise AttributeError(name)

SCOPE = "openid profile user email"


class NotRegistered(LookupError):
    """A world without the RP's registration (made from a template older than the RP's demo client)."""


def registration() -> GbizRelyingParty:
    """The RP's registration with GビズID in the request's world, as the demo world makes it (created on
    first use in the default world). In a world: the client id its credentials name, and the redirect
    URI below the world's entry path (ops/world_routing.py) added once."""
    from ..services import services
    from ..worlds import DEFAULT, current_world_id, registry  # not at import time (an import cycle)

    world_id = current_world_id()
    callback = callback_path()
    client_id = RP_CLIENT_ID
    if world_id != DEFAULT:
        client_id = registry().describe(world_id).get("gbizid_clients", {}).get(RP_CLIENT_ID, "")
    with services().db.session() as s:
        rp = s.get(GbizRelyingParty, client_id) if client_id else None
        if rp is None and world_id != DEFAULT:
            raise NotRegistered(f"ワールド {world_id} には経営革新計画電子申請システムの GビズID 登録がありません"
                                "（古いテンプレートから作られたワールド：作り直してください）")
        if rp is None:
            rp = GbizRelyingParty(client_id=RP_CLIENT_ID, client_secret=secrets.token_urlsafe(32),
                                  name=RP_NAME, redirect_uris=[CALLBACK_PATH], approved_scopes=[],
                                  system_cd=SYSTEM_CD)
            s.add(rp)
        if callback not in rp.redirect_uris:
            rp.redirect_uris = [*rp.redirect_uris, callback]
        return rp


def callback_path() -> str:
    """The redirect URI's path in the request's world, relative to the base URL."""
    from ..ops.world_routing import rp_entry
    from ..worlds import DEFAULT, current_world_id

    world_id = current_world_id()
    return (rp_entry(world_id) if world_id != DEFAULT else "") + CALLBACK_PATH


def client(op_host: str, site: str, now: Callable[[], datetime], *, this_app: Any = None) -> GbizIdClient:
    """A GbizIdClient for this RP in the request's world; `op_host` is GビズID's host (endpoints under
    {host}/oauth), `site` this RP's origin.

    With `this_app` (the OP is this very server) the back channel is still HTTP — every request goes
    through the OP's HTTP endpoints and the whole WSGI stack — but over httpx's WSGI transport rather
    than a socket, so a server with one worker thread cannot deadlock on calling itself. Setting
    `gbizid_base` sends it over sockets instead (to another host, or here with several threads)."""
    import httpx
    from egov_client.gbizid import GbizIdClient, GbizIdProvider

    rp = registration()
    provider = GbizIdProvider("keieikakushin", op_host).with_credentials(
        rp.client_id, rp.client_secret, site + callback_path(), SCOPE)
    transport = httpx.WSGITransport(app=this_app) if this_app is not None else None
    return GbizIdClient(provider, httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), transport=transport),
                        clock=lambda: now().replace(tzinfo=JST))


def to_dict(a: GbizIdAuthorization) -> dict[str, Any]:
    return {"url": a.url, "state": a.state, "nonce": a.nonce, "redirect_uri": a.redirect_uri,
            "code_verifier": a.code_verifier}


def from_dict(d: dict[str, Any]) -> GbizIdAuthorization:
    from egov_client.gbizid import GbizIdAuthorization

    return GbizIdAuthorization(d["url"], d["state"], d["nonce"], d["redirect_uri"], d.get("code_verifier"))
__all__ = ["AuthError", "NotRegistered", "client", "from_dict", "registration", "to_dict"]
