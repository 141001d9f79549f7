"""Login in a real browser (headless Chromium through Playwright), as people see the pages.

The browser is the system's Chromium (EGOV_CHROMIUM, else chromium / chromium-browser /
google-chrome on PATH). The redirect to the software's redirect_uri is intercepted inside the
browser, so nothing needs to listen there; the code is then exchanged by the client library.
When no browser can start, the scenario is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from egov_client.auth import AuthClient, authorization_url, pkce_pair
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    explicit = os.environ.get("EGOV_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _page(ctx: ScenarioContext) -> Any:
    """A new page in headless Chromium, closed with the scenario."""
    if "browser_page" in ctx.notes:
        return ctx.notes["browser_page"]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set EGOV_CHROMIUM)")
    playwright = sync_playwright().start()
    ctx.on_close(playwright.stop)
    try:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:
        pytest.skip(f"Chromium at {path} did not start: {str(exc).splitlines()[0]}")
    ctx.on_close(browser.close)
    page = browser.new_context(locale="ja-JP").new_page()
    page.set_default_timeout(30_000)
    ctx.notes["browser_page"] = page
    return page


def _screenshot(ctx: ScenarioContext, page: Any, name: str) -> None:
    if ctx.recorder:
        ctx.recorder.attach(f"{name}.png", page.screenshot(full_page=True))


def _browser_login(ctx: ScenarioContext, alias: str, *, wrong_password: bool) -> None:
    account = ctx.find_account(alias)
    endpoint = ctx.target.endpoint
    page = _page(ctx)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    redirect = urlsplit(endpoint.redirect_uri)
    callback: dict[str, str] = {}

    def is_callback(url: str) -> bool:
        u = urlsplit(url)
        return (u.scheme, u.netloc, u.path) == (redirect.scheme, redirect.netloc, redirect.path)

    def done(route: Any, url: str) -> None:
        callback.update(parse_qsl(urlsplit(url).query))
        route.fulfill(status=200, content_type="text/html; charset=utf-8",
                      body="<html lang='ja'><body><p>ログインが完了しました。</p></body></html>")

    def navigate(route: Any) -> None:
        # Playwright routes only the first request of a redirect chain, so pages are fetched here
        # without following redirects; a redirect to the software's redirect_uri ends the login.
        request = route.request
        if is_callback(request.url):
            return done(route, request.url)
        if request.resource_type != "document":
            return route.continue_()
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location")
        if location and is_callback(urljoin(request.url, location)):
            return done(route, urljoin(request.url, location))
        return route.fulfill(response=response)

    page.route("**/*", navigate)
    page.goto(authorization_url(endpoint, state, challenge))
    _screenshot(ctx, page, "login-page")
    page.fill("input[name=username]", account.username)
    page.fill("input[type=password]", account.password + ("-wrong" if wrong_password else ""))
    with page.expect_navigation():
        page.click("button[type=submit], input[type=submit]")
    _screenshot(ctx, page, "after-login")
    ctx.notes["browser_callback"] = callback
    if not callback:
        return  # still on the login page (refused); the Then steps read the page
    assert callback.get("state") == state, f"state mismatch in the redirect: {callback}"
    assert "code" in callback, f"the redirect carries no code: {callback}"
    tokens = ctx.attempt(lambda: AuthClient(endpoint, ctx.http()).exchange_code(callback["code"], verifier))
    if tokens is not None:
        ctx.use_tokens(account, tokens)


@when(parsers.parse("ブラウザでログイン画面を開き、「{alias}」のe-Govアカウントでログインする"))
def _browser_log_in(egov_context: ScenarioContext, alias: str) -> None:
    _browser_login(egov_context, alias, wrong_password=False)


@when(parsers.parse("ブラウザでログイン画面を開き、「{alias}」のe-Govアカウントに誤ったパスワードでログインする"))
def _browser_log_in_wrong(egov_context: ScenarioContext, alias: str) -> None:
    _browser_login(egov_context, alias, wrong_password=True)


@then(parsers.parse("ブラウザに「{text}」と表示されている"))
def _browser_shows(egov_context: ScenarioContext, text: str) -> None:
    page = egov_context.notes.get("browser_page")
    assert page is not None, "no browser page is open"
    body = page.inner_text("body")
    assert text in body, f"the page does not show 「{text}」; it shows: {' '.join(body.split())[:300]}"


@then("ブラウザはソフトウェアのリダイレクトURIに戻っていない")
def _not_redirected(egov_context: ScenarioContext) -> None:
    assert not egov_context.notes.get("browser_callback"), "the browser was sent back to the software"
