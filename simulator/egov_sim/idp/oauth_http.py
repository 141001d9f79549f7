"""HTTP plumbing shared by the two OAuth servers (e-Gov's /auth and GビズID's /gbizid/oauth)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

from .egov_tokens import OAuthError, invalid_request

FORM_TYPE = "application/x-www-form-urlencoded"


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """JSON serialised here so the field order is the spec's, whatever the app's JSON settings; never cached."""
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def oauth_error(exc: OAuthError, realm: str) -> Response:
    response = json_response(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return response


def form_params() -> dict[str, str]:
    """The form body as single values; refuses other media types and repeated parameters."""
    if request.mimetype != FORM_TYPE:
        raise invalid_request(f"Content-Type must be {FORM_TYPE}")
    repeated = [name for name in request.form if len(request.form.getlist(name)) > 1]
    if repeated:
        raise invalid_request(f"Duplicated parameter: {repeated[0]}")
    return request.form.to_dict()
