"""Facade: the format code lives in `egov_format.package` (shared by the client and the simulator)."""

from egov_format.package import *  # noqa: F403
