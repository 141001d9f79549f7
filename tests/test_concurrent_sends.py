"""Exactly-once under concurrency: sends of one applicant, corporation and procedure in flight at the
same time (threads, processes, batch runs), through reset and hang faults on a real socket.

What must hold: applications on the server = sends told "arrived", every arrive_id told to exactly one
send, and every other send raised (issue 14 item 1: a send that was not processed took another send's
arrival and reported success)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from egov_client import EgovClient, OutcomeUnknownError, SafeSubmitPolicy, TimeoutPolicy, safe_submit
from egov_client.batch import Sender
from egov_client.claims import Claims, SendBusyError
from egov_client.config import simulator
from egov_client.errors import EgovError
from egov_client.ledger import Ledger
from egov_client.transport import NO_RETRY
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"
APPLY = {"method": "POST", "path": "/shinsei/v2/apply"}


def _fault(admin: httpx.Client, **rule) -> None:
    assert admin.post("/__admin/faults", json=rule).status_code == 201


def _stored(services) -> set[str]:
    with services.db.session() as s:
        return set(s.scalars(select(Application.arrive_id)))


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _client(live_server: str, world) -> EgovClient:
    endpoint = simulator(live_server).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")
    return EgovClient.login(endpoint, account["username"], account["password"], retry=NO_RETRY,
                            timeouts=TimeoutPolicy().with_(submit=1.0))


def _package(services, signer, n: int = 0) -> bytes:
    # the same identity (氏名, 法人団体名, 手続) every time; the kana makes each zip distinct
    return sample_package(services.catalogue, PROC, signer, applicant_kana=f"ヤマダ　タロウ{'ア' * n}").to_zip()


def _policy() -> SafeSubmitPolicy:
    return SafeSubmitPolicy(checks=2, check_interval=0.05, busy_wait=60)


def _run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def test_concurrent_safe_submits_of_one_identity_through_reset_and_hang_faults(
        live_server, world, services, signer, tmp_path) -> None:
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match=APPLY, action={"reset": True, "when": "after"}, times=2)  # processed, answer lost
        _fault(admin, match=APPLY, action={"latency": {"fixed": 0.3}, "reset": True, "when": "before"}, times=2)
        _fault(admin, match=APPLY, action={"hang": True, "seconds": 5, "when": "after"}, times=1)
    claims = Claims(tmp_path / "claims")
    told: list[str] = []
    raised: list[BaseException] = []
    lock = threading.Lock()
    package = _package(services, signer)
    today = services.clock.now().date()

    def sender(i: int) -> None:
        client = _client(live_server, world)
        for _ in range(3):
            try:
                result = safe_submit(client, PROC, package, sleep=lambda s: None, today=lambda: today,
                                     policy=_policy(), claims=claims)
                with lock:
                    told.append(result.arrive_id)
            except EgovError as exc:
                with lock:
                    raised.append(exc)
        client.close()

    _run_threads(sender, 4)
    assert len(told) + len(raised) == 12
    assert len(told) == len(set(told)), "an arrive_id was told to two sends"
    assert set(told) == _stored(services), (told, raised)  # applications on the server = sends told "arrived"


def test_a_send_that_was_not_processed_never_takes_another_sends_arrival(
        live_server, world, services, signer, tmp_path) -> None:
    """The issue's reproduction: X is held 1 s and reset before processing; Y sends meanwhile."""
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match=APPLY, action={"latency": {"fixed": 1}, "reset": True, "when": "before"}, times=1)
    claims = Claims(tmp_path / "claims")
    today = services.clock.now().date()
    results: dict[str, object] = {}

    def send(name: str, delay: float) -> None:
        time.sleep(delay)
        client = _client(live_server, world)
        results[name] = safe_submit(client, PROC, _package(services, signer), sleep=lambda s: None,
                                    today=lambda: today, policy=_policy(), claims=claims)
        client.close()

    threads = [threading.Thread(target=send, args=("X", 0)), threading.Thread(target=send, args=("Y", 0.3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    x, y = results["X"], results["Y"]
    assert not x.recovered and x.sends == 2  # X found nothing of its own and sent again
    assert {x.arrive_id, y.arrive_id} == _stored(services) and x.arrive_id != y.arrive_id


def test_an_outside_sender_of_the_same_identity_makes_the_outcome_unknown(
        live_server, world, services, signer, tmp_path) -> None:
    """A plain submit (outside the claims) lands while X's answer is lost: two candidates, no guess."""
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match=APPLY, action={"hang": True, "seconds": 3, "when": "after"}, times=1)  # X times out at 1 s
    today = services.clock.now().date()
    outcome: list[BaseException] = []
    x_client, plain = _client(live_server, world), _client(live_server, world)
    x_package, y_package = _package(services, signer), _package(services, signer, 1)

    def x_send() -> None:
        try:
            safe_submit(x_client, PROC, x_package, sleep=lambda s: None, today=lambda: today,
                        policy=_policy(), claims=Claims(tmp_path / "claims"))
        except OutcomeUnknownError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=x_send)
    thread.start()
    time.sleep(0.6)  # X's send is processed and its answer held
    plain.submit(PROC, y_package)
    thread.join(30)
    x_client.close()
    plain.close()
    assert len(outcome) == 1 and "cannot decide" in str(outcome[0]) and outcome[0].maybe_delivered
    assert _count(services) == 2


def test_a_second_send_waits_its_turn_and_gives_up_with_nothing_sent(tmp_path) -> None:
    claims = Claims(tmp_path)
    with claims.hold("https://x", "proc|山"):
        with pytest.raises(SendBusyError, match="in progress"), claims.hold("https://x", "proc|山", wait=0.1):
            pass
        with claims.hold("https://x", "proc|田", wait=0.1):  # another identity is not held up
            pass
    at = datetime(2026, 4, 1, 9, 0, 0)
    assert claims.claim("https://x", "A1", "one", at) and not claims.claim("https://x", "A1", "two", at)
    assert claims.claim("https://x", "A1", "one", at) and claims.claimed("https://x") == {"A1"}
    # a server that started over reuses arrive_ids: the same id at another time is not the claimed one
    same, reused = SimpleNamespace(arrive_id="A1", arrive_date=at), SimpleNamespace(arrive_id="A1",
                                                                                 arrive_date=at.replace(hour=10))
    assert claims.excluded("https://x", [same]) == {"A1"} and claims.excluded("https://x", [reused]) == set()


def test_two_ledgers_sending_the_same_identity_reconcile_to_their_own_arrivals(
        live_server, world, services, signer, tmp_path) -> None:
    """Two `egov` profiles (two ledgers) of one machine send at once; one answer is lost after
    processing. The lost one, sent again, finds its own arrival, never the other's."""
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match=APPLY, action={"latency": {"fixed": 0.5}, "reset": True, "when": "after"}, times=1)
    claims = Claims(tmp_path / "claims")
    first: dict[int, object] = {}
    packages = {i: _package(services, signer, i) for i in range(2)}
    clock = services.clock.now

    def run(i: int) -> None:
        time.sleep(0.2 * i)
        with _client(live_server, world) as client, Ledger(tmp_path / f"ledger{i}.sqlite3") as ledger:
            first[i] = Sender(client, ledger, f"p{i}", clock=clock, claims=claims).send(packages[i], f"{i}.zip")

    _run_threads(run, 2)
    outcomes = sorted(r.outcome for r in first.values())
    assert outcomes == ["sent", "unknown"], outcomes
    lost = next(i for i, r in first.items() if r.outcome == "unknown")
    with _client(live_server, world) as client, Ledger(tmp_path / f"ledger{lost}.sqlite3") as ledger:
        again = Sender(client, ledger, f"p{lost}", clock=clock, claims=claims).send(packages[lost], f"{lost}.zip")
    assert again.outcome == "already" and again.found_on_server
    told = {again.arrive_id, first[1 - lost].arrive_id}
    assert len(told) == 2 and told == _stored(services)


CHILD = r"""
import json, sys
from datetime import date
from egov_client import EgovClient, SafeSubmitPolicy, TimeoutPolicy, safe_submit
from egov_client.claims import Claims
from egov_client.config import simulator
from egov_client.errors import EgovError
from egov_client.transport import NO_RETRY
args = json.loads(sys.argv[1])
endpoint = simulator(args["base"]).with_credentials(args["client_id"], args["secret"], args["redirect"])
client = EgovClient.login(endpoint, args["user"], args["password"], retry=NO_RETRY,
                          timeouts=TimeoutPolicy().with_(submit=1.0))
package = open(args["package"], "rb").read()
today = date.fromisoformat(args["today"])
for _ in range(args["sends"]):
    try:
        r = safe_submit(client, "950A010700005000", package, sleep=lambda s: None, today=lambda: today,
                        policy=SafeSubmitPolicy(checks=2, check_interval=0.05, busy_wait=60),
                        claims=Claims(args["claims"]))
        print(json.dumps({"arrived": r.arrive_id}), flush=True)
    except EgovError as exc:
        print(json.dumps({"raised": type(exc).__name__}), flush=True)
"""


def test_two_processes_sending_the_same_identity_through_faults(live_server, world, services, signer,
                                                                tmp_path: Path) -> None:
    with httpx.Client(base_url=live_server) as admin:
        _fault(admin, match=APPLY, action={"reset": True, "when": "after"}, times=2)
        _fault(admin, match=APPLY, action={"latency": {"fixed": 0.2}, "reset": True, "when": "before"}, times=2)
    (tmp_path / "p.zip").write_bytes(_package(services, signer))
    account = world.account("demo")
    args = {"base": live_server, "client_id": world.client_id, "secret": world.client_secret,
            "redirect": world.redirect_uris[0], "user": account["username"], "password": account["password"],
            "package": str(tmp_path / "p.zip"), "today": services.clock.now().date().isoformat(), "sends": 4,
            "claims": str(tmp_path / "claims")}
    env = {**os.environ, "EGOV_HOME": str(tmp_path / "home")}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    lines = [json.loads(line) for p in procs for line in p.communicate(timeout=120)[0].splitlines()]
    told = [line["arrived"] for line in lines if "arrived" in line]
    assert len(lines) == 8 and all(p.returncode == 0 for p in procs)
    assert len(told) == len(set(told)) and set(told) == _stored(services), lines
