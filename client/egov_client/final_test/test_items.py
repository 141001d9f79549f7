"""The kit as a pytest entry: one test per 最終確認試験 item.

    EGOV_FINAL_TEST_TARGET=http://127.0.0.1:8080 pytest --pyargs egov_client.final_test.test_items
    EGOV_FINAL_TEST_TARGET=sandbox pytest --pyargs egov_client.final_test.test_items   # + EGOV_* settings

Evidence and the result sheet go to EGOV_FINAL_TEST_OUT (default ./final-test). A "waiting" item
is skipped with its reason (run `egov final-test prepare` first against a real endpoint); a failed
item fails with its reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egov_client.final_test import FinalTest, ItemResult, TargetNotReady, load_items, resolve
from egov_client.final_test.runner import PASS, WAITING
from egov_client.final_test.sheet import write_all


@pytest.fixture(scope="module")
def final_test_results() -> dict[str, ItemResult]:
    target = os.environ.get("EGOV_FINAL_TEST_TARGET")
    if not target:
        pytest.skip("set EGOV_FINAL_TEST_TARGET to a simulator URL or to sandbox")
    try:
        kit = FinalTest(resolve(target), Path(os.environ.get("EGOV_FINAL_TEST_OUT", "final-test")))
    except TargetNotReady as exc:
        pytest.fail(str(exc))
    try:
        results = kit.run()
    finally:
        kit.close()
    write_all(results, kit.out, f"最終確認試験 — {kit.target.name}")
    return {r.id: r for r in results}


@pytest.mark.parametrize("item_id", [item.id for item in load_items()])
def test_item(final_test_results: dict[str, ItemResult], item_id: str) -> None:
    result = final_test_results[item_id]
    if result.result == WAITING:
        pytest.skip(f"waiting: {result.reason}")
    assert result.result == PASS, f"{item_id} {result.name}: {result.reason}"
