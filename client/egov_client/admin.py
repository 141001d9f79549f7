"""A client for the simulator's control API (`/__admin`): virtual clock, demo world, reset.

Works against any running egov-sandbox simulator (not against e-Gov, which has no such API).
The admin API is open on loopback; elsewhere pass the server's EGOV_SIM_ADMIN_TOKEN.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .errors import EgovError


class AdminError(EgovError):
    """The simulator refused an admin request (`{title, detail}`), or is not a simulator."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class TestCertificate:
    """A demo signing certificate of the simulator (PKCS#12 bytes and its password)."""

    __test__ = False  # not a pytest test class

    label: str
    p12: bytes
    password: str
    subject: str
    not_after: str
    revoked: bool


class SimulatorAdmin:
    """`/__admin` of a simulator at `base_url` (the URL that also serves /shinsei/v2 and /auth)."""

    def __init__(self, base_url: str, *, token: str = "", http: httpx.Client | None = None,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    # -- generic

    def call(self, method: str, path: str, json: Any = None) -> Any:
        """Any admin operation (`path` below /__admin), e.g. ones added by newer simulators."""
        response = self.http.request(method, f"{self.base_url}/__admin/{path.lstrip('/')}", json=json,
                                     headers=self._headers)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if not response.is_success:
            detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
            raise AdminError(response.status_code, str(detail or response.reason_phrase))
        if body is None and response.content:
            raise AdminError(response.status_code, "the answer is not JSON (is this an egov-sandbox simulator?)")
        return body

    def is_available(self) -> bool:
        try:
            self.clock()
        except (AdminError, httpx.HTTPError):
            return False
        return True

    # -- virtual clock

    def clock(self) -> dict[str, Any]:
        """{now, now_iso, speed, frozen, offset_seconds} — `now` is JST "YYYY-MM-DD HH:MM:SS"."""
        return self.call("GET", "/clock")

    def advance(self, duration: str) -> dict[str, Any]:
        """Move the virtual clock forward by an ISO-8601 duration ("PT2H", "P3D")."""
        return self.call("POST", "/clock", {"advance": duration})

    def set_clock(self, when: str) -> dict[str, Any]:
        """Jump to a JST date-time ("2026-04-01T09:00:00")."""
        return self.call("POST", "/clock", {"set": when})

    def freeze(self, frozen: bool = True) -> dict[str, Any]:
        return self.call("POST", "/clock", {"frozen": frozen})

    def set_speed(self, speed: float) -> dict[str, Any]:
        return self.call("POST", "/clock", {"speed": speed})

    def reset_clock(self, speed: float = 1.0) -> dict[str, Any]:
        return self.call("POST", "/clock", {"reset": True, "speed": speed})

    # -- demo world

    def world(self) -> dict[str, Any]:
        """Software credentials, accounts (with passwords) and certificate labels of the demo world."""
        return self.call("GET", "/world")

    def reset(self) -> dict[str, Any]:
        """Back to the demo world as it was made: every application, token, fault rule and maintenance
        window gone, the clock back at the world's creation; returns the world (same secrets)."""
        return self.call("POST", "/reset")["world"]

    def certificate(self, label: str) -> TestCertificate:
        """A demo certificate as PKCS#12 (valid, expired, revoked, unregistered)."""
        body = self.call("GET", f"/certificates/{label}")
        return TestCertificate(body["label"], base64.b64decode(body["p12"]), body["password"], body["subject"],
                               body["not_after"], bool(body["revoked"]))

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VirtualClock:
    """The simulator's virtual clock as tests use it."""

    def __init__(self, admin: SimulatorAdmin) -> None:
        self.admin = admin

    def now(self) -> datetime:
        """Virtual now (naive JST, as e-Gov writes times)."""
        return datetime.strptime(self.admin.clock()["now"], "%Y-%m-%d %H:%M:%S")

    def advance(self, duration: str) -> datetime:
        self.admin.advance(duration)
        return self.now()

    def set(self, when: str) -> datetime:
        self.admin.set_clock(when)
        return self.now()

    def freeze(self, frozen: bool = True) -> None:
        self.admin.freeze(frozen)

    def speed(self, speed: float) -> None:
        self.admin.set_speed(speed)
