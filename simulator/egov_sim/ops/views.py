"""Request parsing shared by the /__admin views (the parse step of parse → backend → render)."""

from __future__ import annotations

from typing import Any

from flask import request

from .errors import OpsError


def json_object(expected: str, *required: str) -> dict[str, Any]:
    """The JSON object body (with the `required` keys), or a 400 saying what was expected."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or any(k not in body for k in required):
        raise OpsError(expected)
    return body


def optional_object(refused: str | None = None) -> dict[str, Any]:
    """The JSON object body; {} without one. Another JSON value is refused with `refused`, or read as {}."""
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        return body
    if refused and (body is not None or request.data):
        raise OpsError(refused)
    return {}


def query_int(name: str, default: int, refused: str) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        raise OpsError(refused) from None
