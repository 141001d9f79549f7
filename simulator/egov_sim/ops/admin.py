"""/__admin — control of the simulator (WireMock's convention): clock, demo world, case control.

Open on loopback; when the server listens elsewhere, EGOV_SIM_ADMIN_TOKEN must be sent as
`Authorization: Bearer <token>` (or `X-Admin-Token`).
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..clock import parse_duration
from ..services import services
from ..world import reset_world
from ..world.demo import load_world

bp = Blueprint("admin", __name__, url_prefix="/__admin")


def _is_loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


@bp.before_request
def _guard() -> Response | None:
    token = services().settings.admin_token
    if token:
        sent = request.headers.get("X-Admin-Token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if hmac.compare_digest(sent.strip(), token):
            return None
        return _problem(401, "管理APIのトークンが必要です (admin token required)")
    if _is_loopback(request.remote_addr):
        return None
    return _problem(403, "管理APIはループバックからのみ利用できます。EGOV_SIM_ADMIN_TOKEN を設定してください。")


def _problem(status: int, detail: str) -> Response:
    resp = jsonify({"title": {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(
        status, "Error"), "detail": detail, "instance": request.path})
    resp.status_code = status
    return resp


@bp.get("/clock")
def get_clock() -> Any:
    return jsonify(services().clock.state().describe())


@bp.post("/clock")
def post_clock() -> Any:
    """Body: {"advance": "P3D"} | {"set": "2026-04-01T09:00:00"} | {"speed": 60} | {"frozen": true} | {"reset": true}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _problem(400, "JSON object expected: advance, set, speed, frozen or reset")
    clock = services().clock
    try:
        if body.get("reset"):
            state = clock.reset(float(body.get("speed", 1.0)))
        else:
            advance = parse_duration(body["advance"]) if "advance" in body else None
            set_to = datetime.fromisoformat(body["set"]).replace(tzinfo=None) if "set" in body else None
            speed = float(body["speed"]) if "speed" in body else None
            frozen = bool(body["frozen"]) if "frozen" in body else None
            state = clock.update(advance=advance, set_to=set_to, speed=speed, frozen=frozen)
    except (ValueError, TypeError) as exc:
        return _problem(400, str(exc))
    return jsonify(state.describe())


@bp.get("/world")
def get_world() -> Any:
    world = load_world(services())
    if world is None:
        return _problem(404, "no demo world")
    return jsonify(world.as_dict())


@bp.post("/reset")
def post_reset() -> Any:
    world = reset_world(services())  # every table back to the demo world's snapshot, the ops room's too
    from .middleware import ops_state

    ops_state().journal.clear()
    ops_state().invalidate()
    return jsonify({"reset": True, "world": world.as_dict() if world else None})


@bp.get("/certificates/<label>")
def get_certificate(label: str) -> Any:
    """A demo signing certificate as PKCS#12 (base64) with its password, for harnesses on other machines."""
    import base64

    from ..world.demo import certificate_for

    try:
        p12, password, cert = certificate_for(services(), label)
    except KeyError:
        return _problem(404, f"no demo certificate {label!r}")
    world = load_world(services())
    revoked = bool(world and any(c["label"] == label and c.get("revoked") for c in world.certificates))
    return jsonify({"label": label, "password": password, "p12": base64.b64encode(p12).decode(),
                    "subject": cert.subject.rfc4514_string(), "not_after": cert.not_valid_after_utc.isoformat(),
                    "revoked": revoked})
