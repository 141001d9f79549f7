"""Facade: the format code lives in `egov_format.formcheck` (shared by the client and the simulator)."""

from egov_format.formcheck import *  # noqa: F403
