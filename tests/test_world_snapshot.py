"""`POST /__admin/reset` restores the demo world's snapshot: the same world, the clock back where it was,
nothing of the dirty state left, and new rows carry on after the restored ones."""

from __future__ import annotations

from datetime import timedelta

from conftest import advance
from egov_client import ApiError, EgovClient
from egov_sim.store.models import Account, Application, KeyPair
from egov_sim.world import snapshot
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"


def _count(services, model) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_reset_restores_the_same_world_and_clock(http, egov, endpoint, world, services, signer) -> None:
    before = services.clock.now()
    keys_before = _count(services, KeyPair)
    accounts_before = _count(services, Account)
    egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip())
    http.post(f"/__admin/gbizid/accounts/{world.gbizid['accounts'][0]['account_id']}/suspend")
    advance(services, "P20D")
    body = http.post("/__admin/reset").json()
    assert body["reset"] is True and body["world"]["client_secret"] == world.client_secret  # the same world
    assert _count(services, Application) == 0 and _count(services, KeyPair) == keys_before
    assert _count(services, Account) == accounts_before
    now = services.clock.now()
    with services.db.engine.connect() as conn:
        made_at = conn.execute(select(snapshot.SNAPSHOTS.c.virtual_time)).scalar_one()
    assert made_at <= now <= made_at + timedelta(minutes=1) and now <= before  # back at the world's creation
    account = world.account("demo")
    again = EgovClient.login(endpoint, account["username"], account["password"], http=http)  # old passwords work
    first = again.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip())
    second = again.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip())
    assert first.arrive_id != second.arrive_id and _count(services, Application) == 2
    assert http.get("/__admin/gbizid/accounts").status_code == 200


def test_the_unregistered_certificate_is_unregistered_again_after_a_reset(http, egov, services) -> None:
    from conftest import certificate_signer

    unregistered = certificate_signer(services, "unregistered")
    advance(services, "P2D")  # registered by now
    assert egov.submit(PROC, sample_package(services.catalogue, PROC, unregistered).to_zip()).arrive_id
    http.post("/__admin/reset")
    again = EgovClient.login(egov.endpoint, *_demo_credentials(services), http=http)
    try:
        again.submit(PROC, sample_package(services.catalogue, PROC, unregistered).to_zip())
    except ApiError as exc:
        assert "利用者認証でエラーが発生しました" in [*exc.messages, exc.detail]
    else:
        raise AssertionError("the reset did not bring the clock back before the certificate's registration")


def _demo_credentials(services) -> tuple[str, str]:
    from egov_sim.world.demo import load_world

    account = load_world(services).account("demo")
    return account["username"], account["password"]


def test_without_a_snapshot_the_reset_makes_a_new_world_and_snapshots_it(http, world, services) -> None:
    snapshot.discard(services)
    fresh = http.post("/__admin/reset").json()["world"]
    assert fresh["client_secret"] != world.client_secret  # made anew
    assert snapshot.restore(services)  # and kept for the next reset
    assert http.post("/__admin/reset").json()["world"]["client_secret"] == fresh["client_secret"]


def test_a_snapshot_of_another_schema_is_not_used(services, monkeypatch) -> None:
    monkeypatch.setattr(snapshot, "fingerprint", lambda: "another schema")
    assert snapshot.restore(services) is False
