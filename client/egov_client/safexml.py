"""Facade: the format code lives in `egov_format.safexml` (shared by the client and the simulator)."""

from egov_format.safexml import *  # noqa: F403
