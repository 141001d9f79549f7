"""Facade: the format code lives in `egov_format.signing` (shared by the client and the simulator)."""

from egov_format.signing import *  # noqa: F403
