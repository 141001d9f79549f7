"""A client for the simulator's control API (`/__admin`): virtual clock, demo world, reset, case
control (scenario, next step, payment), maintenance windows, fault rules, journal, sessions, SMS outbox.

Works against any running egov-sandbox simulator (not against e-Gov, which has no such API).
The admin API is open on loopback; elsewhere pass the server's EGOV_SIM_ADMIN_TOKEN.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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
                 timeout: float = 30.0, world: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.world_id = world  # every call addresses this world (/__admin/worlds/<id>/...); None: the default
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    # -- generic

    def _url(self, path: str, scoped: bool = True) -> str:
        prefix = f"/__admin/worlds/{self.world_id}" if scoped and self.world_id else "/__admin"
        return f"{self.base_url}{prefix}/{path.lstrip('/')}"

    def call(self, method: str, path: str, json: Any = None, *, scoped: bool = True) -> Any:
        """Any admin operation (`path` below /__admin, within this admin's world when `scoped`)."""
        response = self.http.request(method, self._url(path, scoped), json=json, headers=self._headers)
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

    # -- cases: scenarios, next step, payment (the agency's and the bank's side)

    def set_scenario(self, scenario: str | None, *, account: str | None = None, proc_id: str | None = None,
                     count: int | None = None) -> list[dict[str, Any]]:
        """Scenario for the next submissions (of an account / a procedure; `count` of them); None removes the
        rule. Returns the rules in force. Scenarios are the procedure's, e.g. notice, hosei_partial, resubmit,
        resubmit_closed, withdrawal_refused, payment."""
        body: dict[str, Any] = {"scenario": scenario}
        body.update({k: v for k, v in (("account", account), ("proc_id", proc_id), ("count", count)) if v is not None})
        return self.call("POST", "/scenario", body)["rules"]

    def advance_case(self, arrive_id: str) -> dict[str, Any]:
        """Make the case's next scenario step happen now: {arrive_id, step, status}."""
        return self.call("POST", f"/applications/{arrive_id}/advance", {})

    def pay(self, arrive_id: str, pay_number: str | None = None) -> list[str]:
        """The bank's confirmation of a payment (all waiting ones without a pay_number); the numbers paid."""
        return self.call("POST", f"/applications/{arrive_id}/pay", {"pay_number": pay_number} if pay_number else {})[
            "paid"]

    def applications(self, *, sent_from: str | None = None, sent_to: str | None = None, group: str = "全て",
                     account: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """Every account's cases, newest sent first: {total, applications: [{arrive_id, status, group, …}]};
        `group` is the progress screen's 到達状況 filter (全て/審査中/処理中/終了/要再申請/取下げ処理中)."""
        params = {k: v for k, v in (("sent_from", sent_from), ("sent_to", sent_to), ("account", account)) if v}
        response = self.http.get(f"{self.base_url}/__admin/applications", headers=self._headers,
                                 params={**params, "group": group, "limit": limit, "offset": offset})
        if not response.is_success:
            raise AdminError(response.status_code, response.text[:200])
        return response.json()

    def application(self, arrive_id: str) -> dict[str, Any]:
        """One case as the operator sees it, with its timeline: steps [{at, state, done, status, parts}]."""
        return self.call("GET", f"/applications/{arrive_id}")

    def auto_returns(self, proc_id: str) -> dict[str, Any]:
        """The procedure's automatic-return cases: {name: {description, report_list}}."""
        return self.call("GET", f"/auto-returns/{proc_id}")

    # -- maintenance calendar (JST)

    def add_maintenance(self, start: datetime | str | None = None, *, end: datetime | str | None = None,
                        duration: str | None = None, recurrence: dict[str, Any] | None = None,
                        title: str | None = None, auth_down: bool = False, expire_tokens: bool = False,
                        end_sessions: bool = False, lose_before: str | None = None,
                        announce: bool = True) -> dict[str, Any]:
        """A one-off window (start + end or duration, JST) or a recurring one
        (recurrence={"weekdays": ["mon", "wed"], "start": "18:00", "duration": "PT6H"}). Options: the auth server
        is down too, tokens issued before it are refused after it, login sessions end, sends in the
        `lose_before` minutes before it are lost. Returns the window with its id."""
        body: dict[str, Any] = {"auth_down": auth_down, "expire_tokens": expire_tokens,
                                "end_sessions": end_sessions, "announce": announce}
        if recurrence is not None:
            body["recurrence"] = recurrence
        else:
            body["start"] = _jst_text(start)
            if end is not None:
                body["end"] = _jst_text(end)
            else:
                body["duration"] = duration or "PT1H"
        if title:
            body["title"] = title
        if lose_before:
            body["lose_before"] = lose_before
        return self.call("POST", "/maintenance", body)

    def maintenance(self) -> dict[str, Any]:
        """{now, current, windows, upcoming}."""
        return self.call("GET", "/maintenance")

    def delete_maintenance(self, window_id: int) -> None:
        self.call("DELETE", f"/maintenance/{window_id}")

    def clear_maintenance(self) -> None:
        self.call("DELETE", "/maintenance")

    # -- fault rules, latency

    def add_fault(self, action: dict[str, Any], *, method: str | None = None, path: str | None = None,
                  account: str | None = None, proc_id: str | None = None, times: int | None = None,
                  probability: float | None = None, name: str | None = None, active_from: str | None = None,
                  until: str | None = None) -> dict[str, Any]:
        """A fault rule: `action` is e.g. {"status": 500}, {"status": 503, "retry_after": 0},
        {"latency": {"fixed": 2}}, {"reset": True}, {"hang": True}, {"auto_return": "missing_salary"},
        {"arrival_check": "PT30M"}, with "when": "after" to fail after the request was processed. Matching on
        method, path (glob, or a regex starting with ^), account (alias or login ID) and procedure; it fires
        `times` times, with `probability`, between `active_from` and `until` (JST). Returns the rule."""
        match = {k: v for k, v in (("method", method), ("path", path), ("account", account),
                                   ("proc_id", proc_id)) if v is not None}
        body: dict[str, Any] = {"action": action}
        for key, value in (("match", match or None), ("times", times), ("probability", probability),
                           ("name", name), ("from", active_from), ("until", until)):
            if value is not None:
                body[key] = value
        return self.call("POST", "/faults", body)

    def faults(self) -> list[dict[str, Any]]:
        """The rules with how often each fired and how many times remain."""
        return self.call("GET", "/faults")["faults"]

    def delete_fault(self, rule_id: int) -> None:
        self.call("DELETE", f"/faults/{rule_id}")

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def set_latency(self, profile: str, scale: float | None = None) -> dict[str, Any]:
        """Busy-season latency profile: off | calm | busy-season | always-busy (scale 1.0 = real seconds)."""
        return self.call("PUT", "/latency", {"profile": profile, **({"scale": scale} if scale is not None else {})})

    # -- journal, holds, sessions, certificates, the SMS outbox

    def requests(self, *, path: str | None = None, method: str | None = None, status: int | None = None,
                 account: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The request journal, newest first."""
        params = {k: v for k, v in (("path", path), ("method", method), ("status", status), ("account", account))
                  if v is not None}
        response = self.http.get(self._url("requests"), params={**params, "limit": limit},
                                 headers=self._headers)
        if not response.is_success:
            raise AdminError(response.status_code, response.text[:200])
        return response.json()["requests"]

    def request(self, entry_id: int) -> dict[str, Any]:
        """One journal entry with its headers and (truncated) bodies."""
        return self.call("GET", f"/requests/{entry_id}")

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def holds(self) -> list[dict[str, Any]]:
        """Applications inquiries do not show yet (arrival being checked) or ever (lost in a maintenance)."""
        return self.call("GET", "/holds")["holds"]

    def cut_sessions(self, account: str) -> int:
        """End an account's login sessions now (the API answers 401; a new login works); how many ended."""
        return int(self.call("POST", "/sessions/cut", {"account": account})["sessions_cut"])

    def revoke_certificate(self, label: str, at: datetime | str | None = None) -> dict[str, Any]:
        return self.call("POST", f"/certificates/{label}/revoke", {"at": _jst_text(at)} if at else {})

    def outbox(self, account: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """GビズID SMS messages "sent" to phones, newest first (each with its one-time code)."""
        response = self.http.get(self._url("outbox"), headers=self._headers,
                                 params={"limit": limit, **({"account": account} if account else {})})
        if not response.is_success:
            raise AdminError(response.status_code, response.text[:200])
        return response.json()["messages"]

    # -- worlds (isolated sandboxes of one server; always addressed from the top)

    def create_world(self) -> dict[str, Any]:
        """A new world: {"id", "client_id", "client_secret", "redirect_uris", "gbizid_clients", "admin_path"}."""
        return self.call("POST", "worlds", scoped=False)

    def worlds(self) -> list[dict[str, Any]]:
        return self.call("GET", "worlds", scoped=False)["worlds"]

    def world_info(self, world_id: str) -> dict[str, Any]:
        return self.call("GET", f"worlds/{world_id}", scoped=False)

    def delete_world(self, world_id: str) -> None:
        self.call("DELETE", f"worlds/{world_id}", scoped=False)

    def in_world(self, world_id: str | None) -> SimulatorAdmin:
        """An admin of the same server for world `world_id` (sharing this one's HTTP client)."""
        other = SimulatorAdmin(self.base_url, http=self.http, world=world_id)
        other._headers = dict(self._headers)
        return other

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> SimulatorAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jst_text(value: datetime | str | None) -> str:
    """A JST date-time as the admin API takes it (naive = JST)."""
    if value is None:
        raise ValueError("a date-time is required")
    return value.isoformat() if isinstance(value, datetime) else str(value)


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


_DURATION = re.compile(r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
                       r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """ISO-8601 duration in days, hours, minutes, seconds ("PT10M", "P1DT2H")."""
    m = _DURATION.match(text.strip().upper())
    if not m or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    return timedelta(**{k: float(v) for k, v in m.groupdict().items() if v})


class Maintenance:
    """Maintenance windows relative to the simulator's virtual now (the `egov_maintenance` fixture)."""

    def __init__(self, admin: SimulatorAdmin) -> None:
        self.admin = admin
        self.clock = VirtualClock(admin)

    def window(self, *, starts_in: str = "PT0S", duration: str = "PT1H", **options: Any) -> dict[str, Any]:
        """A window starting `starts_in` from now; options as SimulatorAdmin.add_maintenance."""
        start = self.clock.now() + parse_duration(starts_in)
        return self.admin.add_maintenance(start, end=start + parse_duration(duration), **options)

    def weekly(self, weekdays: list[str], start: str, duration: str, **options: Any) -> dict[str, Any]:
        """A recurring window, e.g. weekly(["mon", "wed", "fri"], "18:00", "PT6H")."""
        return self.admin.add_maintenance(recurrence={"weekdays": weekdays, "start": start, "duration": duration},
                                          **options)

    def current(self) -> dict[str, Any] | None:
        return self.admin.maintenance()["current"]

    def wait_until_over(self) -> datetime:
        """Move the virtual clock to one second after the current window; the new now."""
        current = self.current()
        if current is None:
            return self.clock.now()
        end = datetime.fromisoformat(current["end"]).replace(tzinfo=None)
        return self.clock.advance(f"PT{max((end - self.clock.now()).total_seconds(), 0) + 1:.0f}S")

    def clear(self) -> None:
        self.admin.clear_maintenance()


class Faults:
    """Fault injection in the words tests use (the `egov_faults` fixture); rules as SimulatorAdmin.add_fault."""

    def __init__(self, admin: SimulatorAdmin) -> None:
        self.admin = admin

    def fail(self, path: str, status: int = 500, *, method: str | None = None, times: int | None = 1,
             after_processing: bool = False, retry_after: int | None = None, **match: Any) -> dict[str, Any]:
        """Answer `status` to matching requests — before the simulator processes them (nothing happens) or
        after (the request took effect, the client does not know)."""
        action: dict[str, Any] = {"status": status}
        if after_processing:
            action["when"] = "after"
        if retry_after is not None:
            action["retry_after"] = retry_after
        return self.admin.add_fault(action, path=path, method=method, times=times, **match)

    def slow(self, path: str, seconds: float, *, method: str | None = None, times: int | None = None,
             **match: Any) -> dict[str, Any]:
        return self.admin.add_fault({"latency": {"fixed": seconds}}, path=path, method=method, times=times, **match)

    def reset_connection(self, path: str, *, method: str | None = None, times: int | None = 1,
                         after_processing: bool = False) -> dict[str, Any]:
        action: dict[str, Any] = {"reset": True, **({"when": "after"} if after_processing else {})}
        return self.admin.add_fault(action, path=path, method=method, times=times)

    def auto_return(self, case: str, *, proc_id: str | None = None, times: int | None = 1) -> dict[str, Any]:
        """The next submissions come back as 自動返戻 with the procedure's case (see auto_returns())."""
        return self.admin.add_fault({"auto_return": case}, method="POST", path="/shinsei/v2/apply",
                                    proc_id=proc_id, times=times)

    def arrival_check(self, duration: str, *, times: int | None = 1) -> dict[str, Any]:
        """Arrivals stay invisible to inquiries for `duration` (e-Gov's 到達確認 in busy periods)."""
        return self.admin.add_fault({"arrival_check": duration}, method="POST", path="/shinsei/v2/apply",
                                    times=times)

    def rules(self) -> list[dict[str, Any]]:
        return self.admin.faults()

    def clear(self) -> None:
        self.admin.clear_faults()
