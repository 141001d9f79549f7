"""Facade: the format code lives in `egov_format.zipsafe` (shared by the client and the simulator)."""

from egov_format.zipsafe import *  # noqa: F403
