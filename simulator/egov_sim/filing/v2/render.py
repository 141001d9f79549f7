"""The spec's envelopes for /shinsei/v2 answers: absolute URLs, `metadata`, `resultset`, `_links`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from ...services import services
from ..backend import Page, Period

API_PREFIX = "/shinsei/v2"


def api_url(path: str) -> str:
    return f"{services().settings.base_url}{API_PREFIX}{path}"


def envelope(title: str, results: Any, instance: str, base_url: str, *, resultset: dict[str, int] | None = None,
             links: dict[str, str] | None = None) -> dict[str, Any]:
    """A success answer's body: `metadata`, `resultset`, `results`, `_links`, in the spec's order."""
    body: dict[str, Any] = {"metadata": {"title": title, "detail": "正常に終了しました。",
                                         "type": f"{base_url}{API_PREFIX}/openapi.json", "instance": instance}}
    if resultset is not None:
        body["resultset"] = resultset
    body["results"] = results
    if links is not None:
        body["_links"] = links
    return body


def ok(title: str, results: Any, *, status: int = 200, resultset: dict[str, int] | None = None,
       links: dict[str, str] | None = None) -> tuple[Response, int]:
    return jsonify(envelope(title, results, request.path, services().settings.base_url, resultset=resultset,
                            links=links)), status


def listing(title: str, key: str, items: list[Any]) -> tuple[Response, int]:
    """A list asked for by send_number: every item on one page."""
    resultset = {"all_count": len(items), "limit": max(len(items), 1), "offset": 0, "count": len(items)}
    return ok(title, {key: items}, resultset=resultset, links={"self": request.url})


def page(title: str, key: str, found: Page, period: Period) -> tuple[Response, int]:
    """A page of a list by 取得対象期間, with previous / next links."""
    limit, offset = period.limit, period.offset
    links = {"self": request.url}
    path = request.path.removeprefix(API_PREFIX)
    first = f"{path}?date_from={period.date_from}&date_to={period.date_to}&limit={limit}&offset="
    if offset > 0:
        links["previous"] = api_url(first + str(max(offset - limit, 0)))
    if offset + len(found.items) < found.total:
        links["next"] = api_url(first + str(offset + limit))
    resultset = {"all_count": min(found.total, 9999), "limit": limit, "offset": offset, "count": len(found.items)}
    return ok(title, {key: found.items}, resultset=resultset, links=links)
