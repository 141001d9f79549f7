"""Fault actions one by one on a fake request context, and rules that could never fire refused."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from egov_client import ApiError
from egov_sim.catalogue import Catalogue
from egov_sim.ops.actions import (
    ArrivalCheckAction,
    AutoReturnAction,
    HangAction,
    LatencyAction,
    ResetAction,
    StatusAction,
    parse_action,
)
from egov_sim.ops.errors import FaultError
from egov_sim.ops.latency import Latency
from egov_sim.world.packages import sample_package
from flask import Response

PROC = "950A010700005000"


class FakeContext:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.slept: list[float] = []
        self.errors: list[tuple[int, dict]] = []
        self.dropped = False

    def note(self, text: str) -> None:
        self.notes.append(text)

    def sleep(self, latency: Latency) -> float:
        self.slept.append(latency.a)
        return latency.a

    def error(self, status: int, **kwargs) -> Response:
        self.errors.append((status, kwargs))
        return Response(status=status)

    def drop(self) -> Response:
        self.dropped = True
        return Response(status=200)

    def hang(self, seconds: float) -> float:
        return min(seconds, 0.5)


OK = Response(status=200)


def test_status_answers_before_or_replaces_the_answer_after() -> None:
    ctx = FakeContext()
    before = StatusAction(status=503, retry_after=5)
    assert before.before(ctx, "#1 r").status_code == 503 and before.after(ctx, "#1 r", OK) is OK
    assert ctx.errors[0][1]["headers"] == {"Retry-After": "5"} and ctx.notes == ["#1 r: status"]
    after = StatusAction(status=500, when="after")
    assert after.before(ctx, "#2 r") is None and after.after(ctx, "#2 r", OK).status_code == 500
    assert ctx.notes[-1] == "#2 r: status after processing (200)"
    (reported,) = parse_action({"report_list": [{"content": "提出先情報を設定しなければなりません"}]})
    assert isinstance(reported, StatusAction) and reported.status == 400 and reported.report[0]["item"] == "-"


def test_latency_waits_on_its_side_only() -> None:
    ctx = FakeContext()
    LatencyAction(latency=Latency("fixed", 0.2)).before(ctx, "#1 l")
    LatencyAction(latency=Latency("fixed", 0.3), when="after").before(ctx, "#2 l")
    assert LatencyAction(latency=Latency("fixed", 0.3), when="after").after(ctx, "#2 l", OK) is OK
    assert ctx.slept == [0.2, 0.3] and ctx.notes == ["#1 l: latency 0.200s", "#2 l: latency after 0.300s"]


def test_reset_and_hang_drop_the_connection() -> None:
    ctx = FakeContext()
    assert ResetAction().before(ctx, "#1 x") is not None and ctx.dropped
    ctx = FakeContext()
    assert ResetAction(when="after").before(ctx, "#1 x") is None and not ctx.dropped
    ResetAction(when="after").after(ctx, "#1 x", OK)
    assert ctx.dropped and ctx.notes == ["#1 x: reset after processing (200)"]
    ctx = FakeContext()
    HangAction(seconds=30, when="after").after(ctx, "#2 h", OK)
    assert ctx.dropped and ctx.notes == ["#2 h: held 0.50s after processing (200)"]


def test_submission_actions_act_only_through_the_filing_hooks() -> None:
    ctx = FakeContext()
    proc = Catalogue.load().get(PROC)
    auto = AutoReturnAction(case="missing_salary")
    check = ArrivalCheckAction(duration=timedelta(minutes=30))
    for action in (auto, check):
        assert action.before(ctx, "#1 s") is None and action.after(ctx, "#1 s", OK) is OK
    assert ctx.notes == [] and ctx.errors == []
    detail, report = auto.automatic_return(proc)
    assert detail == "申請データに誤りがあります。" and report[0].item == "報酬月額（合計）"
    assert check.arrival_check() == timedelta(minutes=30) and auto.arrival_check() is None
    assert check.automatic_return(proc) is None
    with pytest.raises(FaultError):
        parse_action({"status": 500, "reset": True})


@pytest.mark.parametrize("rule", [
    {"match": {"path": "/gbizid/*"}, "action": {"status": 500}},
    {"match": {"path": "^/__admin/.*"}, "action": {"status": 500}},
    {"match": {"path": "/shinsei/v2/apply/lists"}, "action": {"auto_return": "missing_salary"}},
    {"match": {"method": "GET"}, "action": {"arrival_check": "PT10M"}},
    {"match": {"path": "/auth/token", "proc_id": PROC}, "action": {"status": 500}},
])
def test_a_rule_that_can_never_fire_is_refused(http: httpx.Client, rule: dict) -> None:
    resp = http.post("/__admin/faults", json=rule)
    assert resp.status_code == 400, resp.text
    assert "never fire" in resp.json()["detail"] and resp.json()["instance"] == "/__admin/faults"
    assert http.get("/__admin/faults").json()["faults"] == []


def test_a_proc_id_rule_fires_only_after_authentication(http: httpx.Client, egov, services, signer) -> None:
    http.post("/__admin/faults", json={"match": {"path": "/shinsei/v2/apply", "proc_id": PROC},
                                       "action": {"status": 503}}).raise_for_status()
    anonymous = http.post("/shinsei/v2/apply", json={"proc_id": PROC, "send_file": {}})
    assert anonymous.status_code == 401  # not the fault: the rule needs the caller and the procedure
    assert http.get("/__admin/faults").json()["faults"][0]["fired"] == 0
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip())
    assert err.value.status == 503
    assert http.get("/__admin/faults").json()["faults"][0]["fired"] >= 1  # the client retries a 503
