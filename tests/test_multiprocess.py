"""Several server processes on one database: one world and one key per purpose even when they
start together on an empty database, and no lost or duplicated applications under concurrent
submissions (SQLite in WAL mode here; PostgreSQL in loadtests/topology.sh)."""

from __future__ import annotations

import base64
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from egov_client.auth import login_with_form
from egov_client.config import simulator
from egov_format.signing import load_pkcs12
from egov_sim.catalogue import Catalogue
from egov_sim.world.packages import sample_package
from load_support import simulator_process, simulator_processes

pytestmark = pytest.mark.skipif(importlib.util.find_spec("granian") is None, reason="needs granian")
PROC_ID = "950A010700005000"


def _login(base: str, world: dict) -> str:
    account = world["accounts"][0]
    endpoint = simulator(base).with_credentials(world["client_id"], world["client_secret"], world["redirect_uris"][0])
    with httpx.Client(timeout=30) as http:
        return login_with_form(endpoint, account["username"], account["password"], http=http).access_token


def test_two_processes_started_together_on_an_empty_database_share_one_world(tmp_path: Path) -> None:
    with simulator_processes(2, tmp_path, "--server", "granian") as bases:
        worlds = [httpx.get(f"{b}/__admin/world").json() for b in bases]
        assert worlds[0]["client_secret"] == worlds[1]["client_secret"]
        assert httpx.get(f"{bases[0]}/auth/certs").json() == httpx.get(f"{bases[1]}/auth/certs").json()
        token = _login(bases[0], worlds[0])  # a token from one process is good at the other
        r = httpx.get(f"{bases[1]}/shinsei/v2/apply/lists", params={"date_from": "2000-01-01",
                                                                     "date_to": "2000-01-01"},
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


def test_concurrent_submissions_across_workers_are_all_kept_once(template_db: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copy(template_db, tmp_path / "egov-sim.sqlite")
    with simulator_process(tmp_path, "--workers", "2", "--server", "granian") as base:
        world = httpx.get(f"{base}/__admin/world").json()
        cert = next(c for c in world["certificates"] if c["label"] == "valid")
        signer = load_pkcs12((tmp_path / "certs" / "valid.p12").read_bytes(), cert["password"])
        catalogue = Catalogue.load()
        bodies = [{"proc_id": PROC_ID, "send_file": {"file_name": f"c{i}.zip", "file_data": base64.b64encode(
            sample_package(catalogue, PROC_ID, signer, corporation_name=f"株式会社並行{i}").to_zip()).decode()}}
            for i in range(4)]
        token = _login(base, world)
        headers = {"Authorization": f"Bearer {token}"}

        def send(i: int) -> httpx.Response:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                return http.post("/shinsei/v2/apply", json=bodies[i % len(bodies)])

        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(send, range(96)))
        assert [r.status_code for r in responses] == [200] * 96, [r.text for r in responses if r.status_code != 200]
        ids = [r.json()["results"]["arrive_id"] for r in responses]
        assert len(set(ids)) == len(ids)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            assert all(http.get(f"/shinsei/v2/apply/{i}").status_code == 200 for i in ids)
            day = responses[0].json()["results"]["arrive_date"][:10]
            listed = http.get("/shinsei/v2/apply/lists", params={"date_from": day, "date_to": day, "limit": 50})
            assert listed.json()["resultset"]["all_count"] == len(ids)
