"""The console in a real browser: headless Chromium (Playwright) against the simulator on a loopback
socket, with the project's client sending over real HTTP. It creates a world from the dashboard, logs the
unmodified client in with the credentials the page shows, sees the case it sends in 申請一覧, opens it, advances the clock from the form and watches the status change (the
client reads the same status from /shinsei/v2), adds a fault from the form, triggers it with a client
request and finds it in リクエスト履歴 and in the rule's hit count — all inside the world, while the
default world stays untouched — and deletes the world.

Screenshots go to artifacts/console/ at the checkout (git-ignored; EGOV_CONSOLE_ARTIFACTS moves them):
01-dashboard, 02-applications, 03-case, 04-clock-advanced, 05-case-advanced, 06-fault-added,
07-journal, 08-request, 09-fault-hit, 10-world-deleted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from egov_client import ApiError, EgovClient
from egov_client.config import simulator
from egov_harness.steps.browser import CHROMIUM_ARGS, chromium_path
from egov_sim.world.packages import sample_package

PROC = "950A010700005000"
ARTIFACTS = Path(os.environ.get("EGOV_CONSOLE_ARTIFACTS") or Path(__file__).resolve().parent.parent / "artifacts" / "console")


@pytest.fixture
def page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set EGOV_CHROMIUM)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.skip(f"Chromium at {path} did not start: {str(exc).splitlines()[0]}")
        context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_console_in_chromium(page: Any, live_server: str, world: Any, services: Any, signer: Any) -> None:
    from playwright.sync_api import expect

    console = f"{live_server}/__console"
    page.goto(f"{console}/")
    expect(page.locator("h1")).to_have_text("ダッシュボード")
    expect(page.locator("#worlds")).to_contain_text("default")
    page.click("#create-world")
    expect(page.locator("#message")).to_contain_text("ワールドを作成しました。")
    world_id = page.url.split("/__console/w/", 1)[1].split("/", 1)[0]
    expect(page.locator("#world")).to_contain_text(world_id)
    client_id = page.locator("#credentials tr", has_text="client_id").locator("code").inner_text()
    secret = page.locator("#credentials tr", has_text="client_secret").locator("code").inner_text()
    assert client_id != world.client_id  # fresh credentials, shown on the page
    shot(page, "01-dashboard")

    inside = httpx.get(f"{live_server}/__admin/worlds/{world_id}/world").json()
    account = next(a for a in inside["accounts"] if a["alias"] == "demo")
    endpoint = simulator(live_server).with_credentials(client_id, secret, world.redirect_uris[0])
    with EgovClient.login(endpoint, account["username"], account["password"]) as egov:

        arrive_id = egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id
        page.click("#nav-applications")
        row = page.locator(f'tr[data-arrive-id="{arrive_id}"]')
        expect(row.locator(".status")).to_have_text("到達")
        shot(page, "02-applications")

        row.locator("a").click()
        expect(page.locator("#status")).to_contain_text("到達")
        expect(page.locator("#timeline tr.scheduled")).to_have_count(3)
        shot(page, "03-case")

        page.click("#nav-clock")
        page.fill('input[name="advance"]', "PT3H")
        page.click("#clock-advance")
        expect(page.locator("#message")).to_have_text("時計を変更しました。")
        shot(page, "04-clock-advanced")

        page.click("#nav-applications")
        expect(row.locator(".status")).to_have_text("審査中")
        row.locator("a").click()
        expect(page.locator("#status")).to_contain_text("審査中")
        assert egov.get_application(arrive_id).status == "審査中"  # the API says the same
        expect(page.locator("#timeline tr.scheduled")).to_have_count(2)
        shot(page, "05-case-advanced")

        page.click("#nav-faults")
        page.fill('#fault-form input[name="name"]', "一覧が混雑")
        page.select_option('#fault-form select[name="method"]', "GET")
        page.fill('#fault-form input[name="path"]', "/shinsei/v2/apply/lists")
        page.select_option('#fault-form select[name="kind"]', "status")
        page.fill('#fault-form input[name="value"]', "500")
        page.fill('#fault-form input[name="times"]', "1")
        page.click("#add-fault")
        expect(page.locator("#message")).to_have_text("障害ルールを追加しました。")
        rule = page.locator("#rules tr[data-rule-id]")
        expect(rule.locator(".fired")).to_have_text("0")
        shot(page, "06-fault-added")

        with pytest.raises(ApiError) as refused:  # the rule fires once: the client meets the 500
            egov.list_applications(date_from=date(2000, 1, 1), date_to=date(2000, 1, 2))
        assert refused.value.status == 500

        page.click("#nav-requests")
        page.fill('#request-filters input[name="status"]', "500")
        page.click('#request-filters button[type="submit"]')
        hit = page.locator("#journal tr[data-request-id]")
        expect(hit).to_have_count(1)
        expect(hit.locator(".faults")).to_contain_text("一覧が混雑")
        expect(hit).to_contain_text("/shinsei/v2/apply/lists")
        shot(page, "07-journal")
        hit.locator("a").click()
        expect(page.locator("#request-status")).to_have_text("500")
        expect(page.locator("#request-faults")).to_contain_text("一覧が混雑")
        shot(page, "08-request")

        page.click("#nav-faults")
        expect(page.locator("#rules tr[data-rule-id] .fired")).to_have_text("1")
        shot(page, "09-fault-hit")

    default = httpx.get(f"{live_server}/__admin/faults").json()["faults"]
    assert default == []  # the world's rule, clock and case never reached the default world
    assert arrive_id not in httpx.get(f"{live_server}/__admin/applications").text

    page.goto(f"{console}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#delete-{world_id}")
    expect(page.locator("#message")).to_have_text("ワールドを削除しました。")
    expect(page.locator("#worlds")).not_to_contain_text(world_id)
    shot(page, "10-world-deleted")
    assert httpx.get(f"{live_server}/__console/w/{world_id}/").status_code == 404
    assert sorted(p.name for p in ARTIFACTS.glob("[01]*.png"))[-1] == "10-world-deleted.png"
