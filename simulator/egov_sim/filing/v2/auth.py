"""Bearer authentication of /shinsei/v2: the token makes the request's caller (g.access, g.caller)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, g, request

from ...idp.egov_tokens import AccessContext, InvalidTokenError, authenticate_bearer
from ...services import services
from ..cases import Caller
from ..errors import bad_request
from .problems import unauthorized

View = TypeVar("View", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


TRIAL_HEADER = "X-eGovAPI-Trial"


def trial_of(value: str | None) -> bool | None:
    """The value of `X-eGovAPI-Trial: true|false` (absent: false); None for any other value."""
    if value is None or value.strip().lower() == "false":
        return False
    return True if value.strip().lower() == "true" else None


def is_trial() -> bool:
    """The request's X-eGovAPI-Trial; any value but true or false is refused with 400."""
    trial = trial_of(request.headers.get(TRIAL_HEADER))
    if trial is None:
        raise bad_request("X-eGovAPI-Trialはtrueまたはfalseで指定してください。")
    return trial


def sign_in(ctx: AccessContext) -> Caller:
    """Make a checked token the request's caller (g.access, g.caller)."""
    g.access = ctx
    g.caller = Caller(account_id=ctx.account_id, username=ctx.username, trial=is_trial(), idp=ctx.idp)
    return g.caller


def authenticate() -> Response | None:
    """Require `Authorization: Bearer <token>`; 401 with no body otherwise (as the spec says)."""
    token = bearer_token()
    if token is None:
        return unauthorized(None)
    try:
        ctx = authenticate_bearer(services(), token)
    except InvalidTokenError as exc:
        return unauthorized(str(exc))
    sign_in(ctx)
    return None


def authenticates_itself(view: View) -> View:
    """Mark a view the parent blueprint does not authenticate (public, or its own faster check)."""
    view.authenticates_itself = True  # type: ignore[attr-defined]
    return view
