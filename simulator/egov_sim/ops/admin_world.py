"""/__admin clock and world: the virtual clock, the demo world, reset, demo certificates."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .backend import ops_backend
from .views import json_object

bp = Blueprint("clock", __name__)


@bp.get("/clock")
def get_clock() -> Any:
    return jsonify(ops_backend().clock())


@bp.post("/clock")
def post_clock() -> Any:
    """Body: {"advance": "P3D"} | {"set": "2026-04-01T09:00:00"} | {"speed": 60} | {"frozen": true} | {"reset": true}."""
    body = json_object("JSON object expected: advance, set, speed, frozen or reset")
    if body.get("reset"):
        return jsonify(ops_backend().set_clock(reset=True, speed=body.get("speed")))
    return jsonify(ops_backend().set_clock(advance=body.get("advance"), set_to=body.get("set"),
                                           speed=body.get("speed"), frozen=body.get("frozen")))


@bp.get("/world")
def get_world() -> Any:
    return jsonify(ops_backend().world())


@bp.get("/world/id")
def get_world_id() -> Any:
    return jsonify(ops_backend().world_id())


@bp.post("/reset")
def post_reset() -> Any:
    return jsonify(ops_backend().reset())


@bp.get("/certificates/<label>")
def get_certificate(label: str) -> Any:
    return jsonify(ops_backend().certificate(label))

