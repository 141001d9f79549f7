"""Reading TOML tables strictly: every key known, every problem named with its file and table."""

from __future__ import annotations

from typing import Any


class CatalogueError(ValueError):
    """A catalogue file the simulator refuses to load ("<file>: <table>: <problem>")."""


def table(data: Any, where: str, allowed: frozenset[str] | set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """`data` as a table with only `allowed` keys and every `required` one."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: a table expected, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise CatalogueError(f"{where}: unknown key {', '.join(map(repr, unknown))}"
                             f" (known: {', '.join(sorted(allowed))})")
    missing = [k for k in required if k not in data]
    if missing:
        raise CatalogueError(f"{where}: missing key {', '.join(map(repr, missing))}")
    return data


def tables(data: Any, where: str) -> list[Any]:
    """An array of tables (the items are checked by the caller)."""
    if not isinstance(data, list):
        raise CatalogueError(f"{where}: an array expected, got {type(data).__name__}")
    return data
