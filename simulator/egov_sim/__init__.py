"""egov_sim — an offline simulator of e-Gov 電子申請API v2, its auth server, and GビズID."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
