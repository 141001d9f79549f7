"""The request journal (WireMock's /__admin/requests): recent requests and responses, bounded.

Kept in memory per server process (a deque with a fixed length; bodies truncated), so a busy
load test cannot make it grow. Several processes share one in the database instead: journal_store.py.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

BODY_LIMIT = 4096


def truncate(data: bytes | str | None, limit: int = BODY_LIMIT) -> str | None:
    if data is None:
        return None
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit} chars)"


@dataclass
class Entry:
    id: int
    at: str  # virtual JST time of the request
    method: str
    path: str
    query: str
    account: str | None  # the verified caller (a checked token); None otherwise
    status: int
    duration_ms: float
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    maintenance: int | None = None  # window id when answered by a maintenance window
    faults: list[str] = field(default_factory=list)  # fired rules ("#3 busy apply: latency 2.0s", ...)
    claimed_account: str | None = None  # named by an unverified token or a login form, never trusted

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[Entry] = deque(maxlen=max(size, 1))
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._entries.maxlen or 0

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, entry_id: int) -> Entry | None:
        with self._lock:
            return next((e for e in self._entries if e.id == entry_id), None)

    def find(self, *, path: str | None = None, account: str | None = None, status: str | None = None,
             method: str | None = None, limit: int = 100) -> list[Entry]:
        """Newest first. `path` is a glob (or a substring), `status` a code or a class like 4xx."""
        with self._lock:
            entries = list(self._entries)
        out = []
        for e in reversed(entries):
            if not self.matches(e, path=path, account=account, status=status, method=method):
                continue
            out.append(e)
            if len(out) >= limit:
                break
        return out

    @staticmethod
    def matches(e: Any, *, path: str | None = None, account: str | None = None, status: str | None = None,
                method: str | None = None) -> bool:
        """Does entry `e` (anything with path, account, method, status) pass `find`'s filters?"""
        if path and not (fnmatch.fnmatchcase(e.path, path) or path in e.path):
            return False
        if account and (e.account or "").lower() != account.lower():
            return False
        if method and e.method != method.upper():
            return False
        return not (status and not _status_matches(status, e.status))

    def close(self) -> None:
        """The world is gone (nothing to release in memory)."""


def _status_matches(spec: str, status: int) -> bool:
    spec = spec.strip().lower()
    if len(spec) == 3 and spec.endswith("xx") and spec[0].isdigit():
        return status // 100 == int(spec[0])
    return spec.isdigit() and int(spec) == status
