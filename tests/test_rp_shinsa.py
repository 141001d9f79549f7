"""The 経営革新計画 RP's reviewer pages (/keieikakushin/shinsa) over HTTP against the live in-process simulator:
password login with lockout on the virtual clock and CSRF; one 都道府県's applications only (another's 404);
the application page with all five pages; 形式確認, 指摘 (per page, comment files), 承認, 不承認 through the
same backend as /__admin/keieikakushin; refusals on withdrawn applications. Also [入力再開/不備修正],
お問い合わせ and the multi-page PDFs (read back with pypdf)."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).parent))
import rp_flow
from rp_flow import (
    COVER,
    PDF,
    RP,
    TOKYO,
    Applicant,
    applied,
    apply,
    complete_application,
    fill,
    logged_in,
    reviewer_login,
)

sim, accounts = rp_flow.sim, rp_flow.accounts  # the RP tests' fixtures

SHINSA = f"{RP}/shinsa"
KANAGAWA = {**COVER, "prefecture": "14", "office": "神奈川県産業労働局 中小企業部"}


def reviewer(sim: Any, login: tuple[str, str] = TOKYO) -> Applicant:
    r, page = reviewer_login(sim.url, RP, login)
    assert page.url.path == f"{SHINSA}/" and "申請一覧" in page.text, page.text
    return r


def admin_status(sim: Any, number: str) -> str:
    apps = httpx.get(f"{sim.url}/__admin/keieikakushin/applications").json()["applications"]
    return next(a["status"] for a in apps if a["number"] == number)


def test_reviewer_login_lockout_on_the_virtual_clock_and_csrf(sim: Any) -> None:
    r = Applicant(sim.url, {})
    assert r.get(f"{SHINSA}/").url.path == f"{SHINSA}/login"  # not logged in
    # a POST without the session's token: refused, nothing logged in
    before = r.http.cookies.get("kk_shinsa_session")
    forged = r.http.post(f"{SHINSA}/login", data={"csrf_token": "forged", "login_id": TOKYO[0], "password": TOKYO[1]})
    assert forged.status_code == 400 and "不正な送信" in forged.text
    assert r.get(f"{SHINSA}/").url.path == f"{SHINSA}/login"
    # an unknown login ID and a wrong password get the same answer
    unknown = r.post(f"{SHINSA}/login", {"login_id": "nobody", "password": "x"})
    wrong = r.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": "wrong"})
    assert unknown.status_code == wrong.status_code == 401
    assert "ログインIDまたはパスワードが正しくありません。" in unknown.text and "ログインIDまたはパスワードが正しくありません。" in wrong.text
    for _ in range(4):  # five consecutive failures lock the account (reviewer_max_failures)
        r.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": "wrong"})
    locked = r.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": TOKYO[1]})
    assert locked.status_code == 403 and "このアカウントはロックされています。" in locked.text
    other = reviewer(sim, ("shinsa-osaka", "osaka-shinsa-2026"))  # other accounts are not locked
    assert "大阪府" in other.last
    httpx.post(f"{sim.url}/__admin/clock", json={"advance": "PT31M"})  # reviewer_lock_minutes = 30
    ok = r.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": TOKYO[1]})
    assert ok.url.path == f"{SHINSA}/" and "申請一覧（東京都）" in ok.text
    assert r.http.cookies.get("kk_shinsa_session") != before  # a new session id at login
    # every form of the reviewer pages carries the token; a forged one changes nothing
    html = ok.text
    assert html.count('method="post"') == html.count('name="csrf_token"') > 0
    out = r.http.post(f"{SHINSA}/logout", data={"csrf_token": "forged"})
    assert out.status_code == 400 and r.get(f"{SHINSA}/").url.path == f"{SHINSA}/"
    r.post(f"{SHINSA}/logout", {})
    assert r.get(f"{SHINSA}/").url.path == f"{SHINSA}/login"
    # sessions expire on the virtual clock
    r = reviewer(sim)
    httpx.post(f"{sim.url}/__admin/clock", json={"advance": "PT2H"})
    assert r.get(f"{SHINSA}/").url.path == f"{SHINSA}/login"


def test_removing_a_reviewer_account_ends_its_sessions(sim: Any) -> None:
    tokyo, osaka = reviewer(sim), reviewer(sim, ("shinsa-osaka", "osaka-shinsa-2026"))
    settings = f"{sim.url}/__admin/keieikakushin/settings"
    accounts = httpx.get(settings).json()["reviewers"]
    r = httpx.put(settings, json={"reviewers": {k: v for k, v in accounts.items() if k != TOKYO[0]}})
    assert r.status_code == 200, r.text
    assert tokyo.get(f"{SHINSA}/").url.path == f"{SHINSA}/login"
    assert "申請一覧（大阪府）" in osaka.get(f"{SHINSA}/").text  # the other accounts' sessions go on


def test_a_reviewer_sees_their_prefecture_only(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    tokyo_app, tokyo_no = applied(a)
    _, kanagawa_no = applied(a, KANAGAWA)
    r = reviewer(sim)
    listing = r.get(f"{SHINSA}/").text
    assert tokyo_no in listing and kanagawa_no not in listing
    assert tokyo_no in r.get(f"{SHINSA}/?status=受付済").text
    assert tokyo_no not in r.get(f"{SHINSA}/?status=承認").text and "該当する申請はありません。" in r.last
    # another 都道府県's application: 404 for the page, its files and every action, and nothing changes
    page = r.get(f"{SHINSA}/applications/{kanagawa_no}")
    assert page.status_code == 404 and "株式会社テスト" not in page.text
    r.get(f"{SHINSA}/")
    for action in ("accept", "approve", "reject"):
        assert r.post(f"{SHINSA}/applications/{kanagawa_no}/{action}", {}).status_code == 404
        r.get(f"{SHINSA}/")
    assert r.post(f"{SHINSA}/applications/{kanagawa_no}/remarks", {"comment.b67": "x"}).status_code == 404
    assert admin_status(sim, kanagawa_no) == "受付済"
    kanagawa = reviewer(sim, ("shinsa-kanagawa", "kanagawa-shinsa-2026"))
    assert kanagawa_no in kanagawa.get(f"{SHINSA}/").text and tokyo_no not in kanagawa.last
    # the application page shows all five pages and the attachments, which download
    page = r.get(f"{SHINSA}/applications/{tokyo_no}").text
    for text in ("申請情報（表紙）", "東京都産業労働局 商工部 経営支援課", "新しい製造工程の導入", "⑫付加価値額",
                 "試作品の開発", "量産体制の構築", "生産数量", "NC旋盤", "teikan.pdf", "kessan.pdf"):
        assert text in page, text
    link = re.search(r'href="([^"]+/files/\d+)">teikan.pdf', page).group(1)
    assert r.http.get(link).content == PDF
    assert kanagawa.http.get(link).status_code == 404
    assert page.count('method="post"') == page.count('name="csrf_token"') > 0
    assert tokyo_app


def test_reviewer_remark_from_the_pages_then_approve(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    app, number = applied(a)
    r = reviewer(sim)
    r.get(f"{SHINSA}/applications/{number}")
    for action in ("accept", "approve", "reject", "remarks"):  # without the session's token: nothing happens
        forged = r.http.post(f"{SHINSA}/applications/{number}/{action}",
                             data={"csrf_token": "forged", "comment.cover": "x"})
        assert forged.status_code == 400 and "不正な送信" in forged.text
    assert admin_status(sim, number) == "受付済"
    r.get(f"{SHINSA}/applications/{number}")
    page = r.post(f"{SHINSA}/applications/{number}/accept", {})
    assert 'id="status">審査中<' in page.text and admin_status(sim, number) == "審査中"
    # validation: no comment; a comment file that is not an allowed type; too long a comment — nothing changes
    empty = r.post(f"{SHINSA}/applications/{number}/remarks", {})
    assert empty.status_code == 400 and "ページ" in empty.text and "ごとのコメントで指定してください" in empty.text
    bad = r.post(f"{SHINSA}/applications/{number}/remarks", {"comment.b67": "根拠を"},
                 files={"file.b67": ("x.exe", b"MZ\x90\x00", "application/pdf")})
    assert bad.status_code == 400 and "アップロードできるファイルはPDF、PNG、JPEG、Word、Excelです。" in bad.text
    assert "根拠を" in bad.text  # the comment typed stays on the page
    long = r.post(f"{SHINSA}/applications/{number}/remarks", {"comment.cover": "あ" * 2001})
    assert long.status_code == 400 and "2000文字以内" in long.text
    assert admin_status(sim, number) == "審査中"
    assert not [m for m in httpx.get(f"{sim.url}/__admin/outbox").json()["mails"] if "不備" in m["subject"]]
    done = r.post(f"{SHINSA}/applications/{number}/remarks",
                  {"comment.b67": "設備の金額の根拠を記載してください。", "comment.cover": ""},
                  files={"file.b67": ("見積書の例.pdf", PDF, "application/pdf")})
    assert done.status_code == 200 and "指摘を登録し" in done.text and 'id="status">申請内容に指摘あり<' in done.text
    mails = [m for m in httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]
             if m["subject"] == "経営革新計画電子申請システム：申請内容に不備があります。"]
    assert sorted(m["to"] for m in mails) == sorted(["tanto@example.jp", accounts["prime"]["account_id"]])
    # the applicant sees 付け出し有 on that page only, the comment and the file; fixes and re-applies
    items = a.get(app).text
    assert 'id="state-b67">【付け出し有】' in items and 'id="state-cover">【済】' in items
    b67 = a.get(f"{app}/pages/b67").text
    assert "設備の金額の根拠を記載してください。" in b67
    assert a.http.get(re.search(r'href="([^"]+/files/\d+)">見積書の例.pdf', b67).group(1)).content == PDF
    fill(a, app, "b67", {"equipment": "NC旋盤", "equipment_cost": "5000000", "partners": "〇〇商工会議所"})
    a.get(f"{app}/apply")
    assert "申請完了" in a.post(f"{app}/apply", {}).text
    page = r.get(f"{SHINSA}/applications/{number}").text
    assert "〇〇商工会議所" in page and "再申請" in page
    approved = r.post(f"{SHINSA}/applications/{number}/approve", {})
    assert 'id="status">承認<' in approved.text and 'id="not-reviewable"' in approved.text
    mails = httpx.get(f"{sim.url}/__admin/outbox", params={"account": "tanto@example.jp"}).json()["mails"]
    assert mails[0]["subject"] == "経営革新計画電子申請システム：承認通知" and f"受付番号：{number}" in mails[0]["body"]
    # decided: further actions are refused with a message
    again = r.post(f"{SHINSA}/applications/{number}/reject", {})
    assert again.status_code == 409 and "状態が「承認」の申請は審査できません。" in again.text


def test_reject_and_withdrawn_refused_then_reopened(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["member"])
    app, number = applied(a)
    a.get(f"{app}/overview")
    a.post(f"{app}/withdraw", {})
    r = reviewer(sim)
    page = r.get(f"{SHINSA}/applications/{number}").text
    assert 'id="status">取り下げ<' in page and 'id="not-reviewable"' in page and 'id="approve"' not in page
    for action in ("accept", "approve", "reject"):
        refused = r.post(f"{SHINSA}/applications/{number}/{action}", {})
        assert refused.status_code == 409 and "状態が「取り下げ」の申請は審査できません。" in refused.text
    refused = r.post(f"{SHINSA}/applications/{number}/remarks", {"comment.cover": "x"})
    assert refused.status_code == 409 and admin_status(sim, number) == "取り下げ"
    # [入力再開/不備修正]: the withdrawn application's pages open again with what was entered
    overview = a.get(f"{app}/overview").text
    assert 'id="reopen"' in overview
    items = a.post(f"{app}/reopen", {})
    assert items.url.path == app and items.text.count("【済】") == 5
    assert "NC旋盤" in a.get(f"{app}/pages/b67").text
    a.get(f"{app}/apply")
    assert number in a.post(f"{app}/apply", {}).text  # re-applied under its 受付番号
    r.get(f"{SHINSA}/applications/{number}")
    assert 'id="status">不承認<' in r.post(f"{SHINSA}/applications/{number}/reject", {}).text
    subjects = [m["subject"] for m in httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]]
    assert "経営革新計画電子申請システム：審査結果通知" in subjects
    # an approved/rejected application cannot be reopened
    a.get(f"{app}/overview")
    assert a.post(f"{app}/reopen", {}).status_code == 409


def test_inquiry_form_mails_a_receipt(sim: Any, accounts: dict[str, Any]) -> None:
    visitor = Applicant(sim.url, {})
    form = visitor.get(f"{RP}/inquiry").text
    assert form.count('method="post"') == form.count('name="csrf_token"') > 0
    bad = visitor.post(f"{RP}/inquiry", {"name": "", "email": "bad", "category": "どれでもない", "body": ""})
    assert bad.status_code == 400
    for message in ("お名前を入力してください。", "メールアドレスの形式が正しくありません。", "お問い合わせ種別を選択してください。",
                    "お問い合わせ内容を入力してください。"):
        assert message in bad.text
    assert not httpx.get(f"{sim.url}/__admin/outbox", params={"account": "bad"}).json()["mails"]
    forged = visitor.http.post(f"{RP}/inquiry", data={"csrf_token": "x", "name": "a", "email": "a@example.jp",
                                                       "category": "その他", "body": "b"})
    assert forged.status_code == 400
    done = visitor.post(f"{RP}/inquiry", {"name": "問合 花子", "email": "toiawase@example.jp", "category": "添付書類",
                                          "body": "アップロードできるファイルの大きさを教えてください。"})
    assert done.status_code == 200 and "お問い合わせを受け付けました。" in done.text
    mails = httpx.get(f"{sim.url}/__admin/outbox", params={"account": "toiawase@example.jp"}).json()["mails"]
    assert len(mails) == 1 and mails[0]["subject"] == "経営革新計画電子申請システム：お問い合わせ受付完了"
    assert "問合 花子 様" in mails[0]["body"] and "アップロードできるファイルの大きさ" in mails[0]["body"]
    # a logged-in applicant finds the form prefilled from the ユーザ情報
    a = logged_in(sim, accounts["prime"])
    assert 'value="tanto@example.jp"' in a.get(f"{RP}/inquiry").text


def test_long_application_and_certificate_pdfs_paginate(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    app = complete_application(a)
    rows = [f"実施項目その{i:02d}：工程{i}の改善" for i in range(1, 21)]
    theme = "高付加価値化のための新工程" * 8  # 104 characters, wrapped over several lines
    fill(a, app, "cover", {**COVER, "theme": theme})
    fill(a, app, "b25", {"item": rows, "period": [f"{i}年目" for i in range(1, 21)], "levy_basis": "生産数量" * 90})
    number = apply(a, app)
    reader = PdfReader(io.BytesIO(a.get(f"{app}/pdf/application").content))
    assert len(reader.pages) > 1
    text = re.sub(r"\s", "", "".join(p.extract_text() for p in reader.pages))
    for expected in (number, *rows, "NC旋盤", "teikan.pdf", theme, "生産数量" * 90):
        assert re.sub(r"\s", "", expected) in text, expected
    r = reviewer(sim)
    r.get(f"{SHINSA}/applications/{number}")
    r.post(f"{SHINSA}/applications/{number}/approve", {})
    cert = PdfReader(io.BytesIO(a.get(f"{app}/pdf/certificate").content))
    cert_text = re.sub(r"\s", "", "".join(p.extract_text() for p in cert.pages))
    assert "承認します" in cert_text and theme in cert_text


def test_text_pdf_paginates_instead_of_truncating() -> None:
    """The one PDF writer (filing/pdf.py): 200 lines fill several A4 pages, each read back by pypdf in strict mode."""
    from egov_sim.filing.pdf import text_pdf

    lines = [f"{i:03d}行目：経営革新計画の内容" for i in range(200)]
    reader = PdfReader(io.BytesIO(text_pdf("長い文書", lines)), strict=True)
    assert len(reader.pages) == 6 and reader.metadata.title  # 38 lines under the title, then 40 a page == "長い文書"
    texts = [p.extract_text() for p in reader.pages]
    assert all(line in "".join(texts) for line in lines)
    assert "長い文書" in texts[0] and "長い文書" not in texts[1]  # the title once, on the first page
    assert len(PdfReader(io.BytesIO(text_pdf("短い文書", lines[:5])), strict=True).pages) == 1


def test_failed_logins_sent_in_parallel_each_count_towards_the_lock(sim: Any) -> None:
    """Five wrong passwords sent at once lock the account as five in a row do (a count read and then
    written would let some through uncounted: a way around the lock)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    browsers = [Applicant(sim.url, {}) for _ in range(5)]
    for b in browsers:
        b.get(f"{SHINSA}/login")
    start = Barrier(5)

    def fail(b: Applicant) -> int:
        start.wait()
        return b.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": "wrong"}).status_code

    with ThreadPoolExecutor(5) as pool:
        assert sorted(pool.map(fail, browsers)) == [401] * 5
    r = Applicant(sim.url, {})
    r.get(f"{SHINSA}/login")
    locked = r.post(f"{SHINSA}/login", {"login_id": TOKYO[0], "password": TOKYO[1]})
    assert locked.status_code == 403 and "このアカウントはロックされています。" in locked.text
