"""/shinsei/1, the legacy 外部連携API (「e-GovAPI申請」, retired 2024-01-31) as an XML face of the
same FilingBackend: parse XML → backend method → render the legacy envelope. The authentication
family (auth.py) takes XMLDSig-signed bodies; the access family (access.py) an access key.
Every error is the envelope with Code 1 and a Japanese Message; nothing is stored then."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ...ops.outage_http import outage_answer
from ...services import services
from ..backend import FilingBackend
from ..cases import Caller
from ..errors import FilingError, NotFound
from ..hooks import NO_HOOKS, HookAnswer
from . import tables  # noqa: F401  (the tables are created with the schema)
from .config import LegacySettings
from .envelope import Node, blank, respond
from .errors import MALFORMED, SYSTEM_ERROR, LegacyError
from .users import LegacyUsers

PREFIX = "/shinsei/1"
SETTINGS_KEY = "egov_sim_legacy"
SOFTWARE_HEADER = "X-eGovAPI-SoftwareID"
ACCESS_KEY_HEADER = "X-eGovAPI-AccessKey"
NO_CASE = "該当する申請情報が存在しません。"

bp = Blueprint("legacy", __name__, url_prefix=PREFIX)


def install(app: Flask, settings: LegacySettings | None = None) -> None:
    from . import access, auth  # noqa: F401  (their views register on bp)

    app.extensions[SETTINGS_KEY] = settings or LegacySettings.from_env()
    app.register_blueprint(bp)


def legacy_settings() -> LegacySettings:
    return current_app.extensions[SETTINGS_KEY]


@dataclass
class Unit:
    users: LegacyUsers
    backend: FilingBackend
    software_id: str


@contextmanager
def unit() -> Iterator[Unit]:
    """One unit of work at the request's virtual now, committed when the block ends without error."""
    svc = services()
    now = svc.clock.now()
    with svc.db.session() as session:
        users = LegacyUsers(session, now, key_lifetime=legacy_settings().access_key_timedelta)
        software_id = users.check_software(request.headers.get(SOFTWARE_HEADER))
        yield Unit(users, FilingBackend(session, svc.catalogue, now, hooks=g.get("filing_hooks", NO_HOOKS),
                                        max_file_bytes=svc.settings.max_file_bytes,
                                        form_item_max_chars=svc.settings.form_item_max_chars), software_id)


@contextmanager
def authorized() -> Iterator[tuple[Caller, FilingBackend]]:
    """The access family: software ID, then the access key, before any work; then the fault rules on
    the caller's account (the access key names nobody to the middleware) act."""
    with unit() as u:
        caller = g.caller = u.users.caller(u.software_id, request.headers.get(ACCESS_KEY_HEADER))  # journal's too
        g.get("filing_hooks", NO_HOOKS).authenticated(caller.username)
        yield caller, u.backend


# --- the skeleton of each operation's ApplData, for its error answers -------------------------------------

SKELETONS: dict[str, list[Node]] = {}


def skeleton(*tags: str):  # type: ignore[no-untyped-def]
    """Declare a view's top-level ApplData elements (kept, emptied, in its error answers)."""
    def mark(view):  # type: ignore[no-untyped-def]
        SKELETONS[f"{bp.name}.{view.__name__}"] = [(t, "") for t in tags]
        return view
    return mark


def _error(message: str, status: int, echo: dict[str, str] | None = None) -> Response:
    appl = blank(SKELETONS.get(request.endpoint or "", []))
    appl = [(tag, (echo or {}).get(tag, value)) for tag, value in appl]
    return respond(appl, status, message=message)


@bp.errorhandler(LegacyError)
def _legacy_error(exc: LegacyError) -> Response:
    return _error(exc.message, exc.status, exc.echo)


@bp.errorhandler(FilingError)
def _filing_error(exc: FilingError) -> Response:
    """The backend's refusal in its own words; report items follow the sentence."""
    details = "".join(f"（{r.content}）" for r in exc.report[:5])
    status = exc.status if exc.status in (400, 413) else 500
    return _error(exc.detail + details if status != 500 else SYSTEM_ERROR, status)


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> Response:
    return _error(NO_CASE, 400)


@bp.errorhandler(HookAnswer)
def _hook_answer(exc: HookAnswer) -> Response:
    """A fault's answer from inside the operation (rolled back), in the legacy envelope."""
    return ops_answer(exc.response)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        return _error("送信データの容量が上限を超えています。", 413)
    return _error(MALFORMED if (exc.code or 400) < 500 else SYSTEM_ERROR, exc.code or 400)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    outage = outage_answer(exc)  # the database unreachable: 503 with Retry-After, as on v2
    if outage is not None:
        return ops_answer(outage)
    current_app.logger.error("unhandled error on %s", request.path, exc_info=exc)
    return _error(SYSTEM_ERROR, 500)


@bp.after_request
def ops_answer(response: Response) -> Response:
    """Maintenance windows and injected faults (ops middleware, given in v2's problem shape) answer in
    the legacy envelope too: the status kept, `detail` and report items as the Message."""
    if response.status_code < 400 or response.mimetype == "text/xml" or response.is_streamed:
        return response
    try:
        body = json.loads(response.get_data() or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    items = [r.get("content", "") for r in body.get("report_list") or [] if isinstance(r, dict)]
    message = str(body.get("detail") or SYSTEM_ERROR) + "".join(f"（{c}）" for c in items[:5] if c)
    answer = _error(message, response.status_code)
    for name in ("Retry-After", "X-Egov-Sim-Maintenance-End"):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(_rest: str) -> Any:
    raise LegacyError("指定されたURIは存在しません。", 404)
