"""The `egov` command driven against the in-process simulator (click's CliRunner)."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from conftest import BASE, _validate_against_spec, advance
from egov_client.cli import App, main
from egov_client.ledger import jst_now, months_before, status_group
from egov_client.profiles import Home
from egov_sim.store.models import Application
from egov_sim.world.demo import certificate_for
from egov_sim.world.packages import sample_package
from rich.console import Console
from sqlalchemy import func, select

PROC = "950A010700005000"
NAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本", "松本",
         "井上", "木村", "林", "斎藤", "清水", "山口", "森", "池田", "橋本", "阿部", "石川", "山下", "中島"]


class Egov:
    """Runs `egov ...` with one App (home, injected http client) across invocations."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, ok: bool = True, env: dict | None = None) -> Result:
        result = self.runner.invoke(main, list(args), obj=self.app, input=input, env=env, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self("--json", *args, **kwargs).stdout)


def _app(home: Path, http: httpx.Client | None, **kwargs: Any) -> App:
    return App(home=Home(home, home), http=http, console=Console(width=220, highlight=False),
               err=Console(stderr=True, width=220), **kwargs)


@pytest.fixture
def egov_cli(tmp_path: Path, http: httpx.Client) -> Egov:
    return Egov(_app(tmp_path / "home", http))


@pytest.fixture
def logged_in(egov_cli: Egov, world) -> Egov:
    egov_cli("profile", "add", "sim", "--simulator", BASE, "--from-world")
    egov_cli("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
    return egov_cli


def _server_count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _zip(tmp_path: Path, services, signer, name: str = "山田", index: int = 0, **kwargs: Any) -> Path:
    package = sample_package(services.catalogue, PROC, signer, applicant_name=f"{name}　太郎", **kwargs)
    path = tmp_path / f"pkg{index:02d}_{name}.zip"
    path.write_bytes(package.to_zip())
    return path


# --- profiles and login ---------------------------------------------------------------------------------------

def test_profile_from_the_simulator_world_and_form_login_store_secrets_0600(egov_cli: Egov, world, tmp_path) -> None:
    out = egov_cli("profile", "add", "sim", "--simulator", BASE, "--from-world").stdout
    assert "シミュレーター" in out
    home = tmp_path / "home"
    profiles = json.loads((home / "profiles.json").read_text())
    assert profiles["current"] == "sim"
    assert profiles["profiles"]["sim"]["client_id"] == world.client_id
    assert profiles["profiles"]["sim"]["api_base"] == f"{BASE}/shinsei/v2"
    assert stat.S_IMODE((home / "profiles.json").stat().st_mode) == 0o600
    egov_cli("profile", "add", "sbx", "--sandbox", "--client-id", "my-software", "--client-secret", "k", "--no-use")
    listed = egov_cli.json("profile", "list")
    assert listed["current"] == "sim"
    sbx = next(p for p in listed["profiles"] if p["name"] == "sbx")
    assert sbx["api_base"] == "https://api2.sbx.e-gov.go.jp/shinsei/v2" and sbx["client_secret"] != "k"

    bad = egov_cli("login", "--password-stdin", input="wrong\n", ok=False)
    assert bad.exit_code == 1 and "エラー" in bad.stderr
    login = egov_cli.json("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
    assert login["username"] == world.account("demo")["username"]
    token_file = Path(login["token_file"])
    assert token_file == home / "tokens" / "sim.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    egov_cli("logout")
    assert not token_file.exists()
    assert "egov login" in egov_cli("status", "9502026000000001", ok=False).stderr


def test_commands_need_a_profile(egov_cli: Egov) -> None:
    result = egov_cli("list", ok=False)
    assert result.exit_code == 1 and "プロファイルがありません" in result.stderr


def test_tokens_refresh_by_themselves(logged_in: Egov, services, signer, tmp_path) -> None:
    logged_in("submit", str(_zip(tmp_path, services, signer)))
    before = json.loads((tmp_path / "home" / "tokens" / "sim.json").read_text())["access_token"]
    advance(services, "PT2H")  # the access token (3600 s) has expired; the refresh token has not
    assert logged_in.json("status", "1")["application"]["status"] == "審査中"
    after = json.loads((tmp_path / "home" / "tokens" / "sim.json").read_text())["access_token"]
    assert after != before


# --- submit, status, the ledger ------------------------------------------------------------------------------

def test_submit_a_zip_then_status_and_refresh_follow_the_case(logged_in: Egov, services, signer, tmp_path) -> None:
    services.clock.update(frozen=True)
    out = logged_in("submit", str(_zip(tmp_path, services, signer))).stdout
    assert "送信しました。" in out and "到達番号" in out
    rows = logged_in.json("list")["sends"]
    assert len(rows) == 1 and rows[0]["id"] == 1 and rows[0]["outcome"] == "sent"
    arrive_id = rows[0]["arrive_id"]
    assert rows[0]["display_status"] == "到達" and rows[0]["status_group"] == "処理中"

    advance(services, "PT3H")
    refreshed = logged_in.json("refresh")["refreshed"]
    assert refreshed == [{"id": 1, "arrive_id": arrive_id, "before": "到達", "after": "審査中", "notices": 0,
                          "documents": 0, "pay_status": "なし", "withdraw_flag": True, "note": ""}]
    assert [r["id"] for r in logged_in.json("list", "--status", "審査中")["sends"]] == [1]
    assert logged_in.json("list", "--status", "終了")["sends"] == []

    advance(services, "P4D")
    detail = logged_in.json("status", arrive_id)
    assert detail["application"]["status"] == "手続終了" and detail["send"]["status"] == "手続終了"
    text = logged_in("status", "1").stdout
    assert "手続終了" in text and arrive_id in text
    assert logged_in.json("refresh")["refreshed"] == []  # nothing open any more
    table = logged_in("list").stdout
    assert "申請データ進捗管理" in table and arrive_id in table and "手続終了" in table


def test_the_same_package_is_never_sent_twice(logged_in: Egov, services, signer, tmp_path) -> None:
    package = str(_zip(tmp_path, services, signer))
    first = logged_in.json("submit", package)
    again = logged_in.json("submit", package)
    assert first["outcome"] == "sent" and again["outcome"] == "already"
    assert again["arrive_id"] == first["arrive_id"] and "送信済み" in again["message"]
    assert _server_count(services) == 1
    refused = logged_in("queue", "add", package, ok=False)
    assert "送信済み" in refused.stderr


def test_a_refused_package_is_recorded_with_the_api_report(logged_in: Egov, services, tmp_path) -> None:
    result = logged_in("submit", str(_zip(tmp_path, services, None)), ok=False)
    assert result.exit_code == 1 and "電子署名" in result.stderr
    [row] = logged_in.json("list", "--status", "要再申請")["sends"]
    assert row["outcome"] == "refused" and row["arrive_id"] is None and row["display_status"] == "エラー（未到達）"
    assert any("電子署名" in r["content"] for r in row["error"]["report_list"])
    assert "電子署名" in logged_in("status", str(row["id"])).stdout
    assert _server_count(services) == 0


def test_submit_from_the_skeleton_with_values_and_a_certificate(logged_in: Egov, services, world, tmp_path) -> None:
    values = {"applicant": {"name": "見本　花子", "name_kana": "ミホン　ハナコ", "corporation_name": "株式会社見本",
                            "postal_code": "1000013", "address": "東京都千代田区霞が関１－２－２", "phone": "03-5253-1111",
                            "email": "shinsei@example.jp"},
              "forms": {"950A01070000500001": {item.path: item.example or "1" for item in
                                               services.catalogue.procedures[PROC].forms[0].required}}}
    (tmp_path / "values.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    p12, password, _ = certificate_for(services, "valid")
    (tmp_path / "valid.p12").write_bytes(p12)
    saved = tmp_path / "out.zip"
    result = logged_in.json("submit", "--proc", PROC, "--values", str(tmp_path / "values.json"), "--p12",
                            str(tmp_path / "valid.p12"), "--save", str(saved), env={"EGOV_P12_PASSWORD": password})
    assert result["outcome"] == "sent" and result["send"]["applicant_name"] == "見本　花子"
    assert saved.exists()
    wrong = logged_in("submit", "--proc", PROC, "--values", str(tmp_path / "values.json"), "--p12",
                      str(tmp_path / "valid.p12"), "--pin", "nope", ok=False)
    assert "PIN が不正です" in wrong.stderr

    # the same from an unzipped folder
    from egov_format.zipsafe import read_zip
    for name, data in read_zip(saved.read_bytes()).items():
        (tmp_path / "unzipped" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "unzipped" / name).write_bytes(data)
    values["applicant"]["name"] = "見本　次郎"
    (tmp_path / "values.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    from_dir = logged_in.json("submit", "--dir", str(tmp_path / "unzipped"), "--values", str(tmp_path / "values.json"),
                              "--p12", str(tmp_path / "valid.p12"), env={"EGOV_P12_PASSWORD": password})
    assert from_dir["outcome"] == "sent" and from_dir["send"]["applicant_name"] == "見本　次郎"
    assert _server_count(services) == 2


def test_submit_pre_checks_values_against_the_skeleton_check_file(logged_in: Egov, services, tmp_path) -> None:
    form = {item.path: item.example for item in services.catalogue.procedures[PROC].forms[0].required}
    form.update({"被保険者/報酬月額/合計": "30万", "被保険者/氏名/氏": ""})
    values = {"applicant": {"name": "見本　花子", "postal_code": "1000013"}, "forms": {"950A01070000500001": form}}
    (tmp_path / "values.json").write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    p12, password, _ = certificate_for(services, "valid")
    (tmp_path / "valid.p12").write_bytes(p12)
    args = ("submit", "--proc", PROC, "--values", str(tmp_path / "values.json"), "--p12", str(tmp_path / "valid.p12"))
    refused = logged_in(*args, env={"EGOV_P12_PASSWORD": password}, ok=False)
    assert "形式チェックでエラーが検出されました。送信していません" in refused.stderr
    assert "被保険者氏名（氏）：未入力のままになっている必須入力項目があります。" in refused.stderr
    assert "報酬月額（合計）：半角数字で入力してください。" in refused.stderr
    assert _server_count(services) == 0 and logged_in.json("list", "--all")["sends"] == []
    # --no-check sends it anyway, and the server refuses it for the same reasons
    sent = logged_in(*args, "--no-check", env={"EGOV_P12_PASSWORD": password}, ok=False)
    assert "報酬月額（合計）：半角数字で入力してください。" in sent.stderr
    assert _server_count(services) == 0


def test_list_filters_memo_hide_and_show(logged_in: Egov, services, signer, tmp_path) -> None:
    today = jst_now()
    sends = [today - timedelta(days=200), today - timedelta(days=30), today]
    for i, when in enumerate(sends):
        logged_in.app.clock = lambda when=when: when
        logged_in("submit", str(_zip(tmp_path, services, signer, NAMES[i], i)))
    logged_in.app.clock = jst_now
    assert [r["id"] for r in logged_in.json("list")["sends"]] == [3, 2]  # the default: the last three months
    old = (today - timedelta(days=210)).date().isoformat()
    assert [r["id"] for r in logged_in.json("list", "--from", old)["sends"]] == [3, 2, 1]
    day = (today - timedelta(days=30)).date().isoformat()
    assert [r["id"] for r in logged_in.json("list", "--from", day, "--to", day)["sends"]] == [2]

    logged_in("memo", "2", "林物産", "山田太郎", "社保取得")
    logged_in("hide", "3")
    listed = logged_in.json("list")["sends"]
    assert [r["id"] for r in listed] == [2] and listed[0]["memo"] == "林物産 山田太郎 社保取得"
    assert [r["id"] for r in logged_in.json("list", "--all")["sends"]] == [3, 2]
    assert "(非表示)" in logged_in("list", "--all").stdout
    logged_in("show", "3")
    assert [r["id"] for r in logged_in.json("list")["sends"]] == [3, 2]
    assert "台帳にありません" in logged_in("memo", "99", "x", ok=False).stderr
    bad = logged_in("list", "--status", "なし", ok=False)
    assert bad.exit_code == 2


def test_status_groups_follow_the_seeds_filter() -> None:
    assert status_group("sent", "到達") == "処理中"
    assert status_group("unknown", "") == "処理中"
    assert status_group("sent", "審査中（補正待ち）") == "審査中"
    assert status_group("sent", "手続終了（再提出可）") == "要再申請"
    assert status_group("refused", "") == "要再申請"
    assert status_group("sent", "到達（取下げ処理中）") == "取下げ処理中"
    assert status_group("sent", "手続終了(取下げ済み)") == "終了"
    assert status_group("sent", "手続完了") == "終了"
    assert months_before(datetime(2025, 5, 31).date(), 3).isoformat() == "2025-02-28"


# --- the send list and batch sending -------------------------------------------------------------------------------

def _queue(egov: Egov, tmp_path: Path, services, signer, count: int, bad: set[int] = frozenset()) -> list[Path]:
    paths = [_zip(tmp_path, services, None if i in bad else signer, NAMES[i - 1], i) for i in range(1, count + 1)]
    out = egov("queue", "add", *map(str, paths)).stdout
    assert out.count("申請リストに保存しました") == count and out.count("電子署名がありません") == len(bad)
    return paths


def test_batch_of_25_stops_at_item_7_and_resumes_without_duplicates(logged_in: Egov, services, signer,
                                                                     tmp_path) -> None:
    _queue(logged_in, tmp_path, services, signer, 25, bad={7})
    first = logged_in("batch", "send", ok=False)
    assert first.exit_code == 1
    assert first.stdout.count("送信しました。") == 6 and "ID 7" in first.stderr and "電子署名" in first.stderr
    assert "中断" in first.stdout
    assert _server_count(services) == 6
    items = logged_in.json("queue", "list")["items"]
    assert [i["state"] for i in items] == ["sent"] * 6 + ["failed"] + ["queued"] * 18
    assert all("項番7（ID:7）のエラーで中断" in i["note"] for i in items[7:])
    assert all(i["arrive_id"] for i in items[:6]) and items[6]["arrive_id"] is None

    second = logged_in.json("batch", "send")
    assert second["sent"] == 18 and second["stopped_at"] is None and second["remaining"] == 0
    assert _server_count(services) == 24
    items = logged_in.json("queue", "list")["items"]
    assert [i["state"] for i in items] == ["sent"] * 6 + ["failed"] + ["sent"] * 18
    arrive_ids = [i["arrive_id"] for i in items if i["arrive_id"]]
    assert len(arrive_ids) == len(set(arrive_ids)) == 24
    ledger = logged_in.json("list")["sends"]
    assert sum(r["outcome"] == "sent" for r in ledger) == 24 and sum(r["outcome"] == "refused" for r in ledger) == 1
    third = logged_in.json("batch", "send")
    assert third["sent"] == 0 and third["results"] == []
    assert _server_count(services) == 24


def test_a_run_sends_at_most_20(logged_in: Egov, services, signer, tmp_path) -> None:
    _queue(logged_in, tmp_path, services, signer, 22)
    out = logged_in("batch", "send").stdout
    assert out.count("送信しました。") == 20 and "[20/20]" in out and "残り 2 件" in out
    assert logged_in.json("batch", "send")["sent"] == 2
    assert _server_count(services) == 22
    assert logged_in("batch", "send", "--limit", "21", ok=False).exit_code == 2


class Flaky(httpx.BaseTransport):
    """Loses the answer (or the request) of the N-th POST /apply: a time-out whose outcome is unknown."""

    def __init__(self, inner: httpx.BaseTransport, fail_on: int, delivered: bool) -> None:
        self.inner, self.fail_on, self.delivered, self.applies = inner, fail_on, delivered, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/apply"):
            self.applies += 1
            if self.applies == self.fail_on:
                if self.delivered:
                    self.inner.handle_request(request).read()
                raise httpx.ReadTimeout("timed out", request=request)
        return self.inner.handle_request(request)


@pytest.mark.parametrize("delivered", [True, False], ids=["arrived", "lost"])
def test_a_time_out_stops_the_batch_and_resume_checks_the_server_before_resending(
        delivered: bool, sim, world, services, signer, tmp_path) -> None:
    transport = Flaky(httpx.WSGITransport(app=sim), fail_on=3, delivered=delivered)
    with httpx.Client(transport=transport, base_url=BASE, event_hooks={"response": [_validate_against_spec]}) as http:
        egov = Egov(_app(tmp_path / "home", http))
        egov("profile", "add", "sim", "--simulator", BASE, "--from-world")
        egov("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
        _queue(egov, tmp_path, services, signer, 5)
        first = egov("batch", "send", ok=False)
        assert first.stdout.count("送信しました。") == 2 and "応答がありませんでした" in first.stderr
        assert _server_count(services) == (3 if delivered else 2)
        [unknown] = [r for r in egov.json("list")["sends"] if r["outcome"] == "unknown"]
        assert unknown["display_status"] == "到達状況確認中"
        assert "送信結果が不明" in egov("doctor", ok=False).stdout

        second = egov.json("batch", "send")
        outcomes = [r["outcome"] for r in second["results"]]
        assert outcomes == (["already", "sent", "sent"] if delivered else ["sent", "sent", "sent"])
        assert second["results"][0]["found_on_server"] is delivered
        assert _server_count(services) == 5
        sends = egov.json("list")["sends"]
        assert len(sends) == 5 and {r["outcome"] for r in sends} == {"sent"}
        assert len({r["arrive_id"] for r in sends}) == 5


def test_an_interrupted_single_submit_is_found_by_refresh(sim, world, services, signer, tmp_path) -> None:
    transport = Flaky(httpx.WSGITransport(app=sim), fail_on=1, delivered=True)
    with httpx.Client(transport=transport, base_url=BASE) as http:
        egov = Egov(_app(tmp_path / "home", http))
        egov("profile", "add", "sim", "--simulator", BASE, "--from-world")
        egov("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
        package = str(_zip(tmp_path, services, signer))
        assert egov.json("submit", package, ok=False)["outcome"] == "unknown"
        [row] = egov.json("refresh")["refreshed"]
        assert row["before"] == "到達状況確認中" and row["after"] == "到達" and row["arrive_id"]
        assert egov.json("submit", package)["outcome"] == "already"
        assert _server_count(services) == 1


def test_queue_refuses_duplicates_and_can_remove_and_retry(logged_in: Egov, services, signer, tmp_path) -> None:
    [a, _b] = _queue(logged_in, tmp_path, services, signer, 2, bad={1})
    assert "既に申請リスト" in logged_in("queue", "add", str(a), ok=False).stderr
    logged_in("batch", "send", ok=False)
    items = logged_in.json("queue", "list")["items"]
    assert [i["state"] for i in items] == ["failed", "queued"]
    logged_in("queue", "remove", "1")
    assert logged_in.json("batch", "send")["sent"] == 1
    logged_in("queue", "add", str(a))  # still unsigned: refused again, and kept in the list
    logged_in("batch", "send", ok=False)
    [failed] = [i for i in logged_in.json("queue", "list")["items"] if i["state"] == "failed"]
    logged_in("queue", "retry", str(failed["id"]))
    assert logged_in.json("queue", "list", "--waiting")["items"][0]["id"] == failed["id"]
    assert _server_count(services) == 1


# --- doctor ----------------------------------------------------------------------------------------------------------

def _p12_file(tmp_path: Path, services, label: str) -> tuple[str, str]:
    p12, password, _ = certificate_for(services, label)
    path = tmp_path / f"{label}.p12"
    path.write_bytes(p12)
    return str(path), password


def test_doctor_checks_tokens_certificates_and_reachability(logged_in: Egov, egov_cli, services, tmp_path) -> None:
    path, password = _p12_file(tmp_path, services, "valid")
    report = logged_in.json("doctor", "--p12", path, "--pin", password)
    levels = {c["name"]: c["level"] for c in report["checks"]}
    assert report["ok"] and levels == {"プロファイル": "ok", "API サーバー": "ok", "認証サーバー": "ok",
                                       "アクセストークン": "ok", "電子証明書": "ok"}
    path, password = _p12_file(tmp_path, services, "expired")
    result = logged_in("doctor", "--p12", path, "--pin", password, ok=False)
    assert result.exit_code == 1 and "証明書の有効期限が切れています" in result.stdout
    logged_in("logout")
    assert "ログインしていません" in logged_in("doctor", ok=False).stdout


def test_doctor_warns_30_days_before_a_certificate_expires(logged_in: Egov, services, tmp_path) -> None:
    from cryptography import x509
    from egov_sim.certs import issue_certificate, make_ca, to_pkcs12

    now = datetime.now().astimezone()
    ca, ca_key = make_ca("test", not_before=now - timedelta(days=10), not_after=now + timedelta(days=100))
    cert, key = issue_certificate(ca, ca_key, subject_cn="見本 太郎", organization="見本", not_before=now - timedelta(days=300),
                                  not_after=now + timedelta(days=12))
    (tmp_path / "soon.p12").write_bytes(to_pkcs12(cert, key, [ca], "pw", "soon"))
    assert isinstance(cert, x509.Certificate)
    report = logged_in.json("doctor", "--p12", str(tmp_path / "soon.p12"), "--pin", "pw")
    cert_check = next(c for c in report["checks"] if c["name"] == "電子証明書")
    assert report["ok"] and cert_check["level"] == "warn" and "有効期限が近づいています" in cert_check["message"]


def test_doctor_reports_an_unreachable_server(egov_cli: Egov, tmp_path) -> None:
    egov = Egov(_app(tmp_path / "other", None))
    egov("profile", "add", "down", "--simulator", "http://127.0.0.1:9", "--client-id", "x")
    report = egov.json("doctor", ok=False)
    levels = {c["name"]: c["level"] for c in report["checks"]}
    assert levels["API サーバー"] == "fail" and levels["アクセストークン"] == "fail" and not report["ok"]


# --- browser login with a loopback redirect (real sockets) -------------------------------------------------------

def test_browser_login_through_a_loopback_redirect(live_server: str, world, tmp_path) -> None:
    account = world.account("demo")
    opened: list[str] = []

    def browser(url: str) -> None:
        """A user in a browser: open the page, fill the form; the final redirect reaches our loopback server."""
        import lxml.html

        opened.append(url)
        with httpx.Client(follow_redirects=True) as b:
            page = b.get(url)
            form = lxml.html.document_fromstring(page.text, base_url=str(page.url)).forms[0]
            fields = dict(form.form_values())
            fields.update({"username": account["username"], "password": account["password"]})
            done = b.post(form.action, data=fields)
            assert "ログインしました" in done.text

    egov = Egov(_app(tmp_path / "home", None, open_browser=browser))
    egov("profile", "add", "sim", "--simulator", live_server, "--from-world")
    result = egov.json("login", "--browser")
    assert result["username"] == account["username"] and opened and "code_challenge=" in opened[0]
    checks = {c["name"]: c["level"] for c in egov.json("doctor")["checks"]}
    assert checks["アクセストークン"] == "ok" and checks["API サーバー"] == "ok"
