"""The scenario context fixture and helpers shared by the step modules."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from egov_client.evidence import EvidenceRecorder

from ..context import ScenarioContext, describe_error, error_messages
from ..target import Target

__all__ = ["assert_message", "egov_context", "iso_duration"]


@pytest.fixture
def egov_context(egov_target: Target, egov_evidence: EvidenceRecorder | None) -> Iterator[ScenarioContext]:
    """The state of one scenario (egov_target and egov_evidence come from the egov-sandbox plugin)."""
    ctx = ScenarioContext(egov_target, egov_evidence)
    yield ctx
    ctx.close()


_JA_UNITS = {"週間": "W", "週": "W", "日": "D", "時間": "H", "分": "M", "秒": "S"}
_JA_PART = re.compile(r"(\d+(?:\.\d+)?)(週間|週|日|時間|分|秒)")


def iso_duration(text: str) -> str:
    """"3日", "2時間30分", "1日と1時間" or ISO-8601 ("P3D", "PT2H") → ISO-8601."""
    text = text.strip().replace("と", "").replace(" ", "").replace("　", "")
    if text.upper().startswith("P"):
        return text.upper()
    parts = _JA_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (write e.g. 3日, 2時間, 30分 or P3D)")
    days = "".join(f"{n}{_JA_UNITS[u]}" for n, u in parts if _JA_UNITS[u] in "WD")
    times = "".join(f"{n}{_JA_UNITS[u]}" for n, u in parts if _JA_UNITS[u] in "HMS")
    return f"P{days}" + (f"T{times}" if times else "")


def assert_message(error: Exception, message: str) -> None:
    if not any(message in text for text in error_messages(error)):
        raise AssertionError(f"expected the message 「{message}」, got {describe_error(error)}")
