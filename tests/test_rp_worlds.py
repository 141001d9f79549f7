"""The 経営革新計画 RP inside a world (`/worlds/<id>/keieikakushin`, ops/world_routing.py), over HTTP against
the live in-process simulator: the applicant logs in through the world's GビズID OP with the world's own RP
client id (the unmodified GbizIdClient validates the ID token and UserInfo; the OP checks the redirect URI
as registered in that world), applies, and the application, its sessions, its mails and the reviewer
accounts live in that world only — the default world's RP, reviewer pages and admin never see them, and
the world's admin (`/__admin/worlds/<id>/keieikakushin`) sees nothing of the default's."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import rp_flow
from egov_sim.rp.backend import SUBJECT_REMARK
from rp_flow import RP, TOKYO, applied, gbizid_accounts, logged_in, reviewer_login, world_rp

sim = rp_flow.sim  # the RP tests' fixture


def _numbers(sim: Any, admin: str) -> list[str]:
    r = httpx.get(f"{sim.url}{admin}/keieikakushin/applications")
    assert r.status_code == 200, r.text
    return [a["number"] for a in r.json()["applications"]]


def test_a_worlds_rp_logs_in_with_its_own_client_and_keeps_its_applications_mails_and_sessions(sim: Any) -> None:
    made = httpx.post(f"{sim.url}/__admin/worlds").json()
    wid, admin = made["id"], f"/__admin/worlds/{made['id']}"
    client_id = made["gbizid_clients"]["keieikakushin"]
    assert client_id != "keieikakushin"
    rp = world_rp(wid)

    a = logged_in(sim, gbizid_accounts(sim.url, admin)["prime"], wid)
    query = parse_qs(urlsplit(a.authorize).query)
    assert query["client_id"] == [client_id]  # the world's registration, routed to the world's OP
    assert query["redirect_uri"] == [f"{sim.url}{rp}/callback"]
    _, number = applied(a)
    history = a.get(f"{rp}/applications").text
    assert number in history and "受付済" in history
    assert 'href="/keieikakushin' not in history and 'action="/keieikakushin' not in history  # links stay in the world

    # the default world: its admin and its RP (the same demo account logs in there) see nothing of it
    assert _numbers(sim, admin) == [number] and _numbers(sim, "/__admin") == []
    d = logged_in(sim, gbizid_accounts(sim.url, "/__admin")["prime"])
    assert number not in d.get(f"{RP}/applications").text
    _, mine = applied(d)
    assert number != mine and int(number[4:]) > 500_000_000  # 受付番号 from the worlds' shared counter
    assert _numbers(sim, "/__admin") == [mine] and _numbers(sim, admin) == [number]
    assert number not in d.get(f"{RP}/applications").text and mine not in a.get(f"{rp}/applications").text
    r = httpx.post(f"{sim.url}/__admin/keieikakushin/applications/{number}/accept")
    assert r.status_code == 404 and set(r.json()) == {"title", "detail", "instance"}  # the admin's error format

    # sessions live in their world's database: a world's session id means nothing in the default world
    world_session = next(c.value for c in a.http.cookies.jar if c.name == "kk_session")
    assert [c.path for c in a.http.cookies.jar if c.name == "kk_session"] == [rp]
    stranger = httpx.get(f"{sim.url}{RP}/applications", cookies={"kk_session": world_session})
    assert stranger.status_code == 302 and "/keieikakushin/login" in stranger.headers["location"]
    assert httpx.get(f"{sim.url}{rp}/applications", cookies={"kk_session": world_session}).status_code == 200

    # the world's review reaches the world's outbox only
    r = httpx.post(f"{sim.url}{admin}/keieikakushin/applications/{number}/accept")
    assert r.json()["status"] == "審査中"
    r = httpx.post(f"{sim.url}{admin}/keieikakushin/applications/{number}/remarks",
                   json={"comments": {"b67": "設備の金額の根拠を添付してください。"}})
    assert r.json()["status"] == "申請内容に指摘あり"
    world_mails = httpx.get(f"{sim.url}{admin}/outbox").json()["mails"]
    default_mails = httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]
    assert {m["application_number"] for m in world_mails} == {number}
    assert number not in {m["application_number"] for m in default_mails}
    # the remark mail links to the world's RP (not the configured site, where this application is not)
    link = next(m for m in world_mails if m["subject"] == SUBJECT_REMARK)["body"]
    assert f"{sim.url}{rp}/" in link and "keieikakushin-test.go.jp" not in link
    followed = a.get(f"{rp}/")  # the applicant following it sees the application there
    assert followed.status_code == 200 and number in followed.text
    assert "申請内容に指摘あり" in a.get(f"{rp}/").text and "申請内容に指摘あり" not in d.get(f"{RP}/").text


def test_a_login_in_a_world_returns_to_the_page_asked_for_in_that_world(sim: Any) -> None:
    wid = httpx.post(f"{sim.url}/__admin/worlds").json()["id"]
    rp = world_rp(wid)
    a = logged_in(sim, gbizid_accounts(sim.url, f"/__admin/worlds/{wid}")["prime"], wid)
    a.post(f"{rp}/logout", {})
    r = a.get(f"{rp}/applications")
    assert r.url.path == f"{rp}/login" and 'name="next" value="/keieikakushin/applications"' in r.text
    assert a.login(next="/keieikakushin/applications").url.path == f"{rp}/applications"


def test_a_worlds_reviewers_see_its_applications_and_have_their_own_accounts(sim: Any) -> None:
    wid = httpx.post(f"{sim.url}/__admin/worlds").json()["id"]
    admin, rp = f"/__admin/worlds/{wid}", world_rp(wid)
    _, number = applied(logged_in(sim, gbizid_accounts(sim.url, admin)["prime"], wid))
    reviewer, page = reviewer_login(sim.url, rp, TOKYO)
    assert page.url.path == f"{rp}/shinsa/" and number in page.text
    assert [c.path for c in reviewer.http.cookies.jar if c.name == "kk_shinsa_session"] == [f"{rp}/shinsa"]
    _, page = reviewer_login(sim.url, RP, TOKYO)
    assert page.url.path == f"{RP}/shinsa/" and "申請一覧" in page.text and number not in page.text
    # a world's reviewer accounts are its own settings
    accounts = httpx.get(f"{sim.url}{admin}/keieikakushin/settings").json()["reviewers"]
    changed = {**accounts, TOKYO[0]: {**accounts[TOKYO[0]], "password": "world-only-2026"}}
    r = httpx.put(f"{sim.url}{admin}/keieikakushin/settings", json={"reviewers": changed})
    assert r.status_code == 200, r.text
    assert reviewer_login(sim.url, rp, (TOKYO[0], "world-only-2026"))[1].url.path == f"{rp}/shinsa/"
    assert reviewer_login(sim.url, rp, TOKYO)[1].url.path != f"{rp}/shinsa/"
    assert reviewer_login(sim.url, RP, TOKYO)[1].url.path == f"{RP}/shinsa/"
    assert reviewer_login(sim.url, RP, (TOKYO[0], "world-only-2026"))[1].url.path != f"{RP}/shinsa/"


def test_an_unknown_or_deleted_worlds_rp_is_a_404(sim: Any) -> None:
    wid = httpx.post(f"{sim.url}/__admin/worlds").json()["id"]
    dashboard = httpx.get(f"{sim.url}/__console/").text  # the console links every world's RP
    links = re.findall(r'<a class="rp" href="([^"]+)"', dashboard)
    assert f"{world_rp(wid)}/" in links and f"{RP}/" in links
    assert all(httpx.get(f"{sim.url}{link}").status_code == 200 for link in links)
    assert httpx.delete(f"{sim.url}/__admin/worlds/{wid}").status_code in (200, 204)
    for gone in (wid, "wnope"):
        r = httpx.get(f"{sim.url}{world_rp(gone)}/login")
        assert r.status_code == 404 and "unknown world" in r.text
        r = httpx.get(f"{sim.url}/__admin/worlds/{gone}/keieikakushin/applications")
        assert r.status_code == 404 and "unknown world" in r.json()["detail"]
    assert httpx.get(f"{sim.url}/worlds/{wid}/shinsei/v2/apply").status_code == 404  # only the RP has an entry here
