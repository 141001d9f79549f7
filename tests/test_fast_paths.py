"""The hot paths' fast implementations answer exactly as the general ones: the status poll's one
statement read (filing/poll.py) against the general path, prepared reads (store/prepared.py)
against SQLAlchemy's own execution, HS512 refresh tokens (and the RS256 ones issued before)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import jwt
import pytest
from conftest import advance
from egov_client import EgovClient
from egov_sim.filing.v2 import apply as api
from egov_sim.idp import egov_tokens
from egov_sim.idp.egov_tokens import issue_tokens_for
from egov_sim.store.models import Account, Application, ApplicationAction, AuthSession, ClockRow
from egov_sim.store.ops_tables import ApplicationHold
from egov_sim.world.packages import sample_package
from sqlalchemy import bindparam, select, update

PROC = "950A010700005000"


def _submit(egov: EgovClient, services, signer) -> str:
    return egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id


def _both(http: httpx.Client, monkeypatch: pytest.MonkeyPatch, path: str, headers: dict[str, str]):
    """The poll answered by the fast path and by the general path (the fast path switched off)."""
    fast = http.get(path, headers=headers)
    with monkeypatch.context() as m:
        m.setattr(api, "bearer_token", lambda: None)  # the gate sends every request the general way
        general = http.get(path, headers=headers)
    return fast, general


def _same(fast: httpx.Response, general: httpx.Response) -> None:
    assert (fast.status_code, fast.content, fast.headers.get("WWW-Authenticate")) == \
        (general.status_code, general.content, general.headers.get("WWW-Authenticate"))


def _bearer(services, world, alias: str = "demo") -> dict[str, str]:
    with services.db.session() as s:
        account = s.scalar(select(Account.id).where(Account.username == world.account(alias)["username"]))
    token = issue_tokens_for(services, account, world.client_id, "http://sim.test/auth")["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_poll_answers_as_the_general_path_through_a_case_life(egov, http, services, signer, world,
                                                                  monkeypatch) -> None:
    services.clock.update(frozen=True)
    arrive_id = _submit(egov, services, signer)
    path = f"/shinsei/v2/apply/{arrive_id}"
    seen = []
    for step in ("PT0S", "PT10M", "PT2H", "P2DT22H", "PT1H"):
        advance(services, step)
        headers = _bearer(services, world)  # a fresh token: access tokens live an hour
        fast, general = _both(http, monkeypatch, path, headers)
        _same(fast, general)
        assert fast.status_code == 200, (step, fast.status_code)
        seen.append(fast.json()["results"]["status"])
    assert seen == ["到達", "到達", "審査中", "審査終了", "手続終了"]
    with services.db.session() as s:  # actions come with the case, in order, their JSON parsed
        app_id = s.scalar(select(Application.id).where(Application.arrive_id == arrive_id))
        now = services.clock.now()
        s.add(ApplicationAction(application_id=app_id, kind="complete", at=now, data={"notice_sub_id": 1}))
    _same(*_both(http, monkeypatch, path, headers))


def test_the_poll_hides_held_cases_and_other_accounts_as_the_general_path(egov, http, services, signer, world,
                                                                           monkeypatch) -> None:
    services.clock.update(frozen=True)
    arrive_id = _submit(egov, services, signer)
    path = f"/shinsei/v2/apply/{arrive_id}"
    headers = {"Authorization": f"Bearer {egov.tokens.access_token}"}
    with services.db.session() as s:
        app_id = s.scalar(select(Application.id).where(Application.arrive_id == arrive_id))
        s.add(ApplicationHold(application_id=app_id, hidden_until=services.clock.now() + timedelta(minutes=5)))
    fast, general = _both(http, monkeypatch, path, headers)
    _same(fast, general)
    assert fast.status_code == 404
    advance(services, "PT6M")
    fast, general = _both(http, monkeypatch, path, headers)
    _same(fast, general)
    assert fast.status_code == 200
    # trial mode, another account, an unknown number: the same answers as the general path
    _same(*_both(http, monkeypatch, path, {**headers, "X-eGovAPI-Trial": "true"}))
    _same(*_both(http, monkeypatch, path, _bearer(services, world, "hr")))
    _same(*_both(http, monkeypatch, "/shinsei/v2/apply/9500000000000000", headers))


def test_the_poll_refuses_tokens_as_the_general_path(egov, http, services, signer, monkeypatch) -> None:
    arrive_id = _submit(egov, services, signer)
    path = f"/shinsei/v2/apply/{arrive_id}"
    token = egov.tokens.access_token
    _same(*_both(http, monkeypatch, path, {"Authorization": "Bearer not-a-token"}))
    claims = jwt.decode(token, options={"verify_signature": False})
    with services.db.session() as s:
        s.execute(update(AuthSession).where(AuthSession.id == claims["sid"]).values(revoked_at=services.clock.now()))
    fast, general = _both(http, monkeypatch, path, {"Authorization": f"Bearer {token}"})
    _same(fast, general)
    assert fast.status_code == 401 and "Session not active" in fast.headers["WWW-Authenticate"]


def test_prepared_reads_convert_columns_as_sqlalchemy_does(egov, services, signer) -> None:
    _submit(egov, services, signer)
    statement = (select(Application.id, Application.arrive_at, Application.trial, Application.timeline,
                        Application.forms, ClockRow.anchor_virtual, ClockRow.frozen, ClockRow.speed)
                 .join(ClockRow, ClockRow.id == 1).where(Application.trial == bindparam("trial")))
    with services.db.engine.connect() as conn:
        expected = [tuple(r) for r in conn.execute(statement, {"trial": False})]
    with services.db.reads.connection() as conn:
        got = services.db.prepared(statement).rows(conn, {"trial": False})
    assert got == expected and got


# ---------------------------------------------------------------------------- refresh tokens

def _refresh(http: httpx.Client, world, refresh_token: str) -> httpx.Response:
    basic = base64.b64encode(f"{world.client_id}:{world.client_secret}".encode()).decode()
    return http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                     headers={"Authorization": f"Basic {basic}"})


def test_refresh_tokens_are_hs512_and_tampering_is_refused(http, services, world) -> None:
    with services.db.session() as s:
        account = s.scalar(select(Account.id).where(Account.username == world.account("demo")["username"]))
    first = issue_tokens_for(services, account, world.client_id, "http://sim.test/auth")["refresh_token"]
    assert jwt.get_unverified_header(first)["alg"] == "HS512"
    head, payload, signature = first.split(".")
    forged = jwt.decode(first, options={"verify_signature": False}) | {"sub": "someone-else"}
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged_payload}.{signature}", f"{head}.{payload}.{signature[:-4]}AAAA",
                f"{head}.{payload}.{signature}!", jwt.encode(forged, "guess" * 13, algorithm="HS512")):
        response = _refresh(http, world, bad)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant", bad
    response = _refresh(http, world, first)
    assert response.status_code == 200
    again = _refresh(http, world, first)
    assert again.json()["error_description"] == "Maximum allowed refresh token reuse exceeded"
    assert _refresh(http, world, response.json()["refresh_token"]).status_code == 400  # reuse ended the session


def test_rs256_refresh_tokens_issued_before_stay_valid(http, services, world) -> None:
    with services.db.session() as s:
        account = s.scalar(select(Account.id).where(Account.username == world.account("demo")["username"]))
    hs512 = issue_tokens_for(services, account, world.client_id, "http://sim.test/auth")["refresh_token"]
    claims = jwt.decode(hs512, options={"verify_signature": False})
    legacy = services.keys.get(egov_tokens.KEY_PURPOSE).sign(claims)  # as before HS512
    assert jwt.get_unverified_header(legacy)["alg"] == "RS256"
    assert _refresh(http, world, legacy).status_code == 200
