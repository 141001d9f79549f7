"""Helpers for the 経営革新計画 RP tests: an applicant's browser-like httpx session against a live simulator,
the application's pages filled with valid values, applying, and the reviewer's login."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from egov_client.gbizid import GbizIdAuthorization, login_with_gbizid_form, simulator_one_time_code

RP = "/keieikakushin"
TOKYO = ("shinsa-tokyo", "tokyo-shinsa-2026")  # a demo reviewer of 東京都 (login ID, password)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
COVER = {"prefecture": "13", "office": "東京都産業労働局 商工部 経営支援課", "company_name": "株式会社テスト",
         "representative": "代表 太郎", "theme": "新しい製造工程の導入", "contact_name": "申請 太郎",
         "contact_email": "tanto@example.jp", "contact_tel": "0312345678"}
YEAR = {"sales": "100000000", "cost": "60000000", "sga": "20000000", "labour": "15000000", "capex": "5000000",
        "working": "1000000", "dep_normal": "800000", "dep_special": "200000", "staff": "12.5", "fund_gov": "2000000",
        "fund_private": "3000000", "fund_own": "1000000", "fund_other": "0"}


def b3_year(year: int, growth: int) -> dict[str, str]:
    """別表3's column `year` (0 = 直近期末): sales grow by `growth` yen a year, the rest as YEAR."""
    return {f"{k}_{year}": (str(int(v) + growth * year) if k == "sales" else v) for k, v in YEAR.items()}


B134 = {"industry": "製造業", "employees_recent": "12", "part_time": "2", "plan_years": "3",
        "structure": "社長以下3名で実施", **{k: v for y in range(4) for k, v in b3_year(y, 5000000).items()}}
B67 = {"equipment": "NC旋盤", "equipment_cost": "5000000", "partners": ""}


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


def gbizid_accounts(base: str, admin: str = "/__admin") -> dict[str, dict[str, Any]]:
    """The GビズID demo accounts by alias, of the default world or of the world whose admin is `admin`."""
    return {a["alias"]: a for a in httpx.get(f"{base}{admin}/world").json()["gbizid"]["accounts"]}


# the RP tests' fixtures (a test module takes them with `sim, accounts = rp_flow.sim, rp_flow.accounts`)
@pytest.fixture
def sim(egov_embedded_simulator: Any) -> Any:
    """The live in-process simulator, fresh for each test."""
    egov_embedded_simulator.fresh()
    return egov_embedded_simulator


@pytest.fixture
def accounts(sim: Any) -> dict[str, dict[str, Any]]:
    return gbizid_accounts(sim.url)


def logged_in(sim: Any, account: dict[str, Any], world: str | None = None) -> Applicant:
    a = Applicant(sim.url, account, world)
    r = a.login()
    assert r.url.path == f"{a.rp}/register", r.text
    r = a.post(f"{a.rp}/register", {"company_name": "株式会社テスト", "user_name": "申請 太郎", "email": "tanto@example.jp",
                                 "tel": "0312345678"})
    assert r.url.path == f"{a.rp}/" and "トップ" in r.text
    return a


def fill(a: Applicant, app: str, page: str, values: dict[str, Any]) -> httpx.Response:
    a.get(f"{app}/pages/{page}")
    r = a.post(f"{app}/pages/{page}", {**values, "action": "confirm"})
    assert r.status_code == 200 and "内容確認" in r.text, r.text
    r = a.post(f"{app}/pages/{page}", {"payload": _payload(r.text), "action": "register"})
    assert "登録完了" in r.text
    return r


def _payload(page: str) -> str:
    return html.unescape(re.search(r'name="payload" value="([^"]*)"', page).group(1))


def complete_application(a: Applicant) -> str:
    r = a.post(f"{a.rp}/applications", {})
    app = r.url.path
    assert r.text.count("【未入力】") == 5 and "disabled" in r.text
    fill(a, app, "cover", COVER)
    fill(a, app, "b134", B134)
    a.get(f"{app}/pages/b25")
    fill(a, app, "b25", {"item": ["試作品の開発", "量産体制の構築"], "period": ["1年目", "2年目"], "levy_basis": "生産数量"})
    fill(a, app, "b67", B67)
    a.get(f"{app}/pages/attachments")
    r = a.post(f"{app}/attachments", {"action": "upload"},
               files={"articles": ("teikan.pdf", PDF, "application/pdf"), "accounts": ("kessan.pdf", PDF, "application/pdf")})
    assert "登録完了" in r.text, r.text
    r = a.get(app)
    assert r.text.count("【済】") == 5 and 'id="go-apply" >' in r.text.replace('id="go-apply"  >', 'id="go-apply" >')
    return app


def fill_after_cover(a: Applicant, app: str) -> None:
    """The pages after the cover (別表1,3,4 / 2,5 / 6,7) and the two attachments, with short valid values."""
    fill(a, app, "b134", B134)
    fill(a, app, "b25", {"item": ["試作"], "period": ["1年目"], "levy_basis": "生産数量"})
    fill(a, app, "b67", B67)
    a.get(f"{app}/pages/attachments")
    a.post(f"{app}/attachments", {"action": "upload"}, files={"articles": ("a.pdf", PDF, "application/pdf"),
                                                             "accounts": ("b.pdf", PDF, "application/pdf")})


def apply(a: Applicant, app: str) -> str:
    """申請 from the confirmation page: the 受付番号 on the page that follows."""
    a.get(f"{app}/apply")
    found = re.search(r"APL-\d{10}", a.post(f"{app}/apply", {}).text)
    assert found, a.last
    return found.group(0)


def applied(a: Applicant, cover: dict[str, str] = COVER) -> tuple[str, str]:
    """An application filled (to `cover`'s 都道府県) and applied: (its path, its 受付番号)."""
    app = complete_application(a)
    if cover is not COVER:
        fill(a, app, "cover", cover)
    return app, apply(a, app)


def reviewer_login(base: str, rp: str, login: tuple[str, str]) -> tuple[Applicant, httpx.Response]:
    """A browser at the reviewers' pages of the RP at `rp`, after sending `login`: (it, the page answered)."""
    r = Applicant(base, {})
    r.get(f"{rp}/shinsa/login")
    return r, r.post(f"{rp}/shinsa/login", {"login_id": login[0], "password": login[1]})
