"""HTTP plumbing shared by every /shinsei/v2 resource family: bearer auth, envelopes, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.orm import Session

from ..idp.egov_tokens import AccessContext, InvalidTokenError, authenticate_bearer
from ..services import services
from .cases import Caller, FilingService
from .errors import FilingError, NotFound, bad_request

API_PREFIX = "/shinsei/v2"
REALM = "egov"


_host_urls: dict[tuple[Any, ...], str] = {}  # what request.host_url gives for these environ values


def _host_url() -> str:
    env = request.environ
    key = (env.get("wsgi.url_scheme"), env.get("HTTP_HOST"), env.get("SERVER_NAME"), env.get("SERVER_PORT"))
    url = _host_urls.get(key)
    if url is None:
        url = request.host_url.rstrip("/")
        if len(_host_urls) < 256:
            _host_urls[key] = url
    return url


def api_url(path: str) -> str:
    base = services().settings.public_url.rstrip("/") or _host_url()
    return f"{base}{API_PREFIX}{path}"


def metadata(title: str, detail: str = "正常に終了しました。") -> dict[str, str]:
    return {"title": title, "detail": detail, "type": api_url("/openapi.json"), "instance": request.path}


def ok(title: str, results: Any, *, status: int = 200, **extra: Any) -> tuple[Response, int]:
    body = {"metadata": metadata(title), **{k: v for k, v in extra.items() if k == "resultset"}, "results": results}
    body.update({k: v for k, v in extra.items() if k != "resultset"})
    return jsonify(body), status


def error_body(exc: FilingError, *, withdraw: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"title": exc.title, "detail": exc.detail, "type": api_url("/openapi.json"),
                            "instance": request.path}
    if exc.report:
        body["report_list"] = [r.as_withdraw_dict() if withdraw else r.as_dict() for r in exc.report]
    return body


def unauthorized(description: str | None) -> Response:
    challenge = f'Bearer realm="{REALM}"'
    if description:
        challenge += f', error="invalid_token", error_description="{description}"'
    return Response(status=401, headers={"WWW-Authenticate": challenge})


def is_trial() -> bool:
    return request.headers.get("X-eGovAPI-Trial", "").strip().lower() == "true"


def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require `Authorization: Bearer <token>`; 401 with no body otherwise (as the spec says)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = bearer_token()
        if token is None:
            return unauthorized(None)
        try:
            ctx = authenticate_bearer(services(), token)
        except InvalidTokenError as exc:
            return unauthorized(str(exc))
        sign_in(ctx)
        return view(*args, **kwargs)

    return wrapper


def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


def sign_in(ctx: AccessContext) -> Caller:
    """Make a checked token the request's caller (g.access, g.caller)."""
    g.access = ctx
    g.caller = Caller(account_id=ctx.account_id, username=ctx.username, trial=is_trial())
    return g.caller


def _request_now() -> Any:
    access = g.get("access")  # the bearer check already read the clock: reuse that instant
    return access.now if access is not None and access.now is not None else services().clock.now()


@contextmanager
def filing() -> Iterator[FilingService]:
    """A filing unit of work at the virtual "now" of this request."""
    svc = services()
    now = _request_now()
    with svc.db.session() as session:
        yield FilingService(session, svc.catalogue, now)


@contextmanager
def reading() -> Iterator[FilingService]:
    """Read-only filing views on a plain connection (no ORM session: the status poll's path)."""
    svc = services()
    now = _request_now()
    with svc.db.engine.connect() as conn:
        yield FilingService(None, svc.catalogue, now, connection=conn)


def session_scope() -> Any:
    return services().db.session()


def query_date(name: str) -> date:
    """A YYYY-MM-DD query parameter, or a spec-shaped 400."""
    value = request.args.get(name, "")
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name}はYYYY-MM-DD形式で指定してください。") from None


def query_int(name: str, default: int, low: int, high: int) -> int:
    """An optional integer query parameter within [low, high], or a spec-shaped 400."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise bad_request(f"{name}は{low}から{high}までの数値で指定してください。")
    return int(value)


def register_error_handlers(bp: Blueprint, *, withdraw_paths: tuple[str, ...] = ()) -> None:
    @bp.errorhandler(FilingError)
    def _filing_error(exc: FilingError) -> tuple[Response, int]:
        withdraw = request.path.endswith(withdraw_paths) if withdraw_paths else False
        return jsonify(error_body(exc, withdraw=withdraw)), exc.status

    @bp.errorhandler(NotFound)
    def _not_found(_exc: NotFound) -> Response:
        return Response(status=404)


__all__ = ["Session", "authenticated", "filing", "ok", "reading", "register_error_handlers"]
