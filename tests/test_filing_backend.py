"""The FilingBackend used directly, as a script or another face would: no HTTP, no Flask request
(or app) context — a session, the catalogue, an instant and, where wanted, the ops hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import flask
import pytest
from conftest import advance
from egov_format.package import build_withdrawal_package
from egov_format.reports import ReportItem
from egov_sim.filing.backend import FilingBackend, Period
from egov_sim.filing.cases import Caller
from egov_sim.filing.errors import FilingError
from egov_sim.filing.hooks import FilingHooks, Submission
from egov_sim.store.models import Account
from egov_sim.world.packages import sample_package
from sqlalchemy import select

PROC = "950A010700005000"


@pytest.fixture(autouse=True)
def _frozen(services) -> None:
    services.clock.update(frozen=True)


@pytest.fixture
def caller(services, world) -> Caller:
    username = world.account("demo")["username"]
    with services.db.session() as s:
        account_id = s.scalar(select(Account.id).where(Account.username == username))
    return Caller(account_id, username)


@contextmanager
def backend(services, hooks: FilingHooks | None = None) -> Iterator[FilingBackend]:
    with services.db.session() as session:
        extra = {"hooks": hooks} if hooks is not None else {}
        yield FilingBackend(session, services.catalogue, services.clock.now(), **extra)


def _package(services, signer) -> bytes:
    return sample_package(services.catalogue, PROC, signer).to_zip()


def _today(services) -> Period:
    """Yesterday and today: a test that advances the clock past midnight JST still finds its cases."""
    today = services.clock.now().date()
    return Period(today - timedelta(days=1), today, 50, 0)


def test_apply_then_list_and_get_without_a_request(services, signer, caller) -> None:
    assert not flask.has_request_context() and not flask.has_app_context()
    with backend(services) as b:
        applied = b.apply(caller, PROC, "apply.zip", _package(services, signer))
    arrive_id = applied["arrive_id"]
    assert applied["proc_name"] and applied["apply_form"]["form"]
    with backend(services) as b:
        page = b.list_applications(caller, _today(services))
        assert page.total == 1 and page.items[0]["arrive_id"] == arrive_id and page.items[0]["no"] == 1
        assert b.get_application(caller, arrive_id)["status"] == "到達"
        send_number = page.items[0]["send_number"]
        assert [i["arrive_id"] for i in b.list_applications_by_send_number(caller, send_number)] == [arrive_id]


def test_a_refused_package_stores_nothing(services, signer, caller) -> None:
    with backend(services) as b, pytest.raises(FilingError) as err:
        b.apply(caller, PROC, "apply.zip", b"not a zip")
    assert err.value.status == 400 and err.value.report
    with backend(services) as b:
        assert b.list_applications(caller, _today(services)).total == 0


def test_withdraw_through_the_backend(services, signer, caller) -> None:
    with backend(services) as b:
        arrive_id = b.apply(caller, PROC, "apply.zip", _package(services, signer))["arrive_id"]
    advance(services, "PT3H")
    with backend(services) as b:
        case = b.get_application(caller, arrive_id)
        assert case["withdraw_flag"]
        raw = build_withdrawal_package(target_arrive_id=arrive_id, proc_name=case["proc_name"],
                                       applicant_name="山田　太郎", reason="誤って申請したため",
                                       request_date=date(2026, 4, 1)).sign(signer).to_zip()
        withdrawn = b.withdraw(caller, arrive_id, raw)
    assert withdrawn["arrive_id"] == arrive_id
    with backend(services) as b:
        assert b.get_application(caller, arrive_id)["status"] == "取下げ処理中"


class _Hooks(FilingHooks):
    def __init__(self, *, refuse: bool = False, hold: timedelta | None = None) -> None:
        self.refuse, self.hold, self.seen = refuse, hold, []

    def automatic_return(self, submission: Submission) -> tuple[str, list[ReportItem]] | None:
        self.seen.append(submission)
        return ("申請データに誤りがあります。", [ReportItem(content="差し戻し", item="報酬月額")]) if self.refuse else None

    def arrival_check(self, submission: Submission) -> timedelta | None:
        return self.hold


def test_the_hooks_refuse_or_hold_a_submission_inside_its_unit_of_work(services, signer, caller) -> None:
    refusing = _Hooks(refuse=True)
    with backend(services, refusing) as b, pytest.raises(FilingError) as err:
        b.apply(caller, PROC, "apply.zip", _package(services, signer))
    assert err.value.report[0].item == "報酬月額"
    assert refusing.seen == [Submission("apply", caller.username, PROC)]
    with backend(services, _Hooks(hold=timedelta(minutes=30))) as b:
        arrive_id = b.apply(caller, PROC, "apply.zip", _package(services, signer))["arrive_id"]
    with backend(services) as b:
        assert b.list_applications(caller, _today(services)).total == 0  # still being checked
    advance(services, "PT31M")
    with backend(services) as b:
        assert b.list_applications(caller, _today(services)).items[0]["arrive_id"] == arrive_id


def test_a_named_automatic_return_case_refuses_with_its_report(services, signer, caller) -> None:
    with backend(services) as b, pytest.raises(FilingError) as err:
        b.apply(caller, PROC, "apply.zip", _package(services, signer), auto_return_case="missing_destination")
    assert err.value.status == 400 and err.value.report[0].item == "提出先情報"
