"""Worlds on PostgreSQL (a schema per world, worlds.py), across two `egov-sim serve` processes on one
throw-away cluster: a world made through one process is used through the other.

The outside oracles: the unmodified client (EgovClient logs in and submits with a world's credentials
only, and checks the answers' shapes), e-Gov's arrive-id format, PostgreSQL's own catalogue (the schema
exists, then is gone), and the auth server's answer to a client id no world has.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from egov_client import EgovClient
from egov_client.admin import SimulatorAdmin
from egov_client.config import simulator
from egov_client.errors import ApiError
from egov_client.transport import NO_RETRY
from egov_format.signing import load_pkcs12
from egov_sim.catalogue import Catalogue
from egov_sim.world.packages import sample_package
from pg_cluster import Cluster, throwaway_cluster
from served import ROOT, clean_env, served
from sqlalchemy import create_engine, inspect

PROC = "950A010700005000"
ARRIVE_ID = re.compile(r"^\d{16}$")  # e-Gov's 到達番号: 3-digit prefix, year, 9-digit number


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def two(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two server processes (each its own data directory) on the same PostgreSQL database."""
    root = tmp_path_factory.mktemp("pgworlds")
    env = clean_env(EGOV_SIM_DATABASE_URL=cluster.url)
    with served(ROOT / ".venv/bin/egov-sim", root / "one", cwd=root, env=env) as one, \
            served(ROOT / ".venv/bin/egov-sim", root / "two", cwd=root, env=env) as two:
        yield one, two


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


def _login(url: str, admin: SimulatorAdmin, **options: Any) -> EgovClient:
    """The unmodified client at `url` with the world's software credentials and demo account."""
    demo = admin.world()
    endpoint = simulator(url).with_credentials(demo["client_id"], demo["client_secret"], demo["redirect_uris"][0])
    account = next(a for a in demo["accounts"] if a["alias"] == "demo")
    return EgovClient.login(endpoint, account["username"], account["password"], http=httpx.Client(timeout=60),
                            **options)


def _submit(egov: EgovClient, admin: SimulatorAdmin, catalogue: Catalogue) -> str:
    cert = admin.call("GET", "certificates/valid")
    signer = load_pkcs12(base64.b64decode(cert["p12"]), cert["password"])
    return egov.submit(PROC, sample_package(catalogue, PROC, signer).to_zip()).arrive_id


def _schemas(cluster: Cluster) -> set[str]:
    engine = create_engine(cluster.url)
    try:
        return set(inspect(engine).get_schema_names())
    finally:
        engine.dispose()


def test_a_world_made_through_one_process_logs_in_and_submits_through_another_and_is_deleted(
        two: tuple[str, str], cluster: Cluster, catalogue: Catalogue) -> None:
    one, other = two
    made = SimulatorAdmin(one, http=httpx.Client(timeout=60)).create_world()
    assert f"w_{made['id']}" in _schemas(cluster)
    there = SimulatorAdmin(other, http=httpx.Client(timeout=60)).in_world(made["id"])
    assert there.world()["client_id"] == made["client_id"]

    egov = _login(other, there)  # routed by its client_id / token in process 2, which did not make it
    arrive_id = _submit(egov, there, catalogue)
    assert ARRIVE_ID.match(arrive_id)
    here = SimulatorAdmin(one, http=httpx.Client(timeout=60)).in_world(made["id"])
    assert _login(one, here).get_application(arrive_id).arrive_id == arrive_id  # process 1 sees the case
    assert sum(e["path"] == "/shinsei/v2/apply" for e in there.requests()) == 1

    assert there.http.delete(f"{other}/__admin/worlds/{made['id']}").status_code == 204  # deleted through 2
    assert f"w_{made['id']}" not in _schemas(cluster)
    gone = httpx.get(f"{one}/__admin/worlds/{made['id']}/clock")  # process 1 had it open
    assert gone.status_code == 404 and gone.json()["title"] == "Not Found"
    refused = httpx.post(f"{one}/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                         auth=(made["client_id"], made["client_secret"]))
    nobody = httpx.post(f"{one}/auth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                        auth=("egov-sandbox-wnobody", made["client_secret"]))
    assert refused.status_code == nobody.status_code == 401 and refused.json() == nobody.json()


def test_one_worlds_clock_fault_and_reset_leave_another_and_the_default_untouched_across_processes(
        two: tuple[str, str], catalogue: Catalogue) -> None:
    other = two[1]
    top1, top2 = (SimulatorAdmin(u, http=httpx.Client(timeout=60)) for u in two)
    a1 = top1.in_world(top1.create_world()["id"])
    b2 = top2.in_world(top1.create_world()["id"])
    a2 = top2.in_world(a1.world_id)
    egov_b = _login(other, b2)
    kept = _submit(egov_b, b2, catalogue)
    before = {"b": b2.clock()["offset_seconds"], "default": top2.clock()["offset_seconds"]}

    a1.advance("P30D")  # through process 1: a clock jump and a fault on every submission in world A
    a1.add_fault({"status": 500}, method="POST", path="/shinsei/v2/apply")
    assert a2.clock()["offset_seconds"] > 29 * 86400  # process 2 sees world A's clock
    for name, admin in (("b", b2), ("default", top2)):
        assert abs(admin.clock()["offset_seconds"] - before[name]) < 60
        assert admin.faults() == []
    second = _submit(egov_b, b2, catalogue)  # world B submits through process 2, past A's fault
    assert second != kept and ARRIVE_ID.match(second)
    assert not any(e["path"] == "/shinsei/v2/apply" for e in a2.requests())
    with pytest.raises(ApiError) as refused:  # world A's fault fires in process 2 as well
        _submit(_login(other, a2, retry=NO_RETRY), a2, catalogue)
    assert refused.value.status == 500

    a1.reset()
    assert abs(a2.clock()["offset_seconds"]) < 29 * 86400 and a2.faults() == []
    assert egov_b.get_application(kept).arrive_id == kept  # A's reset did not reach B
    top1.reset()  # the default world's reset leaves both worlds
    assert egov_b.get_application(second).arrive_id == second
    assert {a1.world_id, b2.world_id} <= {w["id"] for w in top2.worlds()}
    for world_id in (a1.world_id, b2.world_id):
        top2.delete_world(world_id)


def test_creating_a_world_on_postgresql_copies_the_demo_world_with_fresh_credentials(
        two: tuple[str, str]) -> None:
    one, _ = two
    top = SimulatorAdmin(one, http=httpx.Client(timeout=60))
    default, made = top.world(), top.create_world()
    inside = top.in_world(made["id"]).world()
    assert (inside["client_id"], inside["client_secret"]) == (made["client_id"], made["client_secret"])
    assert made["client_secret"] != default["client_secret"]
    assert [a["username"] for a in inside["accounts"]] == [a["username"] for a in default["accounts"]]
    assert set(made["gbizid_clients"]) == {c["client_id"] for c in default["gbizid"]["clients"]}
    top.delete_world(made["id"])
    assert made["id"] not in {w["id"] for w in top.worlds()}


def test_a_world_made_from_a_spare_schema_works_across_processes_and_keeps_its_identity_after_a_reset(
        two: tuple[str, str], cluster: Cluster, catalogue: Catalogue) -> None:
    """Schemas made ahead (worlds_pg.py) are claimed by a rename: the world has its own identity in its
    tables and in its snapshot (a reset keeps its credentials), and no spare is claimed twice."""
    import time

    one, other = two
    top = SimulatorAdmin(one, http=httpx.Client(timeout=60))
    top.delete_world(top.create_world()["id"])  # starts this process's refill of the pool
    deadline = time.monotonic() + 90
    while not {s for s in _schemas(cluster) if s.startswith("s_")} and time.monotonic() < deadline:
        time.sleep(0.2)
    spares = {s for s in _schemas(cluster) if s.startswith("s_")}
    assert spares, "no spare schema was made"
    made = [top.create_world()]
    after = _schemas(cluster)
    assert len(spares - after) == 1 and f"w_{made[0]['id']}" in after  # one spare claimed: renamed to w_<id>
    made.append(top.create_world())
    assert made[0]["client_id"] != made[1]["client_id"]

    there = SimulatorAdmin(other, http=httpx.Client(timeout=60)).in_world(made[0]["id"])
    egov = _login(other, there)
    arrive_id = _submit(egov, there, catalogue)
    assert ARRIVE_ID.match(arrive_id)
    there.reset()
    assert (there.world()["client_id"], there.world()["client_secret"]) == (made[0]["client_id"],
                                                                           made[0]["client_secret"])
    assert _login(other, there).tokens is not None  # its credentials still log in after the reset
    for m in made:
        top.delete_world(m["id"])


def test_spare_schemas_of_an_older_layout_are_dropped_not_claimed(cluster: Cluster) -> None:
    from egov_sim import worlds_pg
    from egov_sim.world.snapshot import fingerprint
    from sqlalchemy import insert, text

    engine = create_engine(cluster.url)
    try:
        worlds_pg.install(engine)
        with engine.begin() as conn:
            conn.execute(text('CREATE SCHEMA "s_stale000000"'))
            conn.execute(insert(worlds_pg.SPARES).values(schema="s_stale000000", fingerprint="0" * 64))
        assert "s_stale000000" in _schemas(cluster)
        worlds_pg.Spares(engine, fingerprint(), None).drop_stale()
        assert "s_stale000000" not in _schemas(cluster)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM egov_world_spares WHERE schema = 's_stale000000'")
                                ).scalar() == 0
    finally:
        engine.dispose()


def test_worlds_share_the_default_pool_and_its_free_list_of_read_connections(cluster: Cluster,
                                                                             tmp_path: Path) -> None:
    """A world's prepared reads name its schema, so they run on the default world's kept connections:
    open worlds do not each hold connections of the one pool (30 on PostgreSQL)."""
    from egov_sim import Settings, create_app

    # the journal in memory: its writer thread's transient connection is not what this test counts
    app = create_app(Settings(database_url=cluster.url, data_dir=tmp_path, public_url="http://sim.test",
                              journal_store="memory"))
    default = app.extensions["egov_sim"].db
    http = httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://sim.test")
    top = SimulatorAdmin("http://sim.test", http=http)
    registry = app.extensions["egov_sim.worlds"]
    try:
        worlds = [top.in_world(top.create_world()["id"]) for _ in range(3)]
        for admin in worlds:
            demo = admin.world()
            endpoint = simulator("http://sim.test").with_credentials(demo["client_id"], demo["client_secret"],
                                                                     demo["redirect_uris"][0])
            account = next(a for a in demo["accounts"] if a["alias"] == "demo")
            egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
            assert egov.list_applications(date_from=date(2024, 4, 1), date_to=date(2024, 4, 2)) is not None
        assert default.engine.pool.checkedout() == len(default.reads._free)  # nothing held elsewhere
        assert all(registry.get(a.world_id).services.db.reads is default.reads for a in worlds)
        for admin in worlds:
            top.delete_world(admin.world_id)
    finally:
        registry.close()
        default.dispose()
