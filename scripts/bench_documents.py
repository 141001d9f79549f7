"""Print how fast the simulator answers the case operations of issue 3 (in-process, WSGI, SQLite).

    PYTHONPATH=client:simulator python scripts/bench_documents.py [CASES]

Submits CASES applications (scenario "notice"), moves the clock so notices and official documents
exist, then times GET /apply/{id}, GET /notice/lists, GET /official_document (build + XMLDSig sign),
POST /official_document/verify and POST /apply/check.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from egov_client import EgovClient
from egov_client.config import simulator
from egov_format.signing import load_pkcs12
from egov_sim import Settings, create_app
from egov_sim.clock import parse_duration
from egov_sim.world.demo import certificate_for, load_world
from egov_sim.world.packages import sample_package

PROC = "950A010700005000"


def timed(label: str, n: int, fn) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    ms = (time.perf_counter() - start) * 1000 / n
    print(f"{label:<42} {ms:8.2f} ms/op  ({n} ops)")


def main(cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(data_dir=Path(folder)))
        svc = app.extensions["egov_sim"]
        svc.clock.update(frozen=True)
        world = load_world(svc)
        p12, password, _ = certificate_for(svc, "valid")
        signer = load_pkcs12(p12, password)
        endpoint = simulator("http://bench").with_credentials(world.client_id, world.client_secret,
                                                              world.redirect_uris[0])
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://bench") as http:
            acc = world.account("demo")
            egov = EgovClient.login(endpoint, acc["username"], acc["password"], http=http)
            package = sample_package(svc.catalogue, PROC, signer).to_zip()
            http.headers["X-Sandbox-Scenario"] = "notice"
            ids: list[str] = []
            timed("POST /apply (signed package)", cases, lambda i: ids.append(egov.submit(PROC, package).arrive_id))
            del http.headers["X-Sandbox-Scenario"]
            svc.clock.update(advance=parse_duration("P3D"))
            today = svc.clock.now().date()
            timed("GET /apply/{arrive_id} (derived view)", cases, lambda i: egov.get_application(ids[i]))
            timed(f"GET /notice/lists ({cases} cases)", 10,
                  lambda i: egov.list_notices(date_from=today - timedelta(days=3), date_to=today))
            docs: list[bytes] = []
            timed("GET /official_document (build + sign)", cases,
                  lambda i: docs.append(egov.get_official_document(ids[i], 2).file_data))
            timed("POST /official_document/verify", cases,
                  lambda i: egov.verify_official_document(docs[i], "kagami.xml"))
            timed("POST /apply/check", cases, lambda i: egov.check(PROC, package))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
