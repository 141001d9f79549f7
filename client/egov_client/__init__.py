"""egov_client — a client for e-Gov 電子申請API v2 (real e-Gov or the egov-sandbox simulator)."""

from . import config
from .api import AsyncEgovClient, EgovClient
from .auth import AuthError, TokenSet
from .errors import (
    ApiError,
    CommunicationError,
    EgovError,
    MaintenanceError,
    NotFoundError,
    OutcomeUnknownError,
    PackageError,
    RequestTimeoutError,
    UnauthorizedError,
)
from .safe_submit import SafeSubmitPolicy, safe_submit, safe_submit_async
from .transport import RetryPolicy, TimeoutPolicy

__all__ = [
    "ApiError",
    "AsyncEgovClient",
    "AuthError",
    "CommunicationError",
    "EgovClient",
    "EgovError",
    "MaintenanceError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PackageError",
    "RequestTimeoutError",
    "RetryPolicy",
    "SafeSubmitPolicy",
    "TimeoutPolicy",
    "TokenSet",
    "UnauthorizedError",
    "config",
    "safe_submit",
    "safe_submit_async",
]
