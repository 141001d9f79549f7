"""The whole life of an application through the client: notices, official documents (fetch, verify,
complete), withdrawal, 補正 and 再提出, apply/check, bulk, payment, 電子送達, messages, preprint,
sharing. Every /shinsei/v2 answer is also validated against the OpenAPI document (conftest `http`)."""

from __future__ import annotations

import asyncio
import io
from datetime import date, timedelta

import httpx
import pytest
from conftest import BASE, advance
from cryptography.x509.oid import NameOID
from egov_client import ApiError, AsyncEgovClient, EgovClient, NotFoundError
from egov_client.config import simulator
from egov_client.documents import as_amendment, as_resubmission, save_document, verify_locally
from egov_client.gbizid import login_egov_with_gbizid, simulator_one_time_code
from egov_format.package import build_withdrawal_package
from egov_format.safexml import parse_xml
from egov_format.signing import sign_kousei
from egov_format.zipsafe import read_zip, write_zip
from egov_sim.filing.documents import government_authorities
from egov_sim.world.packages import sample_package
from pypdf import PdfReader

PROC = "950A010700005000"
POST_PROC = "900A020000001000"


def _submit(egov: EgovClient, services, signer, *, scenario: str | None = None, proc_id: str = PROC, **kwargs):
    package = sample_package(services.catalogue, proc_id, signer, **kwargs)
    headers = {"X-Sandbox-Scenario": scenario} if scenario else {}
    egov.http.headers.update(headers)
    try:
        return egov.submit(proc_id, package.to_zip())
    finally:
        egov.http.headers.pop("X-Sandbox-Scenario", None)


def _today(services) -> date:
    return services.clock.now().date()


def _withdrawal_zip(app, signer, arrive_id: str | None = None) -> bytes:
    return build_withdrawal_package(target_arrive_id=arrive_id or app.arrive_id, proc_name=app.proc_name,
                                    applicant_name="山田　太郎", reason="誤って申請したため",
                                    request_date=date(2026, 4, 1)).sign(signer).to_zip()


@pytest.fixture(autouse=True)
def _frozen(services) -> None:
    services.clock.update(frozen=True)


# --- notice → official document → verify → complete → 手続完了 ---------------------------------------------

def test_notice_then_official_document_verify_and_complete(egov: EgovClient, services, signer, tmp_path) -> None:
    arrive_id = _submit(egov, services, signer, scenario="notice").arrive_id
    assert egov.list_notices(date_from=_today(services), date_to=_today(services)).items == []
    advance(services, "P1D")
    page = egov.list_notices(date_from=_today(services) - timedelta(days=1), date_to=_today(services))
    assert [(n.arrive_id, n.type, n.notice_sub_id) for n in page.items] == [(arrive_id, "お知らせ", 1)]
    notice = egov.get_notice(arrive_id, 1)
    assert notice.notice_type == "お知らせ" and notice.notice_title == "添付書類の確認について"
    assert [a.file_name for a in notice.attachments] == ["oshirase.pdf"]
    assert len(PdfReader(io.BytesIO(notice.attachments[0].file_data)).pages) == 1
    case = egov.get_application(arrive_id)
    assert case.notice_count == 1 and case.notices[0].notice_data_type == "お知らせ" and case.doc_count == 0

    advance(services, "P2D")
    case = egov.get_application(arrive_id)
    assert case.status == "審査終了" and case.doc_count == 1
    doc = case.official_documents[0]
    assert doc.notice_sub_id == 2 and doc.sign == "あり" and doc.doc_download_date is None
    assert doc.doc_download_expired_date == _today(services) + timedelta(days=90)

    archive = egov.get_official_document(arrive_id, 2)
    assert archive.file_names == ["kagami.xml", "kakunin_tsuchisho.pdf"]
    assert archive.links["complete"].endswith("/official_document")
    files = read_zip(archive.file_data)
    pdf = PdfReader(io.BytesIO(files["kakunin_tsuchisho.pdf"]))
    assert "資格取得確認通知書" in (pdf.metadata.title or "")
    assert egov.get_official_document(arrive_id, 2).file_data == archive.file_data  # deterministic
    saved = save_document(archive, tmp_path / arrive_id)
    assert (tmp_path / arrive_id / "kagami.xml").read_bytes() == files["kagami.xml"] and len(saved) == 3

    verified = egov.verify_official_document(archive.file_data, "kagami.xml")
    assert verified.valid, verified.official
    assert verified.attached_file_name == "kakunin_tsuchisho.pdf"
    assert verified.official["owner"] == "官職証明書（テスト）" and verified.government
    with services.db.session() as s:
        cas = government_authorities(s)
    assert verify_locally(archive.file_data, cas).valid

    completion = egov.complete_official_document(arrive_id, 2)
    assert completion.doc_title == "公文書(001)" and completion.file_names == archive.file_names
    case = egov.get_application(arrive_id)
    assert case.status == "手続完了" and case.official_documents[0].doc_download_date is not None
    with pytest.raises(ApiError) as err:
        egov.get_official_document(arrive_id, 2)
    assert err.value.status == 400 and "取得完了済み" in err.value.detail
    with pytest.raises(ApiError):
        egov.complete_official_document(arrive_id, 2)
    with pytest.raises(NotFoundError):
        egov.get_official_document(arrive_id, 9)


def test_verify_fails_for_a_tampered_file_or_a_wrong_certificate(egov: EgovClient, services, signer) -> None:
    arrive_id = _submit(egov, services, signer).arrive_id
    advance(services, "P3D")
    files = read_zip(egov.get_official_document(arrive_id, 1).file_data)

    tampered = dict(files, **{"kakunin_tsuchisho.pdf": files["kakunin_tsuchisho.pdf"].replace(b"F1 11", b"F1 12")})
    result = egov.verify_official_document(write_zip(tampered), "kagami.xml")
    assert not result.valid and result.official["validation_result"].startswith("検証失敗")
    assert "kakunin_tsuchisho.pdf" in result.official["validation_result"]
    assert result.official["serial_number"]  # certificate details are still given

    root = parse_xml(files["kagami.xml"])
    root.remove(root.find("署名情報"))
    sign_kousei(root, files, signer, form_files=["kakunin_tsuchisho.pdf"], target_id="鑑")  # the applicant's cert
    from egov_format.safexml import serialize_xml

    resigned = egov.verify_official_document(write_zip(dict(files, **{"kagami.xml": serialize_xml(root)})),
                                             "kagami.xml")
    assert not resigned.valid and resigned.official["certificate_result"].startswith("無効")
    subject = signer.certificate.subject
    cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    org = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert resigned.official["owner_dn"] == f"C=JP, O={org}, CN={cn}" and resigned.official["owner"] == cn
    assert resigned.official["publisher_dn"] == "C=JP, CN=egov-sandbox Test CA"
    with pytest.raises(ApiError) as err:
        egov.verify_official_document(write_zip(files), "missing.xml")
    assert err.value.status == 400 and err.value.report_list == []
    assert err.value.detail == "署名検証XMLファイル(missing.xml)が公文書ファイルに含まれていません。"


def test_official_document_expires_after_its_download_deadline(egov: EgovClient, services, signer) -> None:
    arrive_id = _submit(egov, services, signer).arrive_id
    advance(services, "P3D")
    assert egov.get_official_document(arrive_id, 1).file_names
    advance(services, "P91D")
    with pytest.raises(ApiError) as err:
        egov.get_official_document(arrive_id, 1)
    assert "取得期限" in err.value.detail


def test_busy_period_document_appears_before_the_status_says_so(egov: EgovClient, services, signer) -> None:
    arrive_id = _submit(egov, services, signer, scenario="busy_doc_before_status").arrive_id
    advance(services, "P2D")
    case = egov.get_application(arrive_id)
    assert case.status == "審査中" and case.doc_count == 1
    assert egov.get_official_document(arrive_id, 1).file_names


# --- 取下げ ---------------------------------------------------------------------------------------------------

def test_withdrawal_accepted(egov: EgovClient, services, signer) -> None:
    app = _submit(egov, services, signer)
    with pytest.raises(ApiError) as err:  # not right after sending
        egov.withdraw(app.arrive_id, _withdrawal_zip(app, signer))
    assert err.value.status == 400 and "取下げできません" in err.value.detail
    advance(services, "PT3H")
    assert egov.get_application(app.arrive_id).withdraw_flag
    result = egov.withdraw(app.arrive_id, _withdrawal_zip(app, signer))
    assert result.arrive_id == app.arrive_id and result.ministry_name == "厚生労働省"
    case = egov.get_application(app.arrive_id)
    assert case.status == "取下げ処理中" and not case.withdraw_flag
    advance(services, "PT2H")
    case = egov.get_application(app.arrive_id)
    assert case.status == "手続終了(取下げ済み)" and case.notices[-1].notice_data_type == "取下げ"
    advance(services, "P5D")
    case = egov.get_application(app.arrive_id)
    assert case.status == "手続終了(取下げ済み)" and case.doc_count == 0  # the scenario stopped


def test_withdrawal_refused_by_the_agency(egov: EgovClient, services, signer) -> None:
    app = _submit(egov, services, signer, scenario="withdrawal_refused")
    advance(services, "PT3H")
    egov.withdraw(app.arrive_id, _withdrawal_zip(app, signer))
    advance(services, "PT2H")
    case = egov.get_application(app.arrive_id)
    assert case.status == "審査中"
    refusal = egov.get_notice(app.arrive_id, case.notices[-1].notice_sub_id)
    assert refusal.notice_type == "取下げ" and "受理できませんでした" in refusal.notice_sentence
    assert not egov.get_application(app.arrive_id).withdraw_flag  # one 取下げ依頼 per case
    advance(services, "P3D")
    assert egov.get_application(app.arrive_id).doc_count == 1


def test_withdrawal_package_must_name_the_target(egov: EgovClient, services, signer, http) -> None:
    app = _submit(egov, services, signer)
    advance(services, "PT3H")
    with pytest.raises(ApiError) as err:
        egov.withdraw(app.arrive_id, _withdrawal_zip(app, signer, arrive_id="9502026999999999"))
    assert "構成管理XML.初回受付番号に誤りがあります" in err.value.messages
    assert set(err.value.report_list[0]) == {"file_name", "item", "content"}
    unsigned = build_withdrawal_package(target_arrive_id=app.arrive_id, proc_name=app.proc_name,
                                       applicant_name="山田　太郎", reason="誤り", request_date=date(2026, 4, 1))
    with pytest.raises(ApiError) as err:
        egov.withdraw(app.arrive_id, unsigned.to_zip())
    assert err.value.status == 400
    assert egov.get_application(app.arrive_id).status == "審査中"


# --- 補正 and 再提出 ---------------------------------------------------------------------------------------------

def test_partial_amendment(egov: EgovClient, services, signer) -> None:
    arrive_id = _submit(egov, services, signer, scenario="hosei_partial").arrive_id
    amend_zip = as_amendment(sample_package(services.catalogue, PROC, None), arrive_id).sign(signer).to_zip()
    with pytest.raises(ApiError) as err:  # no 補正 requested yet
        egov.amend(arrive_id, amend_zip)
    assert "補正できません" in err.value.detail
    advance(services, "P1D")
    case = egov.get_application(arrive_id)
    assert case.status == "審査中（補正待ち）" and case.withdraw_flag
    notice = egov.get_notice(arrive_id, case.notices[0].notice_sub_id)
    assert notice.notice_type == "補正" and notice.correct_type == "部分補正"
    assert notice.correct_expired_date == _today(services) + timedelta(days=14)
    advance(services, "P5D")  # the scenario waits for the applicant
    assert egov.get_application(arrive_id).status == "審査中（補正待ち）"

    result = egov.amend(arrive_id, amend_zip)
    assert result.arrive_id == arrive_id and result.amend_date == services.clock.now().replace(microsecond=0)
    with pytest.raises(ApiError):
        egov.amend(arrive_id, amend_zip)  # answered already
    advance(services, "PT2H")
    case = egov.get_application(arrive_id)
    assert case.status == "審査中" and case.notices[0].correct_completed_date == result.amend_date
    advance(services, "P2D")
    assert egov.get_application(arrive_id).doc_count == 1


def test_amendment_with_a_wrong_package_is_refused(egov: EgovClient, services, signer) -> None:
    arrive_id = _submit(egov, services, signer, scenario="hosei_partial").arrive_id
    advance(services, "P1D")
    wrong = sample_package(services.catalogue, PROC, signer, apply_type="部分補正", first_arrive_id="9502026999999999")
    with pytest.raises(ApiError) as err:
        egov.amend(arrive_id, wrong.to_zip())
    assert "構成管理XML.初回受付番号に誤りがあります" in err.value.messages
    assert egov.get_application(arrive_id).status == "審査中（補正待ち）"


def test_resubmission(egov: EgovClient, services, signer) -> None:
    original = _submit(egov, services, signer, scenario="resubmit").arrive_id
    advance(services, "P1D")
    case = egov.get_application(original)
    assert egov.get_notice(original, case.notices[0].notice_sub_id).correct_type == "再提出"
    with pytest.raises(ApiError) as err:
        egov.amend(original, as_amendment(sample_package(services.catalogue, PROC, None), original).sign(signer)
                   .to_zip())
    assert "再提出" in err.value.detail
    with pytest.raises(ApiError) as err:
        _submit(egov, services, signer, apply_type="再提出", first_arrive_id="9502026999999999")
    assert "構成管理XML.初回受付番号に誤りがあります" in err.value.messages
    package = as_resubmission(sample_package(services.catalogue, PROC, None), original).sign(signer)
    again = egov.submit(PROC, package.to_zip())
    assert again.apply_type == "再提出" and again.arrive_id != original
    assert egov.get_application(original).status == "手続終了"
    assert egov.get_application(again.arrive_id).status == "到達"


def test_procedure_closed_with_resubmission_allowed(egov: EgovClient, services, signer) -> None:
    original = _submit(egov, services, signer, scenario="resubmit_closed").arrive_id
    advance(services, "P1D")
    case = egov.get_application(original)
    assert case.status == "手続終了"
    assert egov.get_notice(original, 1).correct_type == "手続終了(再提出可)"
    assert _submit(egov, services, signer, apply_type="再提出", first_arrive_id=original).apply_type == "再提出"


# --- 形式チェック / bulk ---------------------------------------------------------------------------------------

def test_format_check_reports_and_stores_nothing(egov: EgovClient, services, signer) -> None:
    good = sample_package(services.catalogue, PROC, signer)
    assert egov.check(PROC, good.to_zip()).ok
    bad = sample_package(services.catalogue, PROC, None)
    bad.set_form_value(bad.form_files[0], "被保険者/氏名/氏", "")
    bad.sign(signer)
    result = egov.check(PROC, bad.to_zip())
    assert result.error_count == len(result.report_list) >= 1
    assert result.report_list[0].item == "被保険者氏名（氏）"
    today = _today(services)
    assert egov.list_applications(date_from=today, date_to=today).applications == []


def _bulk_zip(services, signer) -> bytes:
    entries = {}
    for folder, fill in (("01_yamada", True), ("02_broken", False), ("03_sato", True)):
        package = sample_package(services.catalogue, PROC, None)
        if not fill:
            package.set_form_value(package.form_files[0], "被保険者/報酬月額/合計", "")
        package.sign(signer)
        for name, data in read_zip(package.to_zip()).items():
            entries[f"{folder}/{name.split('/', 1)[1]}"] = data
    return write_zip(entries)


def test_bulk_sending_with_one_bad_folder(egov: EgovClient, services, signer) -> None:
    sent = egov.bulk_submit(_bulk_zip(services, signer), "bulk.zip")
    assert sent.apply_count == 3 and len(sent.send_number) == 18
    assert sent.links["report"].endswith(f"send_number={sent.send_number}")
    assert egov.list_applications(send_number=sent.send_number).applications == []
    assert egov.get_report(send_number=sent.send_number).items == []
    advance(services, "PT3M")
    arrived = egov.list_applications(send_number=sent.send_number).applications
    assert len(arrived) == 2
    [report] = egov.get_report(send_number=sent.send_number).items
    assert (report.apply_count, report.arrive_count, report.error_count) == (3, 2, 1)
    assert [r.folder_name for r in report.results] == ["01_yamada", "02_broken", "03_sato"]
    broken = report.results[1]
    assert not broken.arrived and broken.report_list[0].item == "報酬月額（合計）"
    assert {r.arrive_id for r in report.results if r.arrived} == {a.arrive_id for a in arrived}
    today = _today(services)
    assert len(egov.get_report(date_from=today, date_to=today, limit=30).items) == 1


def test_bulk_upload_without_folders_is_refused(egov: EgovClient, http) -> None:
    with pytest.raises(ApiError) as err:
        egov.bulk_submit(write_zip({"kousei.xml": b"<DataRoot/>"}))
    assert err.value.status == 400 and err.value.body["error_count"] == 1
    assert err.value.body["error"][0]["errorFile"] == "kousei.xml"


# --- 電子納付 ---------------------------------------------------------------------------------------------------

def test_payment_paid_through_the_bank(egov: EgovClient, services, signer, http) -> None:
    app = _submit(egov, services, signer, scenario="payment")
    [pay] = app.payments
    assert len(pay.pay_number) == 16 and len(pay.confirm_number) == 6 and len(pay.facility_number) == 5
    assert pay.total_fee == 1000 and pay.pay_expired == _today(services) + timedelta(days=7)
    case = egov.get_application(app.arrive_id)
    assert case.pay_status == "納付待ち" and case.notices[0].notice_data_type == "納付"
    banks = egov.list_banks()
    names = [b["financial_name"] for group in banks["bank_list"]["trust_bank"] for b in group["bank"]]
    assert "ゆうちょ銀行" in names
    site = egov.payment_site(app.arrive_id, pay.pay_number, "ゆうちょ銀行", PROC)
    assert site.url.startswith("https://") and site.facility_number == pay.facility_number
    assert pay.pay_number in site.information_link_data.decode("shift_jis")
    with pytest.raises(ApiError):
        egov.payment_site(app.arrive_id, pay.pay_number, "存在しない銀行", PROC)
    resp = http.post(f"/__admin/applications/{app.arrive_id}/pay", json={})
    assert resp.status_code == 200 and resp.json()["paid"] == [pay.pay_number]
    details = egov.get_payment(app.arrive_id)
    assert details.payments[0].pay_status == "納付済み" and details.payments[0].pay_date == _today(services)
    assert egov.get_application(app.arrive_id).pay_status == "納付済み"


def test_payment_expires_at_the_deadline(egov: EgovClient, services, signer) -> None:
    app = _submit(egov, services, signer, scenario="payment")
    advance(services, "P8D")
    assert egov.get_application(app.arrive_id).pay_status == "納付期限切れ"
    with pytest.raises(ApiError) as err:
        egov.payment_site(app.arrive_id, app.payments[0].pay_number, "ゆうちょ銀行", PROC)
    assert "納付期限切れ" in err.value.detail


# --- 電子送達 ---------------------------------------------------------------------------------------------------

def test_electronic_delivery(egov: EgovClient, services, signer) -> None:
    with pytest.raises(ApiError):  # an ordinary procedure is not a 電子送達 利用申込み
        egov.post_apply(PROC, sample_package(services.catalogue, PROC, signer).to_zip())
    applied = egov.post_apply(POST_PROC, sample_package(services.catalogue, POST_PROC, signer).to_zip())
    assert egov.get_post_apply(applied.arrive_id).status == "到達"
    with pytest.raises(NotFoundError):
        egov.get_post_apply(_submit(egov, services, signer).arrive_id)
    advance(services, "P2D")
    today = _today(services)
    [post] = egov.list_posts(date_from=today, date_to=today).items
    [doc] = post["notice_data_list"]
    assert post["title"] == "労働保険料の納付について" and doc["sign"] == "あり"
    archive = egov.get_post(doc["post_id"])
    assert archive.name == "納入告知書" and "nounyu_kokuchisho.pdf" in archive.file_names
    assert egov.verify_official_document(archive.file_data, "kagami.xml").valid
    done = egov.complete_post(doc["post_id"])
    assert done["post_id"] == doc["post_id"]
    with pytest.raises(ApiError):
        egov.get_post(doc["post_id"])
    assert egov.list_posts(date_from=today, date_to=today).items[0]["notice_data_list"][0]["download_date"]


# --- ご案内 / プレ印字 --------------------------------------------------------------------------------------------

def test_messages_from_the_catalogue(egov: EgovClient) -> None:
    page = egov.list_messages(date_from=date(2024, 1, 1), date_to=date(2025, 12, 31))
    ids = [m["information_id"] for m in page.items]
    assert ids[0] == "M0000000000101" and "M0000000000001" in ids  # newest first
    message = egov.get_message("M0000000000001")
    assert message["information_title"] == "APIテスト用手続の提供について"
    assert message["attached_file_list"][0]["file_name"] == "annai.pdf"
    with pytest.raises(NotFoundError):
        egov.get_message("NOPE")


def test_preprint_fills_the_form_from_registered_data(egov: EgovClient) -> None:
    proc, form_id = "900A102800072000", "900A10280007200001"
    skeleton = egov.get_procedure(proc)
    form_xml = read_zip(skeleton.file_data)[f"{proc}/{form_id}_01.xml"]
    filled = egov.preprint(proc, form_id, 1, form_xml, {"労働保険番号": "13101234567000"})
    root = parse_xml(filled)
    data = root.find("労働保険概算確定保険料申告書")
    assert data.findtext("労働保険番号/基幹番号") == "234567" and data.findtext("事業/名称")
    assert egov.preprint(proc, form_id, 1, form_xml, {"労働保険番号": "13101234567000"}) == filled
    with pytest.raises(ApiError):
        egov.preprint(proc, form_id, 1, form_xml, {"労働保険番号": "12"})
    with pytest.raises(ApiError):
        egov.preprint(PROC, "950A01070000500001", 1, form_xml, {"労働保険番号": "13101234567000"})


# --- アカウント間情報共有 -------------------------------------------------------------------------------------------

def _gbizid_logins(endpoint, world, http):
    """e-Gov logins through 「GビズIDでログイン」: the demo prime 法人 (owner) and its member (staff)."""
    def login(alias: str) -> tuple[EgovClient, dict]:
        acc = next(a for a in world.gbizid["accounts"] if a["alias"] == alias)
        http.cookies.clear()  # another person: no single sign-on from the previous login
        tokens = login_egov_with_gbizid(endpoint, acc["account_id"], acc["password"], http=http,
                                        one_time_code=simulator_one_time_code(http, BASE, acc["account_id"]))
        return EgovClient(endpoint, tokens, http=http), {"username": acc["account_id"]}

    (owner, owner_acc), (staff, staff_acc) = login("prime"), login("member")
    return owner, staff, owner_acc, staff_acc


def test_sharing_lets_a_grantee_read_and_then_download(endpoint, world, http, services, signer, egov) -> None:
    owner, staff, owner_acc, staff_acc = _gbizid_logins(endpoint, world, http)
    arrive_id = _submit(owner, services, signer).arrive_id
    advance(services, "P3D")
    with pytest.raises(ApiError) as err:  # e-Gov account logins cannot share
        egov.create_share_setting(staff_acc["username"])
    assert "GビズID" in err.value.detail
    with pytest.raises(NotFoundError):
        staff.get_application(arrive_id)

    owner.create_share_setting(staff_acc["username"], "READ", "READ")
    assert owner.get_share_setting().official_doc_permission == "READ"
    with pytest.raises(NotFoundError):  # not confirmed yet
        staff.get_application(arrive_id)
    assert staff.confirm_share(owner_acc["username"]).gbiz_id == owner_acc["username"]
    shared = staff.get_application(arrive_id)
    assert shared.doc_count == 1 and shared.applied_account == owner_acc["username"]
    with pytest.raises(NotFoundError):  # READ is not DOWNLOAD
        staff.get_official_document(arrive_id, 1)

    owner.update_share_setting(staff_acc["username"], "DOWNLOAD", "READ")
    assert staff.get_official_document(arrive_id, 1).file_names
    with pytest.raises(NotFoundError):  # completing stays with the owner
        staff.complete_official_document(arrive_id, 1)

    owner.delete_share_setting(staff_acc["username"])
    with pytest.raises(NotFoundError):
        staff.get_official_document(arrive_id, 1)
    with pytest.raises(ApiError):
        owner.get_share_setting()


def test_sharing_denied_grants_nothing(endpoint, world, http, services, signer) -> None:
    owner, staff, owner_acc, staff_acc = _gbizid_logins(endpoint, world, http)
    arrive_id = _submit(owner, services, signer).arrive_id
    owner.create_share_setting(staff_acc["username"], "DOWNLOAD", "DOWNLOAD")
    assert staff.confirm_share(owner_acc["username"], accept=False).share_acceptance == "DENY"
    with pytest.raises(NotFoundError):
        staff.get_application(arrive_id)
    with pytest.raises(ApiError):
        staff.confirm_share(owner_acc["username"])  # nothing pending any more


# --- admin control of a case --------------------------------------------------------------------------------

def test_admin_advances_a_case_and_picks_scenarios(egov: EgovClient, services, signer, http) -> None:
    arrive_id = _submit(egov, services, signer).arrive_id
    statuses = []
    for _ in range(3):
        resp = http.post(f"/__admin/applications/{arrive_id}/advance")
        assert resp.status_code == 200
        statuses.append(egov.get_application(arrive_id).status)
    assert statuses == ["審査中", "審査終了", "手続終了"]
    assert egov.get_application(arrive_id).doc_count == 1
    assert http.post(f"/__admin/applications/{arrive_id}/advance").status_code == 409

    resp = http.post("/__admin/scenario", json={"scenario": "hosei_partial", "account": "demo", "count": 1})
    assert resp.status_code == 200
    waiting = _submit(egov, services, signer).arrive_id
    http.post(f"/__admin/applications/{waiting}/advance")
    http.post(f"/__admin/applications/{waiting}/advance")
    assert egov.get_application(waiting).status == "審査中（補正待ち）"
    assert http.post(f"/__admin/applications/{waiting}/advance").status_code == 409  # waits for the applicant
    next_one = _submit(egov, services, signer).arrive_id  # the override was for one submission
    assert egov.get_application(next_one).status == "到達"
    with services.db.session() as s:
        from egov_sim.store.models import Application

        assert s.query(Application).filter_by(arrive_id=next_one).one().scenario == "default"
    assert http.post("/__admin/scenario", json={"scenario": "no-such"}).status_code == 400


def test_async_client_runs_the_same_operations(live_server, world, services, signer) -> None:
    services.clock.update(frozen=True)
    endpoint = simulator(live_server).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")
    with httpx.Client() as http:
        sync = EgovClient.login(endpoint, account["username"], account["password"], http=http)
        arrive_id = _submit(sync, services, signer, scenario="notice").arrive_id
    advance(services, "P3D")

    async def run():  # type: ignore[no-untyped-def]
        async with AsyncEgovClient(endpoint, sync.tokens) as client:
            today = services.clock.now().date()
            notices = await client.list_notices(date_from=today - timedelta(days=3), date_to=today)
            case = await client.get_application(arrive_id)
            archive = await client.get_official_document(arrive_id, 2)
            return notices, case, archive

    notices, case, archive = asyncio.run(run())
    assert [(n.arrive_id, n.type, n.notice_sub_id) for n in notices.items] == [(arrive_id, "お知らせ", 1)]
    assert case.arrive_id == arrive_id and case.status == "審査終了" and case.doc_count == 1
    assert archive.file_names == ["kagami.xml", "kakunin_tsuchisho.pdf"]
    with services.db.session() as s:
        assert verify_locally(archive.file_data, government_authorities(s)).valid
