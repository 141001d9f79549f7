"""The step library of egov-sandbox (the same one users import into their own suites)."""

from egov_harness.steps import *  # noqa: F403
