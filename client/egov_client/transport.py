"""Kept for code that imported from here: the executor (executor.py) now runs Calls (calls.py).
("Transport" is httpx's word for the seam below the client.)"""

from .calls import Call
from .executor import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    NO_RETRY,
    AsyncExecutor,
    RetryPolicy,
    SyncExecutor,
    TimeoutPolicy,
    TokenSource,
    parse_retry_after,
    raise_for_api_error,
)

SyncTransport = SyncExecutor  # the old names, same arguments
AsyncTransport = AsyncExecutor

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "NO_RETRY",
    "AsyncTransport",
    "Call",
    "RetryPolicy",
    "SyncTransport",
    "TimeoutPolicy",
    "TokenSource",
    "parse_retry_after",
    "raise_for_api_error",
]
