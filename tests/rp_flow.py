"""Helpers for the 経営革新計画 RP tests: an applicant's browser-like httpx session against a live simulator."""

from __future__ import annotations

import re
from typing import Any

import httpx
from egov_client.gbizid import GbizIdAuthorization, login_with_gbizid_form, simulator_one_time_code

RP = "/keieikakushin"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def world_rp(world_id: str) -> str:
    """The RP's entry path in a world (ops/world_routing.py)."""
    return f"/worlds/{world_id}{RP}"


class Applicant:
    """A browser at the RP of the default world, or of `world` (its pages, its admin for the SMS code)."""

    def __init__(self, base: str, account: dict[str, Any], world: str | None = None) -> None:
        self.base, self.account, self.world = base, account, world
        self.rp = world_rp(world) if world else RP
        self.http = httpx.Client(base_url=base, timeout=30)
        self.last = ""

    def get(self, path: str) -> httpx.Response:
        r = self.http.get(path, follow_redirects=True)
        self.last = r.text
        return r

    def post(self, path: str, data: dict[str, Any] | None = None, files: Any = None, **kw: Any) -> httpx.Response:
        token = csrf_of(self.last) if "csrf_token" not in (data or {}) else None
        payload = {**({"csrf_token": token} if token else {}), **(data or {})}
        r = self.http.post(path, data=payload, files=files, follow_redirects=True, **kw)
        self.last = r.text
        return r

    def login(self, next: str = "") -> httpx.Response:
        page = self.get(f"{self.rp}/login" + (f"?next={next}" if next else ""))
        r = self.http.post(f"{self.rp}/login/gbizid", data={"csrf_token": csrf_of(page.text), "next": next})
        assert r.status_code == 302, r.text
        self.authorize = authorize = r.headers["location"]
        auth = GbizIdAuthorization(authorize, "", "", f"{self.base}{self.rp}/callback")
        code = self._world_code if self.world else simulator_one_time_code(self.http, self.base,
                                                                            self.account["account_id"])
        callback = login_with_gbizid_form(self.http, auth, self.account["account_id"], self.account["password"], code)
        return self.get(callback)

    def _world_code(self, factor: str) -> str:
        """The user's phone in the world: its outbox's latest SMS, or its authenticator app's code."""
        admin, account = f"/__admin/worlds/{self.world}", self.account["account_id"]
        if factor == "app":
            return str(self.http.get(f"{admin}/gbizid/accounts/{account}/app/code").json()["code"])
        return str(self.http.get(f"{admin}/outbox", params={"account": account, "limit": 1}).json()["messages"][0]["code"])
