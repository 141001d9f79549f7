"""Which worlds the console shows, and how a page enters one (over the worlds registry, worlds.py).

A page of `/__console/w/<id>/…` runs inside that world exactly as `/__admin/worlds/<id>/…` does:
`services()` and the ops state answer the world's, so `ops_backend()` is the world's OpsBackend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g

from ..ops.backend import OpsBackend, ops_backend
from ..services import WORLD
from ..worlds import DEFAULT, UnknownWorld, list_worlds, registry


@dataclass(frozen=True)
class WorldInfo:
    world_id: str
    name: str
    created_at: str = ""
    credentials: dict[str, Any] | None = None


def available_worlds() -> list[WorldInfo]:
    """The default (demo) world, then every created world, oldest first."""
    return [WorldInfo(DEFAULT, "デモ環境（既定のワールド）")] + [_info(w) for w in list_worlds()]


def find_world(world_id: str) -> WorldInfo | None:
    if world_id == DEFAULT:
        return WorldInfo(DEFAULT, "デモ環境（既定のワールド）")
    try:
        w = registry().describe(world_id)
    except UnknownWorld:
        return None
    return _info(w)


def _info(w: dict[str, Any]) -> WorldInfo:
    credentials = {"client_id": w["client_id"], "client_secret": w["client_secret"], **{
        f"GビズID RP {name}": client for name, client in w.get("gbizid_clients", {}).items()}}
    return WorldInfo(w["id"], f"ワールド {w['id']}", w["created_at"], credentials)


def enter(world_id: str) -> None:
    """Route the rest of this request to the world (as the admin API's world routing does)."""
    setattr(g, WORLD, None if world_id == DEFAULT else registry().get(world_id))


def ops_for(world_id: str) -> OpsBackend:
    """The admin API's backend for the world the request has entered."""
    enter(world_id)
    return ops_backend()
