"""Which worlds the console shows, and the backend of one (the seam the worlds feature plugs into).

For now the server has one world, the default (demo) one; `available_worlds()` is the one place that
lists them and `ops_for()` the one place that reaches a world's OpsBackend."""

from __future__ import annotations

from dataclasses import dataclass

from ..ops.backend import OpsBackend, ops_backend

DEFAULT = "default"


@dataclass(frozen=True)
class WorldInfo:
    world_id: str
    name: str


def available_worlds() -> list[WorldInfo]:
    """The worlds of this server (to be the worlds feature's `list_worlds()`)."""
    return [WorldInfo(DEFAULT, "デモ環境（既定のワールド）")]


def find_world(world_id: str) -> WorldInfo | None:
    return next((w for w in available_worlds() if w.world_id == world_id), None)


def ops_for(world_id: str) -> OpsBackend:
    """The admin API's backend for the world (only the default one exists for now)."""
    if world_id != DEFAULT:
        raise LookupError(world_id)
    return ops_backend()
