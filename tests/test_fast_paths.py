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
from egov_sim.filing.v2.fast_poll import FAST_POLL_KEY
from egov_sim.idp import egov_tokens
from egov_sim.idp.egov_tokens import issue_tokens_for
from egov_sim.store.models import Account, Application, ApplicationAction, AuthSession, ClockRow
from egov_sim.store.ops_tables import ApplicationHold
from egov_sim.world.packages import sample_package
from sqlalchemy import bindparam, select, update

PROC = "950A010700005000"


def _submit(egov: EgovClient, services, signer) -> str:
    return egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id


def _journal(http: httpx.Client) -> dict:
    entry = http.get("/__admin/requests", params={"limit": 1}).json()["requests"][0]
    return {k: v for k, v in entry.items() if k not in ("id", "duration_ms")}


def _both(http: httpx.Client, monkeypatch: pytest.MonkeyPatch, path: str, headers: dict[str, str]):
    """The poll answered by the fast paths (the WSGI step fast_poll.py, the view's one read) and by the
    general path (both switched off), each with the journal entry it left."""
    fast_poll = http._transport.app.extensions[FAST_POLL_KEY]  # type: ignore[attr-defined]
    fast = http.get(path, headers=headers)
    fast.journal = _journal(http)  # type: ignore[attr-defined]
    with monkeypatch.context() as m:
        m.setattr(fast_poll, "enabled", False)
        m.setattr(api, "bearer_token", lambda: None)  # the view's gate sends every request the general way
        general = http.get(path, headers=headers)
        general.journal = _journal(http)  # type: ignore[attr-defined]
    return fast, general


def _same(fast: httpx.Response, general: httpx.Response) -> None:
    """The same status, headers (in order) and bytes, and the same journal entry."""
    assert (fast.status_code, fast.headers.multi_items(), fast.content) == \
        (general.status_code, general.headers.multi_items(), general.content)
    assert fast.journal == general.journal  # type: ignore[attr-defined]


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
    hits = http._transport.app.extensions[FAST_POLL_KEY].hits  # type: ignore[attr-defined]
    for step in ("PT0S", "PT10M", "PT2H", "P2DT22H", "PT1H"):
        advance(services, step)
        headers = _bearer(services, world)  # a fresh token: access tokens live an hour
        fast, general = _both(http, monkeypatch, path, headers)
        _same(fast, general)
        assert fast.status_code == 200, (step, fast.status_code)
        seen.append(fast.json()["results"]["status"])
    assert seen == ["到達", "到達", "審査中", "審査終了", "手続終了"]
    assert http._transport.app.extensions[FAST_POLL_KEY].hits == hits + 5  # type: ignore[attr-defined]
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
    services.clock.update(frozen=True)  # the journal entries compared carry the virtual time
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


def test_the_wsgi_poll_steps_aside_at_once_when_another_process_gives_the_ops_room_work(template_db, tmp_path) -> None:
    """Two server processes on one database (two apps): A answers polls at the WSGI step; a fault rule or
    a maintenance window added through B reaches A's very next poll (answered by the rule / window),
    though A holds a copy of the ops room younger than its cache time; removed, A is fast again."""
    import shutil

    from conftest import certificate_signer
    from egov_client.config import simulator
    from egov_sim import Settings, create_app
    from egov_sim.world.demo import load_world

    shutil.copy(template_db, tmp_path / "sim.sqlite")
    apps = [create_app(Settings(database_url=f"sqlite:///{tmp_path / 'sim.sqlite'}", data_dir=tmp_path,
                                public_url="http://sim.test")) for _ in range(2)]
    a, b = (app.test_client() for app in apps)
    fast = apps[0].extensions[FAST_POLL_KEY]
    try:
        svc = apps[0].extensions["egov_sim"]
        world = load_world(svc)
        with httpx.Client(transport=httpx.WSGITransport(app=apps[0]), base_url="http://sim.test") as http:
            endpoint = simulator("http://sim.test").with_credentials(world.client_id, world.client_secret,
                                                                    world.redirect_uris[0])
            account = world.account("demo")
            egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
            arrive_id = _submit(egov, svc, certificate_signer(svc, "valid"))
            headers = {"Authorization": f"Bearer {egov.tokens.access_token}"}
        path = f"/shinsei/v2/apply/{arrive_id}"
        assert a.get(path, headers=headers).status_code == 200 and fast.hits == 1
        rule = {"match": {"method": "GET", "path": "/shinsei/v2/apply/*"}, "action": {"status": 503, "retry_after": 0}}
        assert b.post("/__admin/faults", json=rule).status_code == 201
        assert a.get(path, headers=headers).status_code == 503 and fast.hits == 1  # at once, the general path
        assert b.delete("/__admin/faults").status_code in (200, 204)
        assert a.get(path, headers=headers).status_code == 200 and fast.hits == 2
        now = svc.clock.now().replace(microsecond=0)
        window = {"start": now.isoformat(), "end": (now + timedelta(hours=2)).isoformat()}
        assert b.post("/__admin/maintenance", json=window).status_code == 201, b.post
        assert a.get(path, headers=headers).status_code == 503 and fast.hits == 2
    finally:
        for app in apps:
            app.extensions["egov_sim"].db.dispose()
