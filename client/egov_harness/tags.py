"""Gherkin tags the harness understands.

@シミュレーターのみ / @simulator_only — needs control of a simulator (clock, faults, maintenance);
    skipped, with the reason, against e-Gov.
@ブラウザ / @browser — runs a real browser.
@試験-<番号> / @test-<number> — the test number (e.g. of the 最終確認試験 sheet); evidence files
    are laid out by it.
@最終確認-<項番> / @final-<item> — the e-Gov 最終確認試験 item the scenario covers (egov_client/final_test/items.toml).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

SIMULATOR_ONLY = ("シミュレーターのみ", "simulator_only")
BROWSER = ("ブラウザ", "browser")
TEST_ID = re.compile(r"^(?:試験|test)[-_:](?P<id>[\w.-]+)$")
FINAL_ITEM = re.compile(r"^(?:最終確認|final)[-_:](?P<id>\d\d-\d)$")


def apply_tag(tag: str, function: Callable[..., Any]) -> bool | None:
    """pytest-bdd's pytest_bdd_apply_tag: our tags become marks; others keep pytest-bdd's default."""
    if tag in SIMULATOR_ONLY:
        pytest.mark.simulator_only(function)
        return True
    if tag in BROWSER:
        pytest.mark.browser(function)
        return True
    if (m := TEST_ID.match(tag)) is not None:
        pytest.mark.egov_test_id(m.group("id"))(function)
        return True
    if (m := FINAL_ITEM.match(tag)) is not None:
        pytest.mark.egov_final_item(m.group("id"))(function)
        return True
    return None


def scenario_template(item: pytest.Item) -> Any:
    """The Gherkin scenario (template) a pytest-bdd test item runs, or None for other tests."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "obj", None)
    return scenario_wrapper_template_registry.get(function) if function is not None else None


def example_index(item: pytest.Item) -> int | None:
    """1-based row of the Examples a scenario outline item runs (over all its Examples tables)."""
    callspec = getattr(item, "callspec", None)
    template = scenario_template(item)
    if callspec is None or template is None or "_pytest_bdd_example" not in callspec.params:
        return None
    contexts = [dict(c) for examples in template.examples for c in examples.as_contexts()]
    try:
        return contexts.index(dict(callspec.params["_pytest_bdd_example"])) + 1
    except ValueError:
        return None


def test_id_of(item: pytest.Item) -> str:
    """The scenario's test number (with the example's row for outlines), or "-"."""
    mark = item.get_closest_marker("egov_test_id")
    base = str(mark.args[0]) if mark and mark.args else "-"
    index = example_index(item)
    return f"{base}-{index}" if index is not None and base != "-" else base
