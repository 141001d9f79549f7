"""Cold start (issue 14): what start-up no longer does eagerly is still right when first needed.

A freshly spawned `egov-sim serve` answers its very first poll, token refresh and submission
correctly (no readiness probe before them), checked against the official OpenAPI document and, for
the token, PyJWT verifying it with the server's published JWKS. The URL builders compiled on first
use (egov_sim/lazyrules.py) build exactly what werkzeug's own rules build, for every route.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from egov_format.signing import load_pkcs12
from egov_sim import Settings, create_app
from egov_sim.idp.egov_tokens import issue_tokens_for
from egov_sim.store.models import Account
from egov_sim.world.demo import certificate_for, load_world
from egov_sim.world.packages import sample_package
from flask import Flask
from load_support import free_port, serving
from openapi_schemas import validate_response
from sqlalchemy import select
from werkzeug.routing import Map, Rule

PROC_ID = "950A010700005000"
FIRST_ANSWER_S = 20.0  # generous for a shared 2-core machine; a lazy path that hangs or loops fails


def _prepare(data_dir: Path, template_db: Path, base: str) -> dict[str, Any]:
    """The served world's token, refresh token, one application to poll and a signed body to send."""
    data_dir.mkdir(parents=True)
    shutil.copy(template_db, data_dir / "egov-sim.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{data_dir / 'egov-sim.sqlite'}", data_dir=data_dir,
                              public_url=base))
    svc = app.extensions["egov_sim"]
    world = load_world(svc)
    assert world is not None
    with svc.db.session() as s:
        account_id = s.scalars(select(Account.id).where(Account.username == world.account("demo")["username"])).one()
    tokens = issue_tokens_for(svc, account_id, world.client_id, f"{base}/auth")
    p12, password, _ = certificate_for(svc, "valid")
    signer = load_pkcs12(p12, password)
    bodies = [json.dumps({"proc_id": PROC_ID, "send_file": {"file_name": f"cold{i}.zip", "file_data": base64.b64encode(
        sample_package(svc.catalogue, PROC_ID, signer, corporation_name=f"株式会社コールド{i}").to_zip()).decode()}})
        for i in range(2)]
    auth = {"Authorization": f"Bearer {tokens['access_token']}", "Content-Type": "application/json"}
    sent = app.test_client().post("/shinsei/v2/apply", data=bodies[0], headers=auth)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    svc.db.dispose()
    return {"auth": auth, "refresh": tokens["refresh_token"], "arrive_id": sent.get_json()["results"]["arrive_id"],
            "body": bodies[1], "basic": base64.b64encode(f"{world.client_id}:{world.client_secret}".encode()).decode()}


def _first(send: Any) -> tuple[httpx.Response, float]:
    """The first HTTP answer: retried only while nothing listens yet (connection refused)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            started = time.monotonic()
            return send(), time.monotonic() - started
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


SERVERS = [pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"needs {name}"))
           for name in ("granian", "gunicorn")]


@pytest.mark.parametrize("server", SERVERS)
def test_a_fresh_server_answers_its_first_poll_refresh_and_submission(server: str, template_db: Path,
                                                                      tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    world = _prepare(tmp_path / "d", template_db, base)
    with serving(tmp_path / "d", "--server", server, "--workers", "2", port=port, wait=False), \
            httpx.Client(base_url=base, timeout=FIRST_ANSWER_S) as http:
        poll, _ = _first(lambda: http.get(f"/shinsei/v2/apply/{world['arrive_id']}", headers=world["auth"]))
        assert poll.status_code == 200, poll.text
        validate_response(f"/shinsei/v2/apply/{world['arrive_id']}", "get", 200, poll.json())
        assert poll.json()["results"]["arrive_id"] == world["arrive_id"]

        started = time.monotonic()
        refreshed = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": world["refresh"]},
                              headers={"Authorization": f"Basic {world['basic']}"})
        assert refreshed.status_code == 200, refreshed.text
        validate_response("/token", "post", 200, refreshed.json())
        jwks = http.get("/auth/certs").json()
        access = refreshed.json()["access_token"]
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(access)["kid"]]
        claims = jwt.decode(access, key.key, algorithms=["RS256"], options={"verify_aud": False})
        assert claims["iss"] == f"{base}/auth"  # signed by the key the server loaded at its first request

        sent = http.post("/shinsei/v2/apply", content=world["body"], headers=world["auth"])
        assert sent.status_code == 200, sent.text
        validate_response("/shinsei/v2/apply", "post", 200, sent.json())
        assert time.monotonic() - started < 2 * FIRST_ANSWER_S
        again = http.get(f"/shinsei/v2/apply/{sent.json()['results']['arrive_id']}",
                         headers={"Authorization": f"Bearer {access}"})  # the refreshed token works too
        assert again.status_code == 200, again.text


def test_url_builders_compiled_on_first_use_build_what_werkzeug_builds(sim: Flask) -> None:
    """Every route of the app, built with and without extra query arguments, against werkzeug's Rule."""
    rules = list(sim.url_map.iter_rules())
    assert len(rules) > 100
    plain = Map([Rule(r.rule, endpoint=r.endpoint, defaults=r.defaults, methods=r.methods,
                      strict_slashes=r.strict_slashes, merge_slashes=r.merge_slashes) for r in rules],
                converters=sim.url_map.converters)
    lazy = sim.url_map.bind("sim.test", script_name="/w")
    eager = plain.bind("sim.test", script_name="/w")
    built = 0
    for rule in rules:
        values = {arg: 7 if type(rule._converters[arg]).__name__ == "IntegerConverter" else f"v {arg}/é"
                  for arg in rule.arguments if arg not in (rule.defaults or {})}
        for extra in ({}, {"q": "a b", "n": ["1", "2"]}):
            method = sorted(rule.methods or {"GET"})[0]
            assert lazy.build(rule.endpoint, {**values, **extra}, method=method) == \
                eager.build(rule.endpoint, {**values, **extra}, method=method), rule.rule
            built += 1
    assert built == 2 * len(rules)


def test_a_worker_skips_the_checks_its_main_process_did_and_only_those(template_db: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from egov_sim import startup
    from egov_sim.store import Database

    db_file = tmp_path / "egov-sim.sqlite"
    shutil.copy(template_db, db_file)
    settings = Settings(database_url=f"sqlite:///{db_file}", data_dir=tmp_path)
    monkeypatch.delenv(startup.ENV, raising=False)
    main = create_app(settings)  # serve's main process: the full start, then the mark for its workers
    startup.mark_initialised(main.extensions["egov_sim"].db)
    main.extensions["egov_sim"].db.dispose()
    checks: list[str] = []
    real = Database.create_schema
    monkeypatch.setattr(Database, "create_schema", lambda self: (checks.append(self.url), real(self))[1])

    worker = create_app(settings)
    assert checks == []
    assert worker.test_client().get("/__admin/clock").status_code == 200
    worker.extensions["egov_sim"].db.dispose()

    db_file.unlink()  # the mark names this database, but it is gone: the worker makes it again
    for extra in ("-wal", "-shm"):
        Path(f"{db_file}{extra}").unlink(missing_ok=True)
    again = create_app(settings)
    assert checks == [settings.resolved_database_url]
    assert load_world(again.extensions["egov_sim"]) is not None
    again.extensions["egov_sim"].db.dispose()

    other = Settings(database_url=f"sqlite:///{tmp_path / 'other.sqlite'}", data_dir=tmp_path)
    create_app(other).extensions["egov_sim"].db.dispose()  # another database: not covered by the mark
    assert checks[-1] == other.resolved_database_url


CHILD = """
import sys
from egov_sim import serving
serving.run = lambda *a, **k: None
from egov_sim.cli import main
main(sys.argv[1:], standalone_mode=False)
from egov_sim.store.outage import OUTAGE_ERRORS
print("loaded" if "psycopg" in sys.modules else "absent", *sorted({e.__module__.split(".")[0] for e in OUTAGE_ERRORS}))
"""


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="needs psycopg (pg extra)")
def test_serve_on_sqlite_does_not_import_psycopg_and_other_imports_still_know_its_errors(
        template_db: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from load_support import env

    shutil.copy(template_db, tmp_path / "egov-sim.sqlite")
    out = subprocess.run([sys.executable, "-c", CHILD, "serve", "--quiet", "--port", str(free_port()), "--data-dir",
                          str(tmp_path), "--server", "granian"], env=env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-3:] == ["absent", "sqlalchemy", "sqlite3"]
    imported = subprocess.run([sys.executable, "-c", "import sys; from egov_sim.store.outage import OUTAGE_ERRORS; "
                               "import psycopg; print(psycopg.OperationalError in OUTAGE_ERRORS, "
                               "'EGOV_SIM_SQLITE_ONLY' in __import__('os').environ)"],
                              env=env(), capture_output=True, text=True, timeout=60)
    assert imported.stdout.split() == ["True", "False"], imported.stderr[-2000:]
