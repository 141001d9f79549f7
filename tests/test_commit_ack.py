"""A submission whose commit acknowledgement is lost (issue 14 item 6), injected with SQLAlchemy
events: the row stored but the COMMIT's answer lost → 200 (the server looked after reconnecting);
the COMMIT failing before the database stored anything → the outage 503 (send again is safe);
the database unreachable for the check too → 500 (outcome unknown), and the client's safe path
finds the arrival in the lists instead of sending twice. Responses pass the OpenAPI validation of
the `http` fixture."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import BASE
from egov_client import ApiError, EgovClient
from egov_client.safe_submit import SafeSubmitPolicy, safe_submit
from egov_sim.idp.egov_tokens import issue_tokens_for
from egov_sim.store.models import Account, Application
from egov_sim.world.packages import sample_package
from sqlalchemy import event, func, select
from sqlalchemy import exc as sa

PROC = "950A010700005000"


def _lost() -> sa.OperationalError:
    return sa.OperationalError("COMMIT", None, Exception("server closed the connection unexpectedly"))


@contextmanager
def failing_commit(services: Any, *, after_storing: bool, check_fails: bool = False) -> Iterator[list[str]]:
    """The next COMMIT of a transaction that inserted an application fails: after the database stored
    it (the DBAPI commit done, its acknowledgement lost) or before; with `check_fails` every later read
    of the row fails too (the database still unreachable for the server's check)."""
    db, armed, fired = services.db, [], []


    def commit(conn: Any) -> None:
        if armed and not fired:
            armed.clear()
            if after_storing:
                conn.connection.dbapi_connection.commit()  # the database has it ...
            fired.append("after" if after_storing else "before")
            raise _lost()  # ... and the answer never comes

    def before_execute(conn: Any, cursor: Any, statement: str, *_a: Any) -> None:
        if not fired and statement.startswith("INSERT INTO applications "):  # this transaction stores one
            armed.append(True)
        if check_fails and fired and re.match(r"SELECT applications\.package\s+FROM applications", statement):
            raise _lost()  # the server's look-up of its own row (the lists read whole rows)

    event.listen(db.engine, "commit", commit)
    event.listen(db.engine, "before_cursor_execute", before_execute)
    try:
        yield fired
    finally:
        event.remove(db.engine, "commit", commit)
        event.remove(db.engine, "before_cursor_execute", before_execute)


def _count(services: Any) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Application)) or 0)


def _package(services: Any, signer: Any, name: str) -> bytes:
    return sample_package(services.catalogue, PROC, signer, corporation_name=name).to_zip()


def test_a_lost_commit_acknowledgement_of_a_stored_row_answers_200(egov: EgovClient, services, signer) -> None:
    before = _count(services)
    with failing_commit(services, after_storing=True) as fired:
        result = egov.submit(PROC, _package(services, signer, "株式会社確認済"))
    assert fired == ["after"]  # the failure did happen, after the row was stored
    assert _count(services) == before + 1
    assert egov.get_application(result.arrive_id).arrive_id == result.arrive_id


def test_a_commit_that_stored_nothing_answers_the_outage_503(world, services, signer, http) -> None:
    with services.db.session() as s:
        account = s.scalars(select(Account.id).where(Account.username == world.account("demo")["username"])).one()
    token = issue_tokens_for(services, account, world.client_id, f"{BASE}/auth")["access_token"]
    before = _count(services)
    body = {"proc_id": PROC, "send_file": {"file_name": "a.zip", "file_data": base64.b64encode(
        _package(services, signer, "株式会社未保存")).decode()}}
    with failing_commit(services, after_storing=False) as fired:
        resp = http.post("/shinsei/v2/apply", json=body, headers={"Authorization": f"Bearer {token}"})
    assert fired == ["before"]
    assert resp.status_code == 503 and resp.headers["Retry-After"] and _count(services) == before


def test_an_unknown_outcome_answers_500_and_the_safe_path_reconciles_without_a_second_send(
        egov: EgovClient, services, signer, http) -> None:
    before = _count(services)
    package = _package(services, signer, "株式会社結果不明")
    with failing_commit(services, after_storing=True, check_fails=True) as fired, pytest.raises(ApiError) as err:
        egov.submit(PROC, package)
    assert fired == ["after"] and err.value.status == 500 and "到達を確認" in err.value.detail
    assert _count(services) == before + 1  # it was stored: a blind resend would duplicate it

    with failing_commit(services, after_storing=True, check_fails=True):
        outcome = safe_submit(egov, PROC, _package(services, signer, "株式会社結果不明二"),
                              policy=SafeSubmitPolicy(check_interval=0.01), sleep=lambda s: None)
    assert outcome.recovered and outcome.sends == 1  # found in the lists, not sent again
    assert _count(services) == before + 2
