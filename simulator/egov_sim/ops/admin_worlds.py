"""/__admin/worlds: create, list, describe and delete worlds (each world's own admin API is
/__admin/worlds/<id>/..., the admin blueprint registered a second time: see app.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .worlds_backend import worlds_backend

bp = Blueprint("worlds", __name__)


@bp.post("/worlds")
def create_world() -> Any:
    return jsonify(worlds_backend().create()), 201


@bp.get("/worlds")
def list_worlds() -> Any:
    return jsonify(worlds_backend().list())


@bp.get("/worlds/<world_id>")
def get_world(world_id: str) -> Any:
    return jsonify(worlds_backend().get(world_id))


@bp.delete("/worlds/<world_id>")
def delete_world(world_id: str) -> Any:
    worlds_backend().delete(world_id)
    return Response(status=204)
