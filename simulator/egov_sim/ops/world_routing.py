"""The one routing step: which world a request belongs to, from what an unmodified client sends.

- `/__admin/worlds/<id>/...`: the id in the path (after the admin guard; unknown → 404 in the admin format);
- `/auth`, `/gbizid`: the client id — HTTP Basic, the `client_id` form field or query parameter, or the
  signed login form state (`login_request`, whose `req.client_id` the server wrote);
- `/shinsei/v2`: the bearer token's `azp` (the software that got it); `/shinsei/1`: the software ID header;
- `/worlds/<id>/keieikakushin/...`: the 経営革新計画 RP of world <id>. A browser sends no credentials, so the
  world is in the path: the WSGI step below moves `/worlds/<id>` into SCRIPT_NAME, so the RP's routes,
  links (url_for), cookie paths and redirect URI carry it unchanged (unknown world → 404).

What is read here is unverified and only chooses the world: that world's own rules then check the
credentials in full, so a token or client id of another world is refused there as any foreign one.
Anything else (and anything not a world's) stays in the default world.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, g, request

from ..services import WORLD
from ..worlds import EXTENSION, UnknownWorld, Worlds
from .middleware import _peek, _token_claims

SCOPED_ADMIN = re.compile(r"^/__admin/worlds/([^/]+)/.")
RP_ENTRY = re.compile(r"^(/worlds/([^/]+))(/keieikakushin(?:/.*)?)$")  # rp_entry(id) + the RP's own path
RP_WORLD = "egov_sim.rp_world"  # the WSGI environ key: the world of an RP request
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ROUTED = ("/auth", "/gbizid", "/shinsei/")
BROKER_COOKIE = "EGOV_SIM_BROKER"  # idp/egov_broker.py: the pending e-Gov login while at GビズID
SOFTWARE_HEADER = "X-eGovAPI-SoftwareID"  # the legacy 外部連携API (filing/legacy)


def install(app: Flask) -> None:
    """Register the routing step before every other hook (the ops middleware reads the world)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _route)
    app.wsgi_app = _RpEntry(app.wsgi_app)  # type: ignore[method-assign]

    @app.url_value_preprocessor
    def _drop_world_id(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and request.blueprint and request.blueprint.startswith("admin_in_world"):
            values.pop("in_world", None)


def rp_entry(world_id: str) -> str:
    """World `world_id`'s entry path (relative to the base URL, as redirect URIs are registered)."""
    return f"/worlds/{world_id}"


class _RpEntry:
    """`/worlds/<id>/keieikakushin/...` → SCRIPT_NAME `/worlds/<id>`, PATH_INFO `/keieikakushin/...`."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        found = RP_ENTRY.match(environ.get("PATH_INFO", ""))
        if found:
            environ = {**environ, "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + found.group(1),
                       "PATH_INFO": found.group(3), RP_WORLD: found.group(2)}  # PATH_INFO is decoded
        return self.wsgi_app(environ, start_response)


def _route() -> Response | None:
    worlds = _worlds()
    path = request.path
    rp_world = request.environ.get(RP_WORLD)
    if rp_world is not None:
        try:
            setattr(g, WORLD, worlds.get(rp_world))
        except UnknownWorld as exc:
            return Response(f"ワールド {exc.world_id!r} はありません (unknown world)", 404,
                            mimetype="text/plain")
        return None
    scoped = SCOPED_ADMIN.match(path)
    if scoped:
        from .admin import _guard, problem

        refused = _guard()
        if refused is not None:
            return refused
        try:
            setattr(g, WORLD, worlds.get(scoped.group(1)))
        except UnknownWorld as exc:
            return problem(404, f"ワールド {exc.world_id!r} はありません (unknown world)")
        return None
    if not path.startswith(ROUTED):
        return None
    world = worlds.route(_client_id(path))
    if world is not None:
        setattr(g, WORLD, world)
    return None


def _worlds() -> Worlds:
    from flask import current_app

    return current_app.extensions[EXTENSION]


def _client_id(path: str) -> str:
    if path.startswith("/shinsei/v2"):
        claims = _token_claims()
        return str(claims.get("azp", "")) if claims else ""
    if path.startswith("/shinsei/"):
        return request.headers.get(SOFTWARE_HEADER, "").strip()
    basic = _basic_client_id(request.headers.get("Authorization", ""))
    if basic:
        return basic
    claims = _token_claims()  # GビズID userinfo: the access token's azp
    if claims and claims.get("azp"):
        return str(claims["azp"])
    form = request.form if request.mimetype in FORM_TYPES else {}
    client_id = form.get("client_id") or request.args.get("client_id")
    if client_id:
        return client_id
    sealed = form.get("login_request") or request.cookies.get(BROKER_COOKIE)  # the GビズID broker's callback
    req = (_peek(sealed) or {}).get("req") if sealed else None
    return str(req.get("client_id", "")) if isinstance(req, dict) else ""


def _basic_client_id(authorization: str) -> str:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return unquote_plus(decoded.partition(":")[0])
