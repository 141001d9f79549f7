"""経営革新計画電子申請システム (the simulator's GビズID RP under /keieikakushin) in headless Chromium:
login through GビズID (password, then the SMS or app code read from the simulator), the five pages,
申請, the prefecture's actions (through /__admin/keieikakushin, or a reviewer in a second browser
context on /keieikakushin/shinsa), 取り下げ — a screenshot per page."""

from __future__ import annotations

from typing import Any

import httpx
from egov_client.gbizid import simulator_one_time_code
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext
from .browser import _page, _screenshot

RP = "/keieikakushin"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _base(ctx: ScenarioContext) -> str:
    ctx.admin("経営革新計画電子申請システム")
    return ctx.target.endpoint.api_base.removesuffix("/shinsei/v2")


def _shot(ctx: ScenarioContext, page: Any, name: str) -> None:
    count = ctx.notes["kk_shots"] = ctx.notes.get("kk_shots", 0) + 1
    _screenshot(ctx, page, f"{count:02d}-{name}")


@when(parsers.parse("ブラウザで経営革新計画電子申請システムに「{alias}」のGビズIDでログインする"))
def _kk_login(egov_context: ScenarioContext, alias: str) -> None:
    ctx, base = egov_context, _base(egov_context)
    account = ctx.find_gbizid_account(alias)
    page = _page(ctx)
    page.goto(f"{base}{RP}/")
    _shot(ctx, page, "トップ")
    page.click("#login-link")
    _shot(ctx, page, "ログイン")
    page.click("#gbizid-login")
    _shot(ctx, page, "GビズIDログイン")
    page.fill("#account_id", account.username)
    page.fill("input[type=password]", account.password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if page.locator("input[name=otp]").count():
        _shot(ctx, page, "GビズID認証コード")
        factor = page.locator("input[name=factor]").get_attribute("value") if page.locator(
            "input[name=factor]").count() else "sms"
        page.fill("input[name=otp]", simulator_one_time_code(ctx.http(), base, account.username)(factor or "sms"))
        page.click("button[type=submit]")
        page.wait_for_load_state()
    _shot(ctx, page, "ログイン後")
    if "ユーザ情報登録" in page.inner_text("h1"):
        page.click("#register-profile")  # the values offered from GビズID's UserInfo
        page.wait_for_load_state()
        _shot(ctx, page, "ユーザ情報登録後")


def _confirm_and_register(ctx: ScenarioContext, page: Any, name: str) -> None:
    page.click("#confirm")
    _shot(ctx, page, f"{name}-内容確認")
    page.click("#register")
    _shot(ctx, page, f"{name}-登録完了")
    page.click("#to-items")


@when("新規申請で5つのページを一時保存を交えて入力し登録する")
def _kk_fill(egov_context: ScenarioContext) -> None:
    ctx, page = egov_context, _page(egov_context)
    page.hover("#menu-apply")
    page.click("#menu-new")
    _shot(ctx, page, "申請項目一覧")
    page.click("text=申請情報（表紙）")
    page.select_option("#prefecture", "13")
    page.select_option("#office", "東京都産業労働局 商工部 経営支援課")
    page.fill("#theme", "新しい製造工程の導入による高付加価値化")
    page.fill("#representative", "代表 太郎")
    page.fill("#contact_tel", "0312345678")
    page.click("#save")
    _shot(ctx, page, "表紙-一時保存")
    page.click("button[value=back]")
    page.click("text=申請情報（表紙）")
    _confirm_and_register(ctx, page, "表紙")
    page.click("text=別表1,3,4")
    for name, value in {"industry": "製造業", "employees_recent": "12", "part_time": "2", "structure": "社長以下3名"}.items():
        page.fill(f"#{name}", value)
    page.select_option("#plan_years", "3")  # 別表3: 直近期末 and three plan years, one column each
    page.wait_for_load_state()
    year = {"cost": "60000000", "sga": "20000000", "labour": "15000000", "capex": "5000000", "working": "1000000",
            "dep_normal": "800000", "dep_special": "200000", "staff": "12.5", "fund_gov": "2000000",
            "fund_private": "3000000", "fund_own": "1000000", "fund_other": "0"}
    for y in range(4):
        for name, value in {**year, "sales": str(100000000 + 5000000 * y)}.items():
            page.fill(f"#{name}_{y}", value)
    page.fill("#fund_other_3", "1")
    page.click("#confirm")
    _shot(ctx, page, "別表1,3,4-エラー")
    page.fill("#fund_other_3", "0")
    _confirm_and_register(ctx, page, "別表1,3,4")
    page.click("text=別表2,5")
    page.click("#add-row")
    page.click("#add-row")
    page.locator("input[name=item]").nth(0).fill("試作品の開発")
    page.locator("input[name=period]").nth(0).fill("1年目")
    page.locator("input[name=item]").nth(1).fill("量産体制の構築")
    page.locator("input[name=period]").nth(1).fill("2年目")
    page.fill("#levy_basis", "生産数量")
    _shot(ctx, page, "別表2,5-行追加")
    _confirm_and_register(ctx, page, "別表2,5")
    page.click("text=別表6,7")
    page.fill("#equipment", "NC旋盤")
    page.fill("#equipment_cost", "5000000")
    _confirm_and_register(ctx, page, "別表6,7")
    page.click("text=添付書類")
    page.set_input_files("#upload-articles", files=[{"name": "teikan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.set_input_files("#upload-accounts", files=[{"name": "kessan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.click("#upload")
    _shot(ctx, page, "添付書類-登録完了")
    page.click("#to-items")
    _shot(ctx, page, "申請項目一覧-全て済")


@when("申請へ進み、入力内容を確認して申請する")
def _kk_apply(egov_context: ScenarioContext) -> None:
    ctx, page = egov_context, _page(egov_context)
    page.click("#go-apply")
    _shot(ctx, page, "入力内容確認")
    page.click("#apply")
    _shot(ctx, page, "申請完了")
    ctx.notes["kk_number"] = page.inner_text("#number")
    page.click("#to-history")
    _shot(ctx, page, "申請履歴")


def _review(ctx: ScenarioContext, action: str, **kwargs: Any) -> Any:
    base, number = _base(ctx), ctx.notes["kk_number"]
    url = f"{base}/__admin/keieikakushin/applications/{number}/{action}"
    if "files" in kwargs:  # the evidence hooks cannot read a streamed multipart body: send it unrecorded
        with httpx.Client(timeout=30) as plain:
            response = plain.post(url, **kwargs)
    else:
        response = ctx.http().post(url, **kwargs)
    ctx.notes["kk_review"] = response
    return response


@when(parsers.parse("都道府県が形式確認を終え、「{page_name}」に「{comment}」と指摘する"))
def _kk_remark(egov_context: ScenarioContext, page_name: str, comment: str) -> None:
    from egov_sim.rp.forms import PAGES

    key = {v: k for k, v in PAGES.items()}[page_name]
    assert _review(egov_context, "accept").is_success
    r = _review(egov_context, "remarks", data={f"comment.{key}": comment},
                files={f"file.{key}": ("指摘事項.pdf", PDF, "application/pdf")})
    assert r.is_success, r.text


@when(parsers.parse("申請者は指摘のあった「{page_name}」の「{field}」を「{value}」に直して再申請する"))
def _kk_fix(egov_context: ScenarioContext, page_name: str, field: str, value: str) -> None:
    ctx, page = egov_context, _page(egov_context)
    page.goto(f"{_base(ctx)}{RP}/")
    _shot(ctx, page, "トップ-指摘あり")
    page.click(f"text={ctx.notes['kk_number']}")
    _shot(ctx, page, "申請項目一覧-付け出し有")
    page.click(f"text={page_name}")
    _shot(ctx, page, f"{page_name}-不備内容")
    from egov_sim.rp.forms import FIELDS

    name = next(f.name for fields in FIELDS.values() for f in fields if f.label == field)
    page.fill(f"#{name}", value)
    _confirm_and_register(ctx, page, f"{page_name}-修正")
    _kk_apply(ctx)


@when("都道府県が承認する")
def _kk_approve(egov_context: ScenarioContext) -> None:
    assert _review(egov_context, "approve").is_success


@when("申請履歴から申請を取り下げる")
def _kk_withdraw(egov_context: ScenarioContext) -> None:
    ctx, page = egov_context, _page(egov_context)
    page.goto(f"{_base(ctx)}{RP}/applications")
    page.click(f"text={ctx.notes['kk_number']}")
    page.once("dialog", lambda dialog: dialog.accept())
    _shot(ctx, page, "取り下げ前")
    page.click("#withdraw")
    _shot(ctx, page, "取り下げ完了")


@then(parsers.parse("経営革新計画のメール「{subject}」が{count:d}通届いている"))
def _kk_mails(egov_context: ScenarioContext, subject: str, count: int) -> None:
    mails = egov_context.http().get(f"{_base(egov_context)}/__admin/outbox").json()["mails"]
    found = [m for m in mails if m["subject"] == subject]
    assert len(found) == count, f"{len(found)} mails 「{subject}」: {[m['subject'] for m in mails]}"


@then("申請履歴の承認書出力でPDFの承認書を受け取れる")
def _kk_certificate(egov_context: ScenarioContext) -> None:
    ctx, page = egov_context, _page(egov_context)
    page.goto(f"{_base(ctx)}{RP}/applications")
    _shot(ctx, page, "申請履歴-承認")
    href = page.get_attribute("text=承認書出力", "href")
    response = page.request.get(f"{_base(ctx)}{href}")
    assert response.headers["content-type"] == "application/pdf" and response.body().startswith(b"%PDF-")


@then(parsers.parse("都道府県の審査操作は「{message}」と拒否される"))
def _kk_review_refused(egov_context: ScenarioContext, message: str) -> None:
    r = _review(egov_context, "approve")
    assert r.status_code == 409 and message in r.json()["detail"], r.text



def _reviewer_page(ctx: ScenarioContext) -> Any:
    """The reviewer's own browser context (own cookies) beside the applicant's."""
    if "kk_reviewer_page" not in ctx.notes:
        page = _page(ctx).context.browser.new_context(locale="ja-JP").new_page()
        page.set_default_timeout(30_000)
        ctx.notes["kk_reviewer_page"] = page
    return ctx.notes["kk_reviewer_page"]


@when(parsers.parse("審査担当者「{login_id}」が審査画面にログインし、申請を開いて形式確認を完了する"))
def _kk_reviewer_login(egov_context: ScenarioContext, login_id: str) -> None:
    ctx, base = egov_context, _base(egov_context)
    settings = ctx.http().get(f"{base}/__admin/keieikakushin/settings").json()
    page = _reviewer_page(ctx)
    page.goto(f"{base}{RP}/shinsa/")
    _shot(ctx, page, "審査-ログイン")
    page.fill("#login_id", login_id)
    page.fill("#password", settings["reviewers"][login_id]["password"])
    page.click("#reviewer-login")
    page.select_option("#status", "受付済")
    page.click("#filter")
    _shot(ctx, page, "審査-申請一覧")
    page.click(f"text={ctx.notes['kk_number']}")
    _shot(ctx, page, "審査-申請内容")
    page.click("#accept")
    assert page.inner_text("#status") == "審査中"


@when(parsers.parse("審査担当者が画面から「{page_name}」に「{comment}」とコメントファイル付きで指摘する"))
def _kk_reviewer_remark(egov_context: ScenarioContext, page_name: str, comment: str) -> None:
    from egov_sim.rp.forms import PAGES

    ctx, page = egov_context, _reviewer_page(egov_context)
    key = {v: k for k, v in PAGES.items()}[page_name]
    page.click("#remark")  # nothing typed: refused with a message, nothing sent
    _shot(ctx, page, "審査-指摘-エラー")
    assert "コメントで指定してください" in page.inner_text("#error")
    page.fill(f"#comment-{key}", comment)
    page.set_input_files(f"#file-{key}", files=[{"name": "指摘事項.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.click("#remark")
    _shot(ctx, page, "審査-指摘-送信")
    assert page.inner_text("#status") == "申請内容に指摘あり", page.inner_text("body")


@when("審査担当者が画面から承認する")
def _kk_reviewer_approve(egov_context: ScenarioContext) -> None:
    ctx, page = egov_context, _reviewer_page(egov_context)
    page.goto(f"{_base(ctx)}{RP}/shinsa/applications/{ctx.notes['kk_number']}")
    _shot(ctx, page, "審査-再申請の内容")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#approve")
    _shot(ctx, page, "審査-承認")
    assert page.inner_text("#status") == "承認", page.inner_text("body")
