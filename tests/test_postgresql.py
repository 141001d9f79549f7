"""On a real PostgreSQL (issue 14): submissions do not wait for each other, and the server survives
its database — stopped and started again, requests answer 503 in the spec's shape with Retry-After
(never a 500), each failure is one log line, the server reconnects by itself, and a process started
during the outage waits for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from egov_client import EgovClient
from egov_client.config import simulator
from egov_client.errors import MaintenanceError
from egov_client.transport import NO_RETRY
from egov_sim import Settings, create_app
from egov_sim.world.demo import load_world
from flask import Flask
from openapi_schemas import validate_response
from pg_cluster import Cluster, throwaway_cluster

BASE = "http://sim.test"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def pg_app(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(Settings(database_url=cluster.url, data_dir=tmp_path_factory.mktemp("data"),
                              public_url=BASE))  # the admin guard accepts this host
    yield app
    app.extensions["egov_sim"].db.dispose()


def _client(app: Flask) -> tuple[EgovClient, httpx.Client]:
    world = load_world(app.extensions["egov_sim"])
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE)
    endpoint = simulator(BASE).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")
    return EgovClient.login(endpoint, account["username"], account["password"], http=http, retry=NO_RETRY), http


def test_an_outage_answers_503_with_retry_after_logs_one_line_each_and_reconnects(
        pg_app: Flask, cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    client, http = _client(pg_app)
    auth = {"Authorization": f"Bearer {client.store.load().access_token}"}
    assert http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-04-01", "date_to": "2024-04-02"},
                    headers=auth).status_code == 200
    cluster.stop()
    try:
        caplog.set_level(logging.WARNING)
        caplog.clear()
        answers = [http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-04-01", "date_to": "2024-04-02"},
                            headers=auth) for _ in range(3)]
        answers.append(http.post("/shinsei/v2/apply", headers=auth, json={"proc_id": "950A010700005000",
                                                                           "send_file": {"file_name": "a.zip",
                                                                                         "file_data": "UEsFBg=="}}))
        software = client.endpoint
        token = http.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                          auth=(software.client_id, software.client_secret))  # reaches the token store
        admin = http.get("/__admin/clock")
        for resp in answers:
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "5", resp.text
            validate_response(resp.request.url.path, resp.request.method.lower(), 503, resp.json())
            assert resp.json()["title"] == "Service Unavaiable"
        assert token.status_code == 503 and token.json()["error"] == "temporarily_unavailable"
        assert admin.status_code == 503 and admin.headers["Retry-After"] == "5"
        records = [r for r in caplog.records if r.name == "egov_sim.database"]
        assert len(records) == 6 and all(r.exc_info is None for r in records)
        assert "failure 6 of this outage" in records[-1].getMessage()
        assert all(len(r.getMessage()) < 400 for r in records)  # a summary, not a traceback
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        with pytest.raises(MaintenanceError):  # the client's own view: retryable, nothing processed
            client.list_applications(date_from=date(2024, 4, 1), date_to=date(2024, 4, 2))
    finally:
        cluster.start()
    # reconnects by itself: the pool's broken connections are discarded
    assert http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-04-01", "date_to": "2024-04-02"},
                    headers=auth).status_code == 200
    client.close()


def test_a_process_started_while_the_database_is_down_waits_for_it(cluster: Cluster, pg_app: Flask,
                                                                  tmp_path) -> None:
    cluster.stop()
    restarted = threading.Timer(1.5, cluster.start)
    restarted.start()
    t0 = time.monotonic()
    try:
        app = create_app(Settings(database_url=cluster.url, data_dir=tmp_path, database_start_wait=60))
    finally:
        restarted.join()
    assert time.monotonic() - t0 >= 1.0
    assert app.test_client().get("/__admin/clock").status_code == 200
    app.extensions["egov_sim"].db.dispose()
    cluster.stop()
    try:
        with pytest.raises(Exception) as err:  # the default (tests, scripts): fail at once
            create_app(Settings(database_url=cluster.url, data_dir=tmp_path))
        assert "connect" in str(err.value).lower()
    finally:
        cluster.start()


def test_concurrent_submissions_on_postgresql_do_not_wait_for_each_other(
        pg_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submission A is held inside its transaction, after its INSERT; submission B must still finish
    (arrive_id/send_number come from the id sequence, not from a placeholder in a unique column)."""
    from conftest import certificate_signer
    from egov_sim.filing import backend
    from egov_sim.world.packages import sample_package

    services = pg_app.extensions["egov_sim"]
    signer = certificate_signer(services, "valid")
    inside, release = threading.Event(), threading.Event()
    link = backend.amendment.link_resubmission

    def held_link(f, caller, app):  # runs after accept, inside the submission's transaction
        if threading.current_thread().name == "A":
            inside.set()
            release.wait(30)
        return link(f, caller, app)

    monkeypatch.setattr(backend.amendment, "link_resubmission", held_link)
    results: dict[str, str] = {}

    def submit(name: str) -> None:
        client, http = _client(pg_app)
        package = sample_package(services.catalogue, "950A010700005000", signer, corporation_name=f"株式会社{name}")
        results[name] = client.submit("950A010700005000", package.to_zip()).arrive_id
        http.close()

    a = threading.Thread(target=submit, args=("A",), name="A")
    a.start()
    assert inside.wait(30)
    b = threading.Thread(target=submit, args=("B",), name="B")
    b.start()
    b.join(20)
    b_finished = not b.is_alive()
    release.set()
    a.join(30)
    b.join(30)
    assert b_finished, "B waited for A's transaction"
    assert len(set(results.values())) == 2 and all(len(v) == 16 and v.isdigit() for v in results.values())


def test_the_integrity_soak_loses_and_duplicates_nothing_across_a_kill_and_a_restart(tmp_path) -> None:
    """CI's short run of loadtests/integrity.py (2 processes × 2 workers, a kill -9, a PostgreSQL restart)."""
    import subprocess
    import sys
    from pathlib import Path

    from pg_cluster import pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL server binaries (initdb) not found")
    script = Path(__file__).resolve().parent.parent / "loadtests" / "integrity.py"
    run = subprocess.run([sys.executable, str(script), "--duration", "8", "--threads", "4"], capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "duplicated arrive_ids among 200s  0" in run.stdout and "result" in run.stdout


def test_a_setting_written_by_many_threads_at_once_is_one_row_with_one_of_their_values(
        pg_app: Flask, cluster: Cluster) -> None:
    """Writers of a key that is not there yet (the ops generation on a fresh database): none fails on
    the other's insert. The row is counted on a connection of its own."""
    import uuid
    from threading import Barrier

    from egov_sim.store.kv import put_setting
    from sqlalchemy import create_engine, text

    db, key, start, failed = pg_app.extensions["egov_sim"].db, f"test.{uuid.uuid4().hex}", Barrier(8), []

    def write(n: int) -> None:
        start.wait()
        try:
            with db.session() as s:
                put_setting(s, key, {"n": n})
        except Exception as exc:  # collected for the assertion
            failed.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failed == []
    engine = create_engine(cluster.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT value FROM settings_kv WHERE key = :k"), {"k": key}).all()
    finally:
        engine.dispose()
    assert len(rows) == 1 and rows[0][0]["n"] in range(8)


def test_the_first_ids_of_a_table_taken_by_many_threads_at_once_are_all_different(pg_app: Flask) -> None:
    """Worlds' rows take their ids from one counter per table in the registry (worlds.py): the first
    allocations of a table, made at once (four test workers' first submissions, each in its world),
    each get an id of their own, none a 500."""
    import uuid
    from threading import Barrier

    from egov_sim.worlds import EXTENSION, WORLD_ID_BASE

    worlds, table, start, got, failed = pg_app.extensions[EXTENSION], f"t{uuid.uuid4().hex[:12]}", Barrier(8), [], []

    def take() -> None:
        start.wait()
        try:
            got.append(worlds._allocate(table))
        except Exception as exc:  # collected for the assertion
            failed.append(exc)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failed == []
    assert sorted(got) == list(range(WORLD_ID_BASE + 1, WORLD_ID_BASE + 9))


def test_a_withdrawal_sent_at_once_by_several_senders_on_postgresql_is_recorded_once(pg_app: Flask,
                                                                                    cluster: Cluster) -> None:
    """PostgreSQL runs the senders' transactions truly at once: the case row is locked (FOR UPDATE) before
    the change is decided. Counted on a connection of its own."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import date, timedelta
    from threading import Barrier

    from egov_client import ApiError
    from egov_format.package import build_withdrawal_package
    from egov_format.signing import load_pkcs12
    from egov_sim.world.demo import certificate_for
    from egov_sim.world.packages import sample_package
    from sqlalchemy import create_engine, text

    services = pg_app.extensions["egov_sim"]
    client, _http = _client(pg_app)
    signer = load_pkcs12(*certificate_for(services, "valid")[:2])
    arrive_id = client.submit("950A010700005000", sample_package(services.catalogue, "950A010700005000",
                                                                  signer).to_zip()).arrive_id
    services.clock.update(advance=timedelta(hours=3))
    package = build_withdrawal_package(target_arrive_id=arrive_id, proc_name=client.get_application(arrive_id).proc_name,
                                       applicant_name="山田　太郎", reason="誤って申請したため",
                                       request_date=date(2026, 4, 1)).sign(signer).to_zip()
    start = Barrier(4)

    def withdraw(_: int) -> str:
        start.wait()
        try:
            client.withdraw(arrive_id, package)
            return "withdrawn"
        except ApiError as exc:
            return exc.detail

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(withdraw, range(4)))
    assert outcomes.count("withdrawn") == 1 and all("取下げできません" in o for o in outcomes if o != "withdrawn")
    engine = create_engine(cluster.url)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM application_actions a JOIN applications p ON "
                                      "p.id = a.application_id WHERE p.arrive_id = :a AND a.kind = 'withdraw'"),
                                 {"a": arrive_id}).scalar_one()
    finally:
        engine.dispose()
    assert count == 1
