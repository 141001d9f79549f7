"""The answer while the database is unreachable: 503 with Retry-After in each face's own shape
(/shinsei/v2: the spec's problem body, titled as the spec spells it; /auth: OAuth's
temporarily_unavailable; anything else: a small JSON error), never a 500 with a traceback."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

from ..store.outage import OUTAGE_ERRORS, OutageLog, is_outage
from .middleware import api_error, auth_error

DETAIL = "システムが一時的に利用できません。時間をおいて再度送信してください。"
OUTAGE_KEY = "egov_sim_outage"
ANSWER_KEY = "egov_sim_outage_answer"


def install(app: Flask, faultable: dict[str | None, str]) -> None:
    retry_after = str(app.extensions["egov_sim"].settings.database_retry_after)
    trees = {prefix: kind for prefix, kind in faultable.items() if prefix}
    outages = app.extensions[OUTAGE_KEY] = OutageLog()

    def answer(error: Exception) -> Response:
        outages.failed(f"{request.method} {request.path}", error)
        headers = {"Retry-After": retry_after}
        kind = next((k for p, k in trees.items() if request.path == p or request.path.startswith(p + "/")), None)
        if kind == "api":
            return api_error(503, title="Service Unavaiable", detail=DETAIL, headers=headers)
        if kind == "auth":
            return auth_error(503, "temporarily_unavailable", DETAIL, headers)
        resp = jsonify({"error": "temporarily_unavailable", "error_description": DETAIL})
        resp.status_code = 503
        resp.headers.update(headers)
        return resp

    app.extensions[ANSWER_KEY] = answer
    for error in OUTAGE_ERRORS:
        app.register_error_handler(error, answer)


def outage_answer(error: Exception) -> Response | None:
    """The outage answer when `error` means the database is unreachable, for a blueprint whose own
    catch-all handler would otherwise turn it into a 500 (the admin API)."""
    answer = current_app.extensions.get(ANSWER_KEY)
    return answer(error) if answer is not None and is_outage(error) else None
