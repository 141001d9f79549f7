"""The worlds' operations of /__admin (one method each), over the registry in worlds.py."""

from __future__ import annotations

from typing import Any

from ..worlds import DEFAULT, UnknownWorld, Worlds, WorldsUnavailable, current_world_id, registry
from .errors import OpsError

JSON = dict[str, Any]


class WorldsBackend:
    def __init__(self, worlds: Worlds) -> None:
        self.worlds = worlds

    def _default_only(self) -> None:
        if current_world_id() != DEFAULT:
            raise OpsError("ワールドの作成・一覧・削除は /__admin/worlds で行います (not within a world)", 404)

    def create(self) -> JSON:
        """A new world from the demo template, with fresh credentials (201)."""
        self._default_only()
        try:
            return self.worlds.create()
        except WorldsUnavailable as exc:
            raise OpsError(str(exc), 409) from exc

    def list(self) -> JSON:
        self._default_only()
        return {"worlds": self.worlds.list()}

    def get(self, world_id: str) -> JSON:
        self._default_only()
        try:
            return self.worlds.describe(world_id)
        except UnknownWorld as exc:
            raise OpsError(f"ワールド {world_id!r} はありません (unknown world)", 404) from exc

    def delete(self, world_id: str) -> None:
        self._default_only()
        if world_id == DEFAULT:
            raise OpsError("既定のワールドは削除できません (the default world cannot be deleted)", 409)
        try:
            self.worlds.delete(world_id)
        except UnknownWorld as exc:
            raise OpsError(f"ワールド {world_id!r} はありません (unknown world)", 404) from exc


def worlds_backend() -> WorldsBackend:
    return WorldsBackend(registry())
