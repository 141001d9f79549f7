"""Flask's JSON provider with a nesting limit: a body nested deeper than MAX_DEPTH is not JSON the
simulator accepts (e-Gov's bodies are at most a few levels deep), so `request.get_json(silent=True)`
gives None and each face answers its own 400 — never a RecursionError and a 500."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32


class TooDeepError(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def check_depth(value: Any, limit: int = MAX_DEPTH) -> Any:
    """`value` when no container in it lies deeper than `limit`; TooDeepError otherwise (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise TooDeepError(f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value


class LimitedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return check_depth(super().loads(s, **kwargs))
        except RecursionError:  # deeper than the interpreter can parse: the same refusal
            raise TooDeepError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
