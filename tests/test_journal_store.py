"""The request journal in the database (ops/journal_store.py): shared by the processes of a deployment.

Two `create_app` on one SQLite file stand for two processes (each its own flusher thread, process row
and memory); one test serves `egov-sim serve --workers 2` for real. The oracle for what is stored is
SQLite itself (sqlite3 counts of the `egov_journal` table), not our reader.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import BASE
from egov_sim import Settings, create_app
from egov_sim.ops import journal_store
from flask import Flask
from served import ROOT


def _app(db_file: Path, data_dir: Path, **settings: object) -> Flask:
    return create_app(Settings(database_url=f"sqlite:///{db_file}", data_dir=data_dir, public_url=BASE,
                               journal_store="database", **settings))  # type: ignore[arg-type]


@pytest.fixture
def two(template_db: Path, tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two apps ("processes") on one database, each with its own client."""
    db_file = tmp_path / "sim.sqlite"
    shutil.copy(template_db, db_file)
    apps = [_app(db_file, tmp_path), _app(db_file, tmp_path)]
    clients = [httpx.Client(transport=httpx.WSGITransport(app=a), base_url=BASE) for a in apps]
    yield clients[0], clients[1]
    for client, app in zip(clients, apps, strict=True):
        client.close()
        app.extensions[journal_store.FLUSHER_KEY].close()
        app.extensions["egov_sim"].db.dispose()


def _rows(db_file: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT id, path FROM egov_journal ORDER BY id").fetchall()


def test_two_processes_see_each_others_requests_with_unique_increasing_ids(two, tmp_path: Path) -> None:
    a, b = two
    for i in range(3):
        assert a.get(f"/shinsei/v2/apply/lists?a={i}").status_code == 401  # journaled (no token)
        assert b.get(f"/shinsei/v2/apply/lists?b={i}").status_code == 401
    seen_by_a = a.get("/__admin/requests", params={"path": "/shinsei/v2/*"}).json()
    seen_by_b = b.get("/__admin/requests", params={"path": "/shinsei/v2/*"}).json()
    assert sorted(e["query"] for e in seen_by_a["requests"]) == ["a=0", "a=1", "a=2", "b=0", "b=1", "b=2"]
    assert seen_by_b["requests"] == seen_by_a["requests"]
    ids = [e["id"] for e in seen_by_a["requests"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6 and min(ids) > 0
    stored = [i for i, path in _rows(tmp_path / "sim.sqlite") if path.startswith("/shinsei/v2/")]
    assert sorted(stored) == sorted(ids)  # what SQLite holds is what both answer
    one = b.get(f"/__admin/requests/{ids[-1]}").json()  # one entry, asked of the other process
    assert one["path"] == "/shinsei/v2/apply/lists" and one["status"] == 401 and one["response_headers"]


def test_the_table_is_trimmed_to_the_journal_size(template_db: Path, tmp_path: Path) -> None:
    db_file = tmp_path / "sim.sqlite"
    shutil.copy(template_db, db_file)
    app = _app(db_file, tmp_path, journal_size=3)
    try:
        http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE)
        for i in range(7):
            http.get(f"/shinsei/v2/apply/lists?n={i}")
        listed = http.get("/__admin/requests").json()
        assert listed["size"] == 3 and [e["query"] for e in listed["requests"]] == ["n=6", "n=5", "n=4"]
        assert len(_rows(db_file)) == 3  # trimmed in the database, not only in the answer
        http.get("/shinsei/v2/apply/lists?n=7")
        http.get("/__admin/requests")
        rows = _rows(db_file)
        assert len(rows) == 3 and rows[0][0] > listed["requests"][-1]["id"]
    finally:
        app.extensions[journal_store.FLUSHER_KEY].close()
        app.extensions["egov_sim"].db.dispose()


def test_a_reset_clears_the_journal_of_its_world_only_in_every_process(two) -> None:
    a, b = two
    creds = a.post("/__admin/worlds").json()
    world = creds["id"]
    a.get("/shinsei/v2/apply/lists?default=1")
    # the world's own traffic: its token endpoint, routed by the world's client id
    b.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(creds["client_id"], "wrong"))
    before = a.get("/__admin/requests").json()["requests"]
    assert [e["query"] for e in before] == ["default=1"]
    inside = a.get(f"/__admin/worlds/{world}/requests").json()["requests"]
    assert [e["path"] for e in inside] == ["/auth/token"]
    assert b.post(f"/__admin/worlds/{world}/reset").status_code == 200
    assert a.get(f"/__admin/worlds/{world}/requests").json()["requests"] == []
    assert b.get("/__admin/requests").json()["requests"] == before  # the default world's is untouched
    b.post("/__admin/reset")
    assert a.get("/__admin/requests").json()["requests"] == []


def test_a_journal_that_cannot_be_written_is_logged_once_and_never_fails_a_request(
        template_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_file = tmp_path / "sim.sqlite"
    shutil.copy(template_db, db_file)
    app = _app(db_file, tmp_path)
    flusher = None
    try:
        http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE)
        http.get("/shinsei/v2/apply/lists")
        http.get("/__admin/requests")
        flusher = app.extensions[journal_store.FLUSHER_KEY]
        with sqlite3.connect(db_file) as conn:  # the journal's table unwritable: every flush fails
            conn.execute("DROP TABLE egov_journal")
            conn.execute("CREATE VIEW egov_journal AS SELECT 1 AS id, '' AS method, '' AS path, NULL AS account, "
                         "0 AS status, '{}' AS data")
        with caplog.at_level(logging.WARNING, logger="egov_sim.journal"):
            for _ in range(5):
                assert http.get("/shinsei/v2/apply/lists").status_code == 401
                time.sleep(0.05)
        failures = [r for r in caplog.records if "cannot be written" in r.getMessage()]
        assert len(failures) == 1
    finally:
        if flusher is not None:
            flusher.close()
        app.extensions["egov_sim"].db.dispose()


def test_served_with_two_workers_one_journal_holds_every_request(tmp_path: Path) -> None:
    """granian spreads connections over its worker processes; each request on a connection of its own."""
    import os
    import sys

    sys.path.insert(0, str(ROOT / "loadtests"))
    from serveproc import serving

    if not os.environ.get("EGOV_SERVED_TESTS"):
        pytest.skip("serves two worker processes: set EGOV_SERVED_TESTS=1 (`make test-served`)")
    with serving(tmp_path, "--workers", "2", "--server", "granian") as (base, _proc):
        for i in range(24):
            httpx.get(f"{base}/shinsei/v2/apply/lists?n={i}", timeout=10)  # a new connection each
        found = httpx.get(f"{base}/__admin/requests", params={"path": "/shinsei/v2/apply/lists"}, timeout=10).json()
        assert sorted(e["query"] for e in found["requests"]) == sorted(f"n={i}" for i in range(24))
        with sqlite3.connect(tmp_path / "egov-sim.sqlite") as conn:
            live = conn.execute("SELECT count(*) FROM egov_journal_processes").fetchone()[0]
        assert live >= 2  # both workers wrote (each registers on its first entry)
