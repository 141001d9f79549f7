"""The `egov` command after sending, against the in-process simulator: 取得 (notices, documents,
payment), docs fetch/complete, withdraw, amend, resubmit and the maintenance notice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BASE, advance
from cryptography.hazmat.primitives.serialization import Encoding
from egov_client.casework import DOC_FOLDER_FORMAT, VERIFY_FILE, _prepare
from egov_format.zipsafe import read_zip
from egov_sim.filing.documents import government_authorities
from egov_sim.world.demo import certificate_for
from egov_sim.world.packages import sample_package
from test_cli import PROC, Egov, _app, _server_count, _zip

FETCH_TIME = datetime(2026, 4, 1, 10, 5, 0)


@pytest.fixture
def egov(tmp_path: Path, http: httpx.Client, world, services) -> Egov:
    """Logged in, with the valid demo certificate as the profile's certificate (PIN in the environment)."""
    services.clock.update(frozen=True)
    p12, password, _ = certificate_for(services, "valid")
    (tmp_path / "valid.p12").write_bytes(p12)
    cli = Egov(_app(tmp_path / "home", http, clock=lambda: FETCH_TIME))
    cli.env = {"EGOV_P12_PASSWORD": password}
    cli("profile", "add", "sim", "--simulator", BASE, "--from-world", "--certificate", str(tmp_path / "valid.p12"))
    cli("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
    return cli


def run(cli: Egov, *args: str, **kwargs: Any):
    return cli(*args, env=cli.env, **kwargs)


def run_json(cli: Egov, *args: str, **kwargs: Any) -> Any:
    return json.loads(run(cli, "--json", *args, **kwargs).stdout)


def _scenario(http: httpx.Client, name: str) -> None:
    assert http.post("/__admin/scenario", json={"scenario": name, "account": "demo", "count": 1}).status_code == 200


def _send(cli: Egov, tmp_path: Path, services, signer, name: str = "山田", index: int = 0) -> dict:
    return run_json(cli, "submit", str(_zip(tmp_path, services, signer, name, index)))["send"]


# --- 取得 -------------------------------------------------------------------------------------------------------

def test_refresh_get_saves_new_notices_and_lists_documents(egov: Egov, http, services, signer, tmp_path) -> None:
    _scenario(http, "notice")
    send = _send(egov, tmp_path, services, signer)
    advance(services, "P1D")
    checked = run_json(egov, "refresh")  # 確認 only: counts, nothing saved
    assert checked["refreshed"][0]["notices"] == 1 and "fetched" not in checked
    got = run_json(egov, "refresh", "--get")
    [case] = got["fetched"]
    [notice] = case["new_notices"]
    assert notice["kind"] == "notice" and notice["title"] == "添付書類の確認について"
    assert notice["detail"]["type"] == "お知らせ" and notice["files"] == ["通知.txt", "oshirase.pdf"]
    folder = Path(notice["folder"])
    assert folder == tmp_path / "home" / "documents" / send["arrive_id"] / "通知_001"
    assert "添付書類の確認について" in (folder / "通知.txt").read_text(encoding="utf-8")
    assert (folder / "oshirase.pdf").read_bytes().startswith(b"%PDF")
    assert got["refreshed"][0]["note"] == "新しい通知 1 件を保存しました。"

    advance(services, "P2D")
    text = run(egov, "refresh", "--get", "1").stdout
    assert "審査中 → 審査終了" in text and "公文書(001)" in text and "添付書類の確認について" in text
    again = run_json(egov, "refresh", "--get", "1")["fetched"][0]
    assert again["new_notices"] == [] and [d["doc_title"] for d in again["documents"]] == ["公文書(001)"]
    assert run_json(egov, "list")["sends"][0]["documents"][0]["sign"] == "あり"


def test_payment_is_shown_in_the_ledger(egov: Egov, http, services, signer, tmp_path) -> None:
    _scenario(http, "payment")
    send = _send(egov, tmp_path, services, signer)
    got = run_json(egov, "refresh", "--get")["fetched"][0]
    [pay] = got["payments"]
    assert pay["pay_status"] == "納付待ち" and pay["total_fee"] == 1000 and len(pay["pay_number"]) == 16
    listed = run(egov, "list").stdout
    assert "納付待ち" in listed
    status = run(egov, "status", "1").stdout
    assert "電子納付" in status and pay["pay_number"] in status and "1,000 円" in status
    assert http.post(f"/__admin/applications/{send['arrive_id']}/pay", json={}).status_code == 200
    paid = run_json(egov, "refresh", "--get")["fetched"][0]["payments"][0]
    assert paid["pay_status"] == "納付済み" and paid["pay_date"] == services.clock.now().date().isoformat()
    assert run_json(egov, "list")["sends"][0]["pay_status"] == "納付済み"


# --- 公文書 -------------------------------------------------------------------------------------------------------

def _pem(tmp_path: Path, services, name: str = "gov-ca.pem") -> Path:
    with services.db.session() as s:
        cas = government_authorities(s)
    path = tmp_path / name
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in cas))
    return path


def test_docs_fetch_saves_into_a_fetch_time_folder_and_verifies_signatures(egov: Egov, services, signer,
                                                                           tmp_path) -> None:
    send = _send(egov, tmp_path, services, signer)
    assert "まだ公文書が発行されていません" in run(egov, "docs", "fetch", "1", ok=False).stderr
    advance(services, "P3D")
    [doc] = run_json(egov, "docs", "fetch", "1")["saved"]
    folder = tmp_path / "home" / "documents" / send["arrive_id"] / FETCH_TIME.strftime(DOC_FOLDER_FORMAT)
    assert Path(doc["folder"]) == folder and folder.name == "20260401_100500"
    assert sorted(doc["files"]) == ["document.zip", "kagami.xml", "kakunin_tsuchisho.pdf"]
    assert read_zip((folder / "document.zip").read_bytes())["kagami.xml"] == (folder / "kagami.xml").read_bytes()
    assert doc["verified"] is True and doc["verified_by"] == "e-Gov" and doc["verify_message"] == "署名: 検証成功、官職証明書: 有効"
    report = json.loads((folder / VERIFY_FILE).read_text(encoding="utf-8"))
    assert report["valid"] is True and report["details"]["sig_verification_xml_file_name"] == "kagami.xml"

    # fetched again within the same second: a folder of its own; with the government CA, checked locally too
    text = run(egov, "docs", "fetch", "1", "--trust", str(_pem(tmp_path, services))).stdout
    assert "20260401_100500_2" in text and "e-Gov+local" in text and "検証成功" in text
    listed = run(egov, "docs", "list", "1").stdout
    assert "公文書(001)" in listed and "20260401_100500" in listed and "あり" in listed

    # a CA we do not trust for this document: saved all the same, reported as a failure
    from egov_sim.certs import make_ca

    other, _key = make_ca("untrusted", not_before=datetime(2020, 1, 1), not_after=datetime(2040, 1, 1))
    (tmp_path / "other.pem").write_bytes(other.public_bytes(Encoding.PEM))
    bad = run(egov, "docs", "fetch", "1", "--trust", str(tmp_path / "other.pem"), ok=False)
    assert bad.exit_code == 1 and "署名検証に失敗" in bad.stderr and "発行者を信頼できません" in bad.stdout
    assert (folder.parent / "20260401_100500_3" / "kagami.xml").exists()
    assert [f["verified"] for f in run_json(egov, "status", "1")["saved"]] == [True, True, False]


def test_docs_complete_asks_first_and_afterwards_the_document_cannot_be_fetched(egov: Egov, services, signer,
                                                                                tmp_path) -> None:
    _send(egov, tmp_path, services, signer)
    advance(services, "P3D")
    not_saved = run(egov, "docs", "complete", "1", "--yes", ok=False)
    assert "まだ保存されていません" in not_saved.stderr
    run(egov, "docs", "fetch", "1")
    declined = run(egov, "docs", "complete", "1", input="n\n", ok=False)
    assert "再取得できなくなります" in declined.stderr and "申請しませんでした" in declined.stderr
    assert run_json(egov, "status", "1")["application"]["status"] == "審査終了"

    done = run(egov, "docs", "complete", "1", input="y\n")
    assert "取得完了を申請しました: 公文書(001)" in done.stdout and "手続完了" in done.stdout
    row = run_json(egov, "status", "1")
    assert row["send"]["status"] == "手続完了" and row["send"]["documents"][0]["doc_download_date"]
    assert [a["kind"] for a in row["actions"]] == ["complete"]
    again = run(egov, "docs", "fetch", "1", ok=False)
    assert "取得完了済み" in again.stderr and "再取得できません" in again.stderr
    refused = run(egov, "docs", "fetch", "1", "--sub", "1", ok=False)
    assert "再取得できません" in refused.stderr
    assert "取得完了にできる公文書はありません" in run(egov, "docs", "complete", "1", "--yes", ok=False).stderr


# --- 取下げ -------------------------------------------------------------------------------------------------------

def test_withdraw_builds_signs_and_sends_the_request(egov: Egov, services, signer, tmp_path) -> None:
    _send(egov, tmp_path, services, signer)
    early = run(egov, "withdraw", "1", "--name", "山田　太郎", "--reason", "誤って申請したため", ok=False)
    assert "取下げできません" in early.stderr and "提出先に直接連絡" in early.stderr
    advance(services, "PT3H")
    assert run_json(egov, "refresh")["refreshed"][0]["withdraw_flag"] is True
    out = run(egov, "withdraw", "1", "--name", "山田　太郎", "--reason", "誤って申請したため").stdout
    assert "送信しました。取下げ依頼" in out and "取下げ処理中" in out
    [row] = run_json(egov, "list", "--status", "取下げ処理中")["sends"]
    assert row["status"] == "取下げ処理中" and row["withdraw_flag"] is False
    twice = run(egov, "withdraw", "1", "--name", "山田　太郎", "--reason", "再度", ok=False)
    assert "取下げできません" in twice.stderr  # one 取下げ依頼 per case
    advance(services, "PT2H")
    [moved] = run_json(egov, "refresh", "--get")["refreshed"]
    assert moved["after"] == "手続終了(取下げ済み)"
    [ended] = run_json(egov, "list", "--status", "終了")["sends"]
    assert ended["id"] == 1 and ended["notices"][-1]["notice_data_type"] == "取下げ"
    status = run(egov, "status", "1").stdout
    assert "操作履歴" in status and "取下げ依頼" in status and "誤って申請したため" in status


def test_withdraw_needs_a_certificate(egov: Egov, services, signer, tmp_path) -> None:
    _send(egov, tmp_path, services, signer)
    egov.app.profiles.update("sim", certificate="")
    result = run(egov, "withdraw", "1", "--name", "山田", "--reason", "誤り", ok=False)
    assert "電子証明書を指定してください" in result.stderr


# --- 補正 / 再提出 ----------------------------------------------------------------------------------------------------

def _unsigned(tmp_path: Path, services, name: str = "fixed.zip", **kwargs: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(sample_package(services.catalogue, PROC, None, **kwargs).to_zip())
    return path


def test_amend_after_a_partial_amendment_notice(egov: Egov, http, services, signer, tmp_path) -> None:
    _scenario(http, "hosei_partial")
    send = _send(egov, tmp_path, services, signer)
    fixed = str(_unsigned(tmp_path, services))
    early = run(egov, "amend", "1", fixed, ok=False)
    assert "補正できません" in early.stderr
    advance(services, "P1D")
    [case] = run_json(egov, "refresh", "--get")["fetched"]
    [notice] = case["new_notices"]
    assert notice["detail"]["correct_type"] == "部分補正" and notice["detail"]["correct_expired_date"]
    assert "補正期限" in (Path(notice["folder"]) / "通知.txt").read_text(encoding="utf-8")
    done = run_json(egov, "amend", "1", fixed)
    assert done["arrive_id"] == send["arrive_id"] and done["amend_date"]
    assert "補正できません" in run(egov, "amend", "1", fixed, ok=False).stderr  # answered already
    advance(services, "PT2H")
    assert run_json(egov, "status", "1")["send"]["status"] == "審査中"
    assert [a["kind"] for a in run_json(egov, "status", "1")["actions"]] == ["amend"]
    assert _server_count(services) == 1  # an amendment is not a new application


def test_amend_without_a_certificate_sends_a_marked_signed_package_as_it_is(egov: Egov, http, services, signer,
                                                                             tmp_path) -> None:
    _scenario(http, "hosei_partial")
    send = _send(egov, tmp_path, services, signer)
    advance(services, "P1D")
    egov.app.profiles.update("sim", certificate="")
    unsigned = str(_unsigned(tmp_path, services))
    assert "電子証明書を指定してください" in run(egov, "amend", "1", unsigned, ok=False).stderr
    marked = sample_package(services.catalogue, PROC, signer, apply_type="部分補正", first_arrive_id=send["arrive_id"])
    (tmp_path / "marked.zip").write_bytes(marked.to_zip())
    assert run_json(egov, "amend", "1", str(tmp_path / "marked.zip"))["arrive_id"] == send["arrive_id"]


def test_resubmit_sends_a_new_application_linked_to_the_original(egov: Egov, http, services, signer,
                                                                  tmp_path) -> None:
    _scenario(http, "resubmit")
    original = _send(egov, tmp_path, services, signer)
    advance(services, "P1D")
    run(egov, "refresh", "--get")
    package = _unsigned(tmp_path, services)
    data = package.read_bytes()
    assert _prepare(data, "再提出", original["arrive_id"], signer) == _prepare(data, "再提出", original["arrive_id"],
                                                                          signer)  # deterministic: dedupe works
    out = run_json(egov, "resubmit", "1", str(package))
    assert out["outcome"] == "sent" and out["send"]["apply_type"] == "再提出"
    assert out["arrive_id"] != original["arrive_id"] and out["original"]["status"] == "手続終了"
    again = run(egov, "resubmit", "1", str(package), ok=False)
    assert "再提出済み" in again.stderr
    sends = run_json(egov, "list")["sends"]
    assert [(r["id"], r["apply_type"]) for r in sends] == [(2, "再提出"), (1, "新規申請")]
    assert run_json(egov, "status", "2")["application"]["status"] == "到達"
    assert _server_count(services) == 2


# --- メンテナンス -----------------------------------------------------------------------------------------------------

def test_maintenance_lists_the_simulators_windows_and_points_elsewhere_for_e_gov(egov: Egov, http, services,
                                                                                 tmp_path) -> None:
    assert "予定されているメンテナンスはありません" in run(egov, "maintenance").stdout
    now = services.clock.now().replace(microsecond=0)
    start, end = now + timedelta(hours=2), now + timedelta(hours=8)
    resp = http.post("/__admin/maintenance", json={"title": "定期メンテナンス", "start": start.isoformat(),
                                                    "end": end.isoformat()})
    assert resp.status_code == 201
    notice = run_json(egov, "maintenance")
    assert notice["source"] == f"{BASE}/maintenance.json"
    [window] = notice["notice"]["schedule"]
    assert window["start"] == start.isoformat() + "+09:00" and window["title"] == "定期メンテナンス"
    text = run(egov, "maintenance").stdout
    assert "作業予定日時" in text and window["start_text"] in text and "現在はメンテナンス中ではありません" in text

    advance(services, "PT3H")
    assert "現在メンテナンス中です" in run(egov, "maintenance").stdout
    refused = run(egov, "list", ok=True)  # the ledger is local: still readable
    assert "申請データ進捗管理" in refused.stdout
    during = run(egov, "status", "9502026000000001", ok=False)
    assert "e-Govはメンテナンス中です" in during.stderr and "終了予定" in during.stderr

    egov("profile", "add", "sbx", "--sandbox", "--client-id", "x", "--client-secret", "k", "--no-use")
    pointed = egov("--profile", "sbx", "maintenance").stdout
    assert "https://shinsei.e-gov.go.jp/" in pointed and "検証環境" in pointed
    egov("profile", "add", "mirror", "--sandbox", "--client-id", "x", "--client-secret", "k", "--no-use",
         "--maintenance-url", f"{BASE}/maintenance.json")
    assert egov.json("--profile", "mirror", "maintenance")["notice"]["in_maintenance"] is True


def test_maintenance_shows_the_next_windows_only(egov: Egov, http) -> None:
    body = {"title": "平日夜間", "recurrence": {"weekdays": ["mon", "wed", "fri"], "start": "18:00", "duration": "PT6H"}}
    assert http.post("/__admin/maintenance", json=body).status_code == 201
    text = run(egov, "maintenance", "--limit", "3").stdout
    assert text.count("平日夜間") == 3 and "ほか" in text
    assert len(run_json(egov, "maintenance")["notice"]["schedule"]) > 3  # --json gives the whole notice


def test_doctor_refreshes_a_token_the_server_has_already_expired(egov: Egov, services) -> None:
    advance(services, "PT2H")  # the simulator's clock is ahead of ours: its access token has ended
    checks = {c["name"]: c for c in run_json(egov, "doctor")["checks"]}
    assert checks["アクセストークン"]["level"] == "ok"


class LoseAnswer(httpx.BaseTransport):
    """Delivers requests to `path` but loses the answer: the outcome is unknown to the client."""

    def __init__(self, inner: httpx.BaseTransport, path: str) -> None:
        self.inner, self.path = inner, path

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith(self.path):
            response.read()
            raise httpx.ReadTimeout("timed out", request=request)
        return response


def test_a_withdrawal_whose_answer_is_lost_says_so_and_status_shows_what_happened(
        sim, world, services, signer, tmp_path) -> None:
    services.clock.update(frozen=True)
    p12, password, _ = certificate_for(services, "valid")
    (tmp_path / "valid.p12").write_bytes(p12)
    transport = LoseAnswer(httpx.WSGITransport(app=sim), "/apply/withdraw")
    with httpx.Client(transport=transport, base_url=BASE) as http:
        cli = Egov(_app(tmp_path / "home", http))
        cli.env = {"EGOV_P12_PASSWORD": password}
        cli("profile", "add", "sim", "--simulator", BASE, "--from-world", "--certificate", str(tmp_path / "valid.p12"))
        cli("login", "--password-stdin", input=world.account("demo")["password"] + "\n")
        _send(cli, tmp_path, services, signer)
        advance(services, "PT3H")
        lost = run(cli, "withdraw", "1", "--name", "山田　太郎", "--reason", "誤り", ok=False)
        assert "通信エラーが発生しました。送信結果を確認してください。" in lost.stderr
        assert run_json(cli, "status", "1")["send"]["status"] == "取下げ処理中"  # it did arrive
        assert "取下げできません" in run(cli, "withdraw", "1", "--name", "山田　太郎", "--reason", "誤り",
                                      ok=False).stderr  # and is not sent twice
