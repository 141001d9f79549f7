"""egov_client — a client for e-Gov 電子申請API v2 (real e-Gov or the egov-sandbox simulator)."""

from . import config
from .api import AsyncEgovClient, EgovClient
from .auth import AuthError, TokenSet
from .errors import ApiError, EgovError, MaintenanceError, NotFoundError, PackageError, UnauthorizedError

__all__ = [
    "ApiError",
    "AsyncEgovClient",
    "AuthError",
    "EgovClient",
    "EgovError",
    "MaintenanceError",
    "NotFoundError",
    "PackageError",
    "TokenSet",
    "UnauthorizedError",
    "config",
]
