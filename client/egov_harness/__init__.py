"""Conformance harness for e-Gov 電子申請API v2 clients: a pytest-bdd step library in Japanese.

Written against the public client only, so the same scenarios drive any target: the
egov-sandbox simulator (in-process or running elsewhere) or e-Gov's 検証環境.

Use it in your own suite (pytest-bdd installed):

    # conftest.py
    from egov_harness.steps import *  # noqa: F403  (the step definitions)

and run `pytest --egov-target URL` (the egov-sandbox pytest plugin supplies the target).
See features/ in egov-sandbox for the scenarios this library drives.
"""

from egov_client.evidence import EvidenceRecorder

from .context import ScenarioContext
from .target import Account, Target, TargetUnavailable, sandbox_target, simulator_target

__all__ = [
    "Account",
    "EvidenceRecorder",
    "ScenarioContext",
    "Target",
    "TargetUnavailable",
    "sandbox_target",
    "simulator_target",
]
