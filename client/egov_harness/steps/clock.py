"""The virtual clock (simulator only): freeze it, move it."""

from __future__ import annotations

from pytest_bdd import given, parsers, step

from ..context import ScenarioContext
from .common import iso_duration


@given("シミュレーターの時計を止める")
def _freeze(egov_context: ScenarioContext) -> None:
    egov_context.admin("止まった時計").freeze(True)


@step(parsers.re(r"(時計を)?「(?P<duration>[^」]+)」(進める|経過する|が経過する)"))
def _advance(egov_context: ScenarioContext, duration: str) -> None:
    egov_context.admin("時計を進めること").advance(iso_duration(duration))
