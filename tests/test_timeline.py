"""timeline.derive: a case at an instant, from typed scenario steps, recorded actions and the clock."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta

from egov_sim.catalogue.steps import Scenario, parse_scenarios
from egov_sim.filing.lifecycle import build_timeline
from egov_sim.filing.timeline import derive
from egov_sim.store.models import Application, ApplicationAction

ARRIVED = datetime(2026, 4, 1, 9, 0)
SCENARIOS = parse_scenarios(tomllib.loads("""
[default]
steps = [{ after = "PT0S", status = "到達" }, { after = "PT1H", status = "審査中" },
         { after = "P2D", status = "審査終了", document = { sentence = "受理しました。" } }]
[notice]
steps = [{ after = "P1D", status = "審査中（補正待ち）", notice = { type = "補正", correct_type = "部分補正", title = "補正のお願い" } },
         { after = "P1DT2H", status = "審査中" }]
[payment]
steps = [{ after = "PT0S", status = "到達", payment = { fee = 1000, pay_days = 7 } }]
[refused]
withdrawal = "refuse"
withdrawal_after = "PT1H"
steps = [{ after = "PT0S", status = "到達" }]
"""), "test")


def _case(scenario: Scenario) -> Application:
    return Application(arrive_id="950202600000001", arrive_at=ARRIVED, timeline=build_timeline(scenario, ARRIVED))


def _action(kind: str, at: datetime, **data: object) -> ApplicationAction:
    return ApplicationAction(kind=kind, at=at, data=data)


def test_the_default_path_moves_with_the_clock_and_issues_a_document_with_defaults() -> None:
    app = _case(SCENARIOS["default"])
    assert derive(app, [], ARRIVED).status == "到達"
    assert derive(app, [], ARRIVED + timedelta(hours=1)).status == "審査中"
    state = derive(app, [], ARRIVED + timedelta(days=2), issuer="品川年金事務所")
    (doc,) = state.documents
    assert state.status == "審査終了" and doc.sub_id == 1 and doc.title == "公文書(001)"
    assert doc.sentence == "受理しました。" and doc.issuer == "品川年金事務所" and doc.signed
    assert doc.expires == (ARRIVED + timedelta(days=92)).date()
    assert doc.attachments == [{"file_name": "tsuchisho.pdf", "title": "通知書"}]


def test_a_hosei_notice_pauses_the_steps_until_the_amendment() -> None:
    app = _case(SCENARIOS["notice"])
    later = ARRIVED + timedelta(days=5)
    state = derive(app, [], later)
    (notice,) = state.notices
    assert state.status == "審査中（補正待ち）" and state.open_gate is notice
    assert notice.correct_type == "部分補正" and notice.sentence == "補正のお願い"
    assert notice.correct_expired == (ARRIVED + timedelta(days=15)).date()
    amended = _action("amend", later, step=0)
    assert derive(app, [amended], later + timedelta(hours=1)).status == "審査中（補正待ち）"
    resumed = derive(app, [amended], later + timedelta(hours=2))
    assert resumed.status == "審査中" and resumed.notices[0].correct_completed == later


def test_a_payment_step_issues_the_payment_and_its_notice() -> None:
    state = derive(_case(SCENARIOS["payment"]), [], ARRIVED)
    (pay,) = state.payments
    assert pay.total_fee == 1000 and pay.facility_number == "00200" and pay.name_kana == "テスウリョウ"
    assert len(pay.pay_number) == 16 and pay.expires == (ARRIVED + timedelta(days=7)).date()
    assert state.pay_status == "納付待ち" and state.notices[0].type == "納付"
    paid = _action("pay", ARRIVED + timedelta(hours=1), pay_number=pay.pay_number)
    assert derive(_case(SCENARIOS["payment"]), [paid], ARRIVED + timedelta(hours=1)).pay_status == "納付済み"


def test_withdrawal_accepted_by_default_and_refused_by_the_scenario_option() -> None:
    asked = ARRIVED + timedelta(minutes=10)
    app = _case(SCENARIOS["default"])
    withdraw = _action("withdraw", asked)
    assert derive(app, [], asked).withdraw_flag
    assert derive(app, [withdraw], asked + timedelta(hours=1)).status == "取下げ処理中"
    accepted = derive(app, [withdraw], asked + timedelta(hours=2))
    assert accepted.status == "手続終了(取下げ済み)" and accepted.withdrawal == "accepted"
    assert accepted.notices[-1].title == "取下げ依頼の受理について" and not accepted.withdraw_flag
    assert accepted.documents == []  # steps after the request no longer happen
    refused_case = _case(SCENARIOS["refused"])
    refused = derive(refused_case, [withdraw], asked + timedelta(hours=1), SCENARIOS["refused"].options)
    assert refused.withdrawal == "refused" and refused.status == "到達"
    assert refused.notices[-1].sentence.startswith("審査が進んでいるため")
