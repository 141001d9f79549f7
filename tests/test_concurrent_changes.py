"""Changes of one case sent at once (a batch run twice, two machines of one office): a withdrawal, a
部分補正 and a 取得完了 each happen once, the others are refused as they would be one after the other.
The oracle for "once" is the stored rows, counted with the sqlite3 module, next to the answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from threading import Barrier
from typing import Any

import pytest
from conftest import advance
from egov_client import ApiError, EgovClient
from egov_client.documents import as_amendment
from egov_format.package import build_withdrawal_package
from egov_sim.world.packages import sample_package

PROC = "950A010700005000"
SENDERS = 4


@pytest.fixture(autouse=True)
def _frozen(services) -> None:
    services.clock.update(frozen=True)


def _at_once(job: Callable[[], Any]) -> list[Any]:
    """`job()` from SENDERS threads released together: each one's result, or the ApiError it raised."""
    start = Barrier(SENDERS)

    def run(_: int) -> Any:
        start.wait()
        try:
            return job()
        except ApiError as exc:
            return exc

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(run, range(SENDERS)))


def _actions(tmp_path: Path, arrive_id: str, kind: str) -> int:
    with sqlite3.connect(tmp_path / "sim.sqlite") as db:
        return db.execute("SELECT count(*) FROM application_actions a JOIN applications p ON p.id = a.application_id "
                          "WHERE p.arrive_id = ? AND a.kind = ?", (arrive_id, kind)).fetchone()[0]


def _submit(egov: EgovClient, services, signer, scenario: str | None = None) -> str:
    egov.http.headers.update({"X-Sandbox-Scenario": scenario} if scenario else {})
    try:
        return egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id
    finally:
        egov.http.headers.pop("X-Sandbox-Scenario", None)


def _one_succeeded(outcomes: list[Any], refusal: str) -> None:
    refused = [o for o in outcomes if isinstance(o, ApiError)]
    assert len(refused) == SENDERS - 1, outcomes
    assert all(o.status == 400 and refusal in o.detail for o in refused), [o.detail for o in refused]


def test_a_withdrawal_sent_at_once_by_several_senders_is_recorded_once(egov: EgovClient, services, signer,
                                                                       tmp_path: Path) -> None:
    arrive_id = _submit(egov, services, signer)
    advance(services, "PT3H")
    package = build_withdrawal_package(target_arrive_id=arrive_id, proc_name=egov.get_application(arrive_id).proc_name,
                                       applicant_name="山田　太郎", reason="誤って申請したため",
                                       request_date=date(2026, 4, 1)).sign(signer).to_zip()
    _one_succeeded(_at_once(lambda: egov.withdraw(arrive_id, package)), "取下げできません")
    assert _actions(tmp_path, arrive_id, "withdraw") == 1


def test_an_amendment_sent_at_once_by_several_senders_answers_the_request_once(egov: EgovClient, services, signer,
                                                                               tmp_path: Path) -> None:
    arrive_id = _submit(egov, services, signer, scenario="hosei_partial")
    advance(services, "P1D")
    assert egov.get_application(arrive_id).status == "審査中（補正待ち）"
    package = as_amendment(sample_package(services.catalogue, PROC, None), arrive_id).sign(signer).to_zip()
    _one_succeeded(_at_once(lambda: egov.amend(arrive_id, package)), "補正できません")
    assert _actions(tmp_path, arrive_id, "amend") == 1


def test_a_completion_sent_at_once_by_several_senders_completes_the_document_once(egov: EgovClient, services,
                                                                                  signer, tmp_path: Path) -> None:
    arrive_id = _submit(egov, services, signer, scenario="notice")
    advance(services, "P3D")
    assert egov.get_application(arrive_id).official_documents[0].notice_sub_id == 2
    _one_succeeded(_at_once(lambda: egov.complete_official_document(arrive_id, 2)), "取得完了済み")
    assert _actions(tmp_path, arrive_id, "complete") == 1


def test_a_delivered_document_completed_at_once_by_several_senders_is_completed_once(egov: EgovClient, services,
                                                                                     signer, tmp_path: Path) -> None:
    post_proc = "900A020000001000"  # 電子送達 利用申込み
    applied = egov.post_apply(post_proc, sample_package(services.catalogue, post_proc, signer).to_zip())
    advance(services, "P2D")
    today = services.clock.now().date()
    [post] = egov.list_posts(date_from=today, date_to=today).items
    post_id = post["notice_data_list"][0]["post_id"]
    outcomes = _at_once(lambda: egov.complete_post(post_id))
    assert len([o for o in outcomes if isinstance(o, ApiError)]) == SENDERS - 1, outcomes
    assert _actions(tmp_path, applied.arrive_id, "post_complete") == 1
