"""The one renderer of /shinsei/v2 problem bodies ({title, detail, type, instance, ...}), for views,
error handlers and the ops middleware alike (401 and 404 have no body, as the spec says)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from egov_format.reports import ReportItem
from flask import Response, jsonify, request

from ..errors import FilingError
from .render import api_url

REALM = "egov"
WITHDRAW_KEYS = ("file_name", "item", "content")  # report_list items of /apply/withdraw


def problem(status: int, title: str, detail: str, *, report: Sequence[ReportItem | dict[str, str]] = (),
            withdraw_shape: bool = False, error_count: int | None = None, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A problem body for the current request. `withdraw_shape`: report items of /apply/withdraw (three
    keys); `error_count` / `errors`: the fields every error of /bulk-apply carries."""
    body: dict[str, Any] = {"title": title, "detail": detail, "type": api_url("/openapi.json"),
                            "instance": request.path}
    if report:
        body["report_list"] = [_report_item(r, withdraw_shape) for r in report]
    if error_count is not None:
        body["error_count"] = error_count
    if errors is not None:
        body["error"] = errors
    resp = jsonify(body)
    resp.status_code = status
    resp.headers.update(headers or {})
    return resp


def _report_item(r: ReportItem | dict[str, str], withdraw_shape: bool) -> dict[str, str]:
    if isinstance(r, ReportItem):
        return r.as_withdraw_dict() if withdraw_shape else r.as_dict()
    return {k: r[k] for k in WITHDRAW_KEYS} if withdraw_shape else r


def filing_problem(exc: FilingError, **shape: Any) -> Response:
    return problem(exc.status, exc.title, exc.detail, report=exc.report, **shape)


def unauthorized(description: str | None) -> Response:
    """401 without body; the reason in WWW-Authenticate."""
    challenge = f'Bearer realm="{REALM}"'
    if description:
        challenge += f', error="invalid_token", error_description="{description}"'
    return Response(status=401, headers={"WWW-Authenticate": challenge})


def not_found() -> Response:
    return Response(status=404)
