"""The status poll without Flask: GET /shinsei/v2/apply/{arrive_id} with a bearer token, answered at the
WSGI step when nothing but the poll itself acts on it — no maintenance window in the world's calendar,
no fault rule, no latency profile — and the answer is the caller's own case (200).

It runs the same rules as the view (`apply.get_application`): `bearer_claims` and poll.py's one read for
the token and the case, `FilingBackend.present_own_case` for the results, the `ok` envelope, the ops
journal. Anything else — another method or path, a query string, a refused token, a case that is not the
caller's own, a failure of any kind (the database down) — goes to the Flask app untouched, which answers
it the general way. tests/test_fast_paths.py holds both paths equal byte for byte.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.datastructures import EnvironHeaders

from ...clock import format_datetime
from ...idp.egov_tokens import InvalidTokenError, bearer_claims
from ...ops.middleware import GENERATION_COLUMN, OPS_KEY, OpsRoom, OpsState, journal_entry, peek_claims
from ...services import Services
from ...store.outage import OUTAGE_ERRORS
from ...worlds import EXTENSION, Worlds
from .. import poll
from ..backend import FilingBackend
from ..cases import Caller
from .auth import trial_of
from .parse import ARRIVE_ID
from .render import API_PREFIX, envelope

log = logging.getLogger("egov_sim.fast_poll")
FAST_POLL_KEY = "egov_sim.fast_poll"  # app.extensions: the FastPoll step (`enabled`, `hits`)
PREFIX = API_PREFIX + "/apply/"

StartResponse = Callable[..., Any]
STATEMENT = poll.with_columns(GENERATION_COLUMN)  # the case and the ops generation in one round trip


def _acts(room: OpsRoom) -> bool:
    """Whether the ops room has anything to do with a request: a maintenance window, a rule, a profile."""
    return bool(room.calendar or room.rules or (room.latency.profile != "off" and room.latency.scale > 0))


class FastPoll:
    """The WSGI step in front of the app (installed by create_app)."""

    def __init__(self, app: Flask, wsgi_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.enabled = True  # False: every request the general way (the tests compare the two)
        self.hits = 0  # answered here

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if (self.enabled and environ.get("REQUEST_METHOD") == "GET" and path.startswith(PREFIX) and not environ.get("QUERY_STRING")
                and not environ.get("SCRIPT_NAME") and environ.get("CONTENT_LENGTH") in (None, "", "0")):
            try:
                answer = self._answer(environ, path)
            except Exception:  # a fault of this shortcut must not become the answer: the app answers
                log.exception("fast poll: %s answered by the general path after an error", path)
                answer = None
            if answer is not None:
                self.hits += 1
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict[str, Any], path: str) -> tuple[str, list[tuple[str, str]], bytes] | None:
        t0 = time.perf_counter()
        arrive_id = path[len(PREFIX):]
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        trial = trial_of(environ.get("HTTP_X_EGOVAPI_TRIAL"))
        if scheme.lower() != "bearer" or not token or not ARRIVE_ID.match(arrive_id) or trial is None:
            return None  # the view answers (a refused X-eGovAPI-Trial: its 400)
        claims = peek_claims(token)
        if claims is None:
            return None
        try:
            svc, ops = self._world(str(claims.get("azp", "")))
            room = ops.recent_room()
            if room is None or _acts(room):  # no recent copy, or one that acts: is it still so?
                room = ops.room(svc)
            if _acts(room):
                return None  # the ops room acts on this request: the general path
            own = poll.read_own_case(svc.db, bearer_claims(svc, token), arrive_id, trial,
                                     statement=STATEMENT, extra=1)
            if own.extra[0] != ops.generation and _acts(ops.room(svc, own.extra[0])):
                return None  # the ops room changed since the copy in hand, and acts now
        except (InvalidTokenError, *OUTAGE_ERRORS):
            return None  # the view answers the refusal (401) or the outage (503) in its own way
        if own.case is None:
            return None  # shared with the caller, or nobody's: the view
        access = own.access
        assert access.now is not None
        caller = Caller(account_id=access.account_id, username=access.username, trial=trial, idp=access.idp)
        results = FilingBackend(None, svc.catalogue, access.now).present_own_case(caller, own.case, own.actions)
        answer = envelope("申請案件取得", results, path, svc.settings.base_url)
        body = (self.app.json.dumps(answer, separators=(",", ":")) + "\n").encode()  # as jsonify writes it
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        ops.journal.add(journal_entry(
            ops.journal, at=format_datetime(access.now), method="GET", path=path, query="", account=access.username,
            claimed_account=None, status=200, t0=t0, request_headers=EnvironHeaders(environ), request_body=None,
            response_headers=dict(headers), response_body=body))
        return "200 OK", headers, body

    def _world(self, client_id: str) -> tuple[Services, OpsState]:
        """The world of the token's software (as world_routing chooses it) and its ops room."""
        default_ops: OpsState = self.app.extensions[OPS_KEY]
        world = self._worlds.route(client_id)
        if world is None:
            return self.app.extensions["egov_sim"], default_ops
        return world.services, world.ops(default_ops, self.app)

    @property
    def _worlds(self) -> Worlds:
        return self.app.extensions[EXTENSION]
