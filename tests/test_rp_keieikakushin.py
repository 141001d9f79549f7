"""経営革新計画電子申請システム (the RP under /keieikakushin) over HTTP against the live in-process
simulator: GビズID login for prime (SMS), prime (app), member, entry refused; the five pages, 申請,
指摘 → mails → 再申請, 承認 → 承認書 (a PDF pypdf reads), 取り下げ; CSRF and ownership."""

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
    B67,
    B134,
    COVER,
    PDF,
    RP,
    Applicant,
    apply,
    complete_application,
    fill,
    fill_after_cover,
    logged_in,
)

sim, accounts = rp_flow.sim, rp_flow.accounts  # the RP tests' fixtures


def test_login_prime_sms_app_member_and_entry_refused(sim: Any, accounts: dict[str, Any]) -> None:
    for alias in ("prime", "sole", "member"):
        a = Applicant(sim.url, accounts[alias])
        assert a.login().url.path == f"{RP}/register", alias
    # a later login lands on the top page once the user information is registered
    a = logged_in(sim, accounts["prime"])
    a.post(f"{RP}/logout", {})
    assert Applicant(sim.url, accounts["prime"]).login().url.path == f"{RP}/"
    # the back channel over sockets (the embedded server is threaded) instead of through the WSGI stack
    httpx.put(sim.url + "/__admin/keieikakushin/settings", json={"gbizid_base": sim.url + "/gbizid"})
    assert Applicant(sim.url, accounts["member"]).login().url.path == f"{RP}/register"
    r = Applicant(sim.url, accounts["entry"]).login()
    assert r.status_code == 403 and "gBizIDエントリーのアカウントでは本システムをご利用いただけません" in r.text
    # as configured: allow entry accounts
    httpx.put(sim.url + "/__admin/keieikakushin/settings", json={"allowed_account_types": ["1", "2", "3"]})
    assert Applicant(sim.url, accounts["entry"]).login().url.path == f"{RP}/register"


def test_validation_temporary_save_and_derived_figures(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    app = a.post(f"{RP}/applications", {}).url.path
    a.get(f"{app}/pages/cover")
    r = a.post(f"{app}/pages/cover", {**COVER, "office": "大阪産業局", "contact_email": "bad", "action": "confirm"})
    assert r.status_code == 400 and "提出先は選択した都道府県の提出先から選択してください。" in r.text
    assert "担当者メールアドレスの形式が正しくありません。" in r.text
    assert "【未入力】" in a.get(app).text.split("別表1,3,4")[0]
    a.get(f"{app}/pages/b134")
    r = a.post(f"{app}/pages/b134", {**B134, "fund_other_2": "1", "action": "confirm"})
    assert "別表3 2年後：⑮資金調達額（6,000,001円）が⑨設備投資額＋⑩運転資金（6,000,000円）と一致しません。" in r.text
    assert "直近期末：⑮" not in r.text  # the other years add up
    r = a.post(f"{app}/pages/b134", {**B134, "staff_3": "0.5", "action": "confirm"})
    assert "別表3 3年後 ⑬従業員数（役員含む）は代表者を含め1名以上で入力してください。" in r.text  # Appendix 1
    r = a.post(f"{app}/pages/b134", {**B134, "sales_1": "x", "action": "confirm"})
    assert r.status_code == 400 and "別表3 1年後 ①売上高は0以上の整数（円）で入力してください。" in r.text
    # 一時保存 keeps an incomplete page; it comes back when reopened
    r = a.post(f"{app}/pages/b134", {"plan_years": "3", "sales_0": "1000", "cost_0": "400", "sales_2": "5000",
                                     "action": "save"})
    assert "一時保存しました" in r.text and 'id="figure-gross-0">600<' in r.text and 'id="figure-gross-2">5,000<' in r.text
    assert 'value="1000"' in a.get(f"{app}/pages/b134").text and "【一時保存】" in a.get(app).text
    # the plan period sets the columns: 5 years → 直近期末 and 1年後 … 5年後
    r = a.post(f"{app}/pages/b134", {**B134, "plan_years": "5", "action": "years"})
    assert "5年後" in r.text and 'id="sales_5"' in r.text and 'value="115000000"' in r.text  # typed values kept
    r = a.post(f"{app}/pages/b134", {**B134, "plan_years": "5", "action": "confirm"})
    assert "別表3 4年後 ①売上高を入力してください。" in r.text and "別表3 5年後 ①売上高を入力してください。" in r.text
    a.get(f"{app}/pages/b25")
    r = a.post(f"{app}/pages/b25", {"item": ["あ" * 41], "period": [""], "levy_basis": "x", "action": "confirm"})
    assert "実施項目は40文字以内で入力してください。" in r.text and "実施時期を入力してください。" in r.text
    r = a.post(f"{app}/pages/b25", {"item": ["a", "b"], "period": ["1", "2"], "levy_basis": "x", "action": "delete_row:0"})
    assert r.text.count('name="item"') == 1
    a.get(f"{app}/pages/attachments")
    r = a.post(f"{app}/attachments", {"action": "upload"}, files={"articles": ("x.exe", b"MZ\x90", "application/pdf")})
    assert "アップロードできるファイルはPDF、PNG、JPEG、Word、Excelです。" in r.text
    assert a.get(f"{app}/apply").url.path == app  # 申請へ進む only when all five are 【済】


def test_apply_remark_fix_reapply_approve_certificate(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    app = complete_application(a)
    r = a.get(f"{app}/apply")
    assert "入力内容確認" in r.text and "NC旋盤" in r.text and "⑫付加価値額（自動計算）" in r.text
    # 別表3 per year (Appendix 2): ⑫ = ①−②−④+⑧+普通償却+特別償却; ⑭ = ⑫ ÷ ⑬ (12.5 people)
    for year, label in enumerate(("直近期末", "1年後", "2年後", "3年後")):
        value_added = 100000000 + 5000000 * year - 60000000 - 20000000 + 15000000 + 800000 + 200000
        assert f"別表3 {label} ⑫付加価値額（自動計算）</th><td>{value_added:,}<" in r.text
        assert f"別表3 {label} ⑭一人当たりの付加価値額（自動計算）</th><td>{round(value_added / 12.5):,}<" in r.text
    assert "別表1 基準判定に用いる従業員数（自動計算）</th><td>10<" in r.text  # 12 − 2 パート (Appendix 1)
    r = a.post(f"{app}/apply", {})
    number = re.search(r"APL-\d{10}", r.text).group(0)
    assert "申請完了" in r.text and "受付済" in a.get(f"{RP}/applications").text
    pdf = a.get(f"{app}/pdf/application")
    assert pdf.headers["content-type"] == "application/pdf"
    assert number in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    admin = f"{sim.url}/__admin/keieikakushin/applications/{number}"
    assert httpx.post(f"{admin}/accept").json()["status"] == "審査中"
    r = httpx.post(f"{admin}/remarks", data={"comment.b67": "設備の金額の根拠を添付してください。"},
                   files={"file.b67": ("指摘.pdf", PDF, "application/pdf")})
    assert r.json()["status"] == "申請内容に指摘あり"
    mails = httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]
    remark_mails = [m for m in mails if m["subject"] == "経営革新計画電子申請システム：申請内容に不備があります。"]
    assert sorted(m["to"] for m in remark_mails) == sorted(["tanto@example.jp", accounts["prime"]["account_id"]])
    assert "https://www.keieikakushin-test.go.jp/" in remark_mails[0]["body"]
    assert "申請内容に指摘あり" in a.get(f"{RP}/").text
    r = a.get(app)
    assert "【付け出し有】" in r.text and 'id="go-apply" disabled' in r.text
    r = a.get(f"{app}/pages/b67")
    assert "不備内容" in r.text and "設備の金額の根拠を添付してください。" in r.text
    link = re.search(r'href="([^"]+/files/\d+)">指摘.pdf', r.text).group(1)
    assert a.http.get(link).content == PDF
    fill(a, app, "b67", {**B67, "partners": "商工会議所"})
    a.get(f"{app}/apply")
    assert "申請完了" in a.post(f"{app}/apply", {}).text
    # a withdrawn application refuses reviewer actions; here: approve the re-applied one
    r = httpx.post(f"{admin}/approve")
    assert r.json()["status"] == "承認"
    mails = httpx.get(f"{sim.url}/__admin/outbox", params={"account": "tanto@example.jp"}).json()["mails"]
    assert mails[0]["subject"] == "経営革新計画電子申請システム：承認通知" and f"受付番号：{number}" in mails[0]["body"]
    cert = a.get(f"{app}/pdf/certificate")
    assert "承認します" in PdfReader(io.BytesIO(cert.content)).pages[0].extract_text()


def test_withdraw_notifies_and_refuses_review(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["member"])
    app = complete_application(a)
    number = apply(a, app)
    a.get(f"{app}/overview")
    r = a.post(f"{app}/withdraw", {})
    assert "申請を取り下げました。" in r.text and 'id="status">取り下げ<' in r.text
    mails = httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]
    assert mails[0]["subject"] == "経営革新計画電子申請システム：申請取り下げのお知らせ" and number in mails[0]["body"]
    r = httpx.post(f"{sim.url}/__admin/keieikakushin/applications/{number}/approve")
    assert r.status_code == 409 and "取り下げ" in r.json()["detail"]


def test_password_csrf_and_ownership(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    COVER_OSAKA = {**COVER, "prefecture": "27", "office": "大阪産業局"}
    r = a.post(f"{RP}/applications", {})
    app = r.url.path
    fill(a, app, "cover", COVER_OSAKA)
    # a POST without the session's CSRF token changes nothing
    r = a.http.post(f"{app}/pages/b134", data={**B134, "action": "save", "csrf_token": "forged"})
    assert r.status_code == 400 and "【未入力】" in a.get(app).text.split("別表2,5")[0].split("別表1,3,4")[1]
    # every form of the pages carries the token
    for path in (f"{RP}/", app, f"{app}/pages/cover", f"{app}/pages/b25", f"{app}/pages/attachments"):
        html = a.get(path).text
        assert html.count('method="post"') == html.count('name="csrf_token"') > 0, path
    fill_after_cover(a, app)
    a.get(f"{app}/apply")
    r = a.post(f"{app}/apply", {"password": "wrong"})
    assert r.status_code == 400 and "申請パスワードが正しくありません。" in r.text
    assert "申請完了" in a.post(f"{app}/apply", {"password": "osaka-kakushin"}).text
    other = logged_in(sim, accounts["member"])
    for path in (app, f"{app}/overview", f"{app}/pages/cover", f"{app}/pdf/application"):
        r = other.get(path)
        assert r.status_code == 404 and "株式会社テスト" not in r.text, path
    assert "APL-" not in other.get(f"{RP}/applications").text
    # an expired session goes back through GビズID
    httpx.post(f"{sim.url}/__admin/clock", json={"advance": "PT2H"})
    assert a.get(f"{RP}/applications").url.path == f"{RP}/login"


def test_reject_and_a_prefecture_that_posts_the_certificate(sim: Any, accounts: dict[str, Any]) -> None:
    a = logged_in(sim, accounts["prime"])
    numbers = []
    for cover in ({**COVER, "prefecture": "14", "office": "神奈川県産業労働局 中小企業部"}, COVER):
        app = a.post(f"{RP}/applications", {}).url.path
        fill(a, app, "cover", cover)
        fill_after_cover(a, app)
        numbers.append((app, apply(a, app)))
    (posted, posted_no), (rejected, rejected_no) = numbers
    admin = f"{sim.url}/__admin/keieikakushin/applications"
    assert httpx.post(f"{admin}/{posted_no}/approve").json()["status"] == "承認"
    assert httpx.post(f"{admin}/{rejected_no}/reject").json()["status"] == "不承認"
    history = a.get(f"{RP}/applications").text
    assert "承認書出力" not in history and "不承認" in history  # 神奈川県 (here) posts its 承認書
    assert a.get(f"{posted}/pdf/certificate").status_code == 409
    assert a.get(f"{rejected}/pdf/certificate").status_code == 409
    subjects = [m["subject"] for m in httpx.get(f"{sim.url}/__admin/outbox").json()["mails"]]
    assert "経営革新計画電子申請システム：審査結果通知" in subjects
    r = httpx.put(f"{sim.url}/__admin/keieikakushin/settings", json={"no_such": 1})
    assert r.status_code == 400 and "unknown settings" in r.json()["detail"]
