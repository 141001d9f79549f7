"""Put real cases into a simulator's database and print Schemathesis parameters for them (TOML).

    python scripts/seed_cases.py DATA_DIR > schemathesis.toml

Submits, as the demo account, a case whose official document is out, a case with a payment and a
電子送達 利用申込み whose notice document has been delivered, by moving the virtual clock.
"""

from __future__ import annotations

import sys
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


def main(data_dir: str) -> None:
    app = create_app(Settings(data_dir=Path(data_dir)))
    svc = app.extensions["egov_sim"]
    world = load_world(svc)
    assert world is not None
    p12, password, _ = certificate_for(svc, "valid")
    signer = load_pkcs12(p12, password)
    endpoint = simulator("http://seed.local").with_credentials(world.client_id, world.client_secret,
                                                               world.redirect_uris[0])
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://seed.local") as http:
        account = world.account("demo")
        egov = EgovClient.login(endpoint, account["username"], account["password"], http=http)
        proc = "950A010700005000"
        case = egov.submit(proc, sample_package(svc.catalogue, proc, signer).to_zip()).arrive_id
        http.headers["X-Sandbox-Scenario"] = "payment"
        paying = egov.submit(proc, sample_package(svc.catalogue, proc, signer).to_zip())
        del http.headers["X-Sandbox-Scenario"]
        post_proc = "900A020000001000"
        egov.post_apply(post_proc, sample_package(svc.catalogue, post_proc, signer).to_zip())
        svc.clock.update(advance=parse_duration("P3D"))
        today = svc.clock.now().date()
        post_id = egov.list_posts(date_from=today - timedelta(days=3), date_to=today).items[0]["notice_data_list"][0]["post_id"]
    print("[parameters]")
    print(f'"path.arrive_id" = "{case}"')
    print('"path.notice_sub_id" = 1')
    print(f'"path.post_id" = "{post_id}"')
    print(f'"path.proc_id" = "{proc}"')
    print(f'"body.pay_number" = "{paying.payments[0].pay_number}"')
    print(f'# payment case: {paying.arrive_id}')


if __name__ == "__main__":
    main(sys.argv[1])
