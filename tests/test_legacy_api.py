"""The legacy 外部連携API (/shinsei/1) over the same FilingBackend: each of the 23 operations, its
success shape and at least one refusal (the envelope with Code 1, a Japanese Message, nothing stored)."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
from conftest import BASE, advance, certificate_signer
from cryptography.hazmat.primitives import serialization
from egov_client.legacy import LegacyApiError, LegacyClient, build_withdrawal_application, upload
from egov_format.signing import Signer
from egov_sim.certs import issue_certificate
from egov_sim.filing.legacy.tables import LegacyAccessKey, LegacyUser
from egov_sim.filing.trust import TEST_CA_PURPOSE
from egov_sim.store.models import Application, KeyPair
from egov_sim.world.packages import sample_package
from sqlalchemy import func, select

PROC = "950A010700005000"
USER = "c20202020"


@pytest.fixture(autouse=True)
def _frozen(services) -> None:
    services.clock.update(frozen=True)


@pytest.fixture
def legacy(sim, world) -> Iterator[LegacyClient]:
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=BASE) as http:
        yield LegacyClient(BASE, world.client_id, http=http)


@pytest.fixture
def logged_in(legacy: LegacyClient, signer: Signer) -> LegacyClient:
    legacy.register(USER, signer)
    legacy.login(USER, signer)
    return legacy


def _package(services, signer, **kw) -> bytes:
    return sample_package(services.catalogue, PROC, signer, **kw).to_zip()


def _send(client: LegacyClient, services, signer, *, scenario: str | None = None, count: int = 1) -> str:
    client.http.headers.update({"X-Sandbox-Scenario": scenario} if scenario else {})
    try:
        sent = client.apply("send.zip", upload(*(_package(services, signer) for _ in range(count))))
    finally:
        client.http.headers.pop("X-Sandbox-Scenario", None)
    return sent.text("SendNumber")


def _later(client: LegacyClient, services, signer, duration: str) -> None:
    """The virtual clock moves on; the access key (24 hours) is taken again, as the client does."""
    advance(services, duration)
    client.login(USER, signer)


def _arrive(client: LegacyClient, services, signer, **kw) -> str:
    number = _send(client, services, signer, **kw)
    advance(services, "PT5M")
    return client.arrived_applications(number).text("Apply/ArriveID")


def refused(call, status: int = 400) -> LegacyApiError:
    with pytest.raises(LegacyApiError) as info:
        call()
    assert info.value.status == status and info.value.message
    assert any("\u3040" <= ch <= "\u9fff" for ch in info.value.message)  # a Japanese sentence
    return info.value


def _count(services, model) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _new_certificate(services, *, subject: str, days: int = 365, start_days: int = -30) -> Signer:
    """A certificate of the simulator's test CA (the Subject chosen)."""
    from cryptography import x509

    with services.db.session() as s:
        row = s.scalars(select(KeyPair).where(KeyPair.purpose == TEST_CA_PURPOSE)).first()
        ca_cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
        ca_key = serialization.load_pem_private_key(row.private_pem.encode(), None)
    now = services.clock.now() - timedelta(hours=9)
    cert, key = issue_certificate(ca_cert, ca_key, subject_cn=subject, organization="テスト社労士事務所",
                                  not_before=now + timedelta(days=start_days), not_after=now + timedelta(days=days))
    return Signer(key, cert)


# --- 1–5 the authentication family ------------------------------------------------------------------------------

def test_register_login_and_the_envelope(legacy: LegacyClient, signer, services, sim) -> None:
    answer = legacy.register(USER, signer)
    assert answer.status == 201 and answer.text("UserID") == USER
    login = legacy.login(USER, signer)
    assert login.status == 200 and len(login.text("AccessKey")) == 256
    assert login.appl.find("LastAuthenticationDate") is not None and login.text("LastAuthenticationDate") == ""
    advance(services, "PT1M")
    again = legacy.login(USER, signer)
    assert again.text("AccessKey") != login.text("AccessKey")
    assert again.text("LastAuthenticationDate") == f"{services.clock.now() - timedelta(minutes=1):%Y%m%d%H%M%S}"
    raw = legacy.http.post("/shinsei/1/access/bank", headers={"X-eGovAPI-SoftwareID": legacy.software_id,
                                                               "X-eGovAPI-AccessKey": legacy.access_key})
    assert raw.status_code == 405 or raw.headers["Content-Type"] == "text/xml;charset=UTF-8"


def test_register_refusals_store_nothing(legacy: LegacyClient, signer, services) -> None:
    legacy.register(USER, signer)
    users = _count(services, LegacyUser)
    err = refused(lambda: legacy.register(USER, signer))
    assert err.message == "該当する利用者IDと証明書の情報は、既に登録されています。"
    assert err.appl.findtext("UserID") == USER
    for bad in ("short1", "abcdefghijklm", "aaaaaaaaa", "ab_cdefgh"):
        refused(lambda bad=bad: legacy.register(bad, signer))
    assert _count(services, LegacyUser) == users


def test_authentication_bodies_must_be_signed_by_a_usable_certificate(legacy: LegacyClient, services) -> None:
    headers = {"X-eGovAPI-SoftwareID": legacy.software_id}
    unsigned = b'<?xml version="1.0"?><DataRoot><ApplData Id="ApplData"><UserID>abcd1234</UserID></ApplData></DataRoot>'
    resp = legacy.http.post("/shinsei/1/authentication/user", content=unsigned, headers=headers)
    assert resp.status_code == 400 and "<Code>1</Code>" in resp.text and "<UserID>abcd1234</UserID>" in resp.text
    for label in ("expired", "revoked", "unregistered"):
        refused(lambda label=label: legacy.register(f"user{label[:4]}1", certificate_signer(services, label)))
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><DataRoot><ApplData Id="ApplData"/></DataRoot>'
    assert legacy.http.post("/shinsei/1/authentication/user", content=dtd, headers=headers).status_code == 400
    assert legacy.http.post("/shinsei/1/authentication/user", content=b"<DataRoot>", headers=headers).status_code == 400
    tampered = legacy.http.post("/shinsei/1/authentication/user", headers=headers, content=_tampered(
        certificate_signer(services, "valid")))
    assert tampered.status_code == 400 and "署名の検証に失敗しました" in tampered.text
    legacy.software_id = "unknown-software"
    refused(lambda: legacy.register("abcd12345", certificate_signer(services, "valid")))
    assert _count(services, LegacyUser) == 0


def _tampered(signer: Signer) -> bytes:
    from egov_format.signing import sign_sibling
    from lxml import etree

    root = etree.fromstring(b'<DataRoot><ApplData Id="ApplData"><UserID>abcd1234</UserID></ApplData></DataRoot>')
    sign_sibling(root, "ApplData", signer)
    root.find("ApplData/UserID").text = "abcd9999"
    return etree.tostring(root)


def test_login_refused_for_another_certificate_or_unknown_id(legacy: LegacyClient, signer, services) -> None:
    legacy.register(USER, signer)
    other = _new_certificate(services, subject="別人 太郎")
    assert refused(lambda: legacy.login(USER, other)).message == "利用者認証に失敗しました。"
    refused(lambda: legacy.login("nobody123", signer))
    assert _count(services, LegacyAccessKey) == 0


def test_append_switches_the_certificate_and_ends_access_keys(logged_in: LegacyClient, signer, services) -> None:
    new = _new_certificate(services, subject="新しい 証明書")
    answer = logged_in.append_certificate(USER, signer, new.certificate)
    assert answer.text("UserID") == USER and answer.text("LastAuthenticationDate")
    err = refused(lambda: logged_in.banks())
    assert err.message.startswith("アクセスキーの有効期限が切れました")
    refused(lambda: logged_in.login(USER, signer))  # one certificate per 利用者ID: the old one is no longer it
    assert logged_in.login(USER, new).text("AccessKey")
    refused(lambda: logged_in.append_certificate(USER, signer, new.certificate))  # signed by the old one


def test_update_with_an_expired_old_certificate_unless_the_subject_changed(legacy: LegacyClient, services) -> None:
    old = _new_certificate(services, subject="山田 太郎", days=10)
    legacy.register(USER, old)
    advance(services, "P20D")  # the old certificate has expired
    other_subject = _new_certificate(services, subject="山田 花子")
    err = refused(lambda: legacy.update_certificate(USER, other_subject, old.certificate))
    assert "主体者識別名（Subject）" in err.message
    same_subject = _new_certificate(services, subject="山田 太郎")
    assert legacy.update_certificate(USER, same_subject, old.certificate).text("UserID") == USER
    assert legacy.login(USER, same_subject).text("AccessKey")
    refused(lambda: legacy.update_certificate(USER, same_subject, other_subject.certificate))  # not registered


def test_delete_removes_the_certificate_kept_from_before_a_switch(logged_in: LegacyClient, signer, services) -> None:
    new = _new_certificate(services, subject="新しい 証明書")
    logged_in.append_certificate(USER, signer, new.certificate)
    assert logged_in.delete_certificate(USER, new, signer.certificate).text("UserID") == USER
    refused(lambda: logged_in.delete_certificate(USER, new, signer.certificate))  # gone already
    assert "唯一の証明書" in refused(lambda: logged_in.delete_certificate(USER, new, new.certificate)).message


# --- 6–9 送信 and the lists ------------------------------------------------------------------------------------

def test_apply_is_processed_later_then_listed_by_id_and_date(logged_in: LegacyClient, services, signer) -> None:
    bad = sample_package(services.catalogue, PROC, None).to_zip()  # unsigned where a signature is required
    sent = logged_in.apply("send.zip", upload(_package(services, signer), _package(services, signer), bad))
    assert sent.status == 202 and sent.text("SendApplyCount") == "3"
    number = sent.text("SendNumber")
    assert len(number) == 18 and number.startswith(sent.text("SendDate")) and len(sent.text("SendDate")) == 14
    first = logged_in.sended_applications_by_id(number)
    assert first.text("PackageApply/WorkStatus") == "処理待ち" and first.text("PackageApply/ApplyCount") == "0"
    assert first.text("PackageApply/AllCount") == "3" and first.appl.find("SendDateFrom") is not None
    assert first.text("SendDateFrom") == ""
    advance(services, "PT5M")
    later = logged_in.sended_applications_by_id(number).appl.find("PackageApply")
    assert later.findtext("WorkStatus") == "" and later.findtext("NormalCount") == "2"
    assert later.findtext("ErrorCount") == "1"
    report = base64.b64decode(later.findtext("ErrorFile")).decode()
    assert "エラー詳細" in report and f"{PROC}(3)" in report
    apply = later.find("Apply")
    assert len(apply.findtext("ArriveID")) == 16 and apply.findtext("ProcFolderName") == f"{PROC}(1)"
    assert apply.find("CorporationtName") is not None and apply.findtext("Status") == "到達"
    sent_on, today = sent.text("SendDate")[:8], f"{services.clock.now():%Y%m%d}"  # 5 minutes may cross midnight JST
    by_date = logged_in.sended_applications_by_date(sent_on, today)
    assert by_date.text("SendDateFrom") == sent_on and by_date.text("PackageApplyCount") == "1"
    listed = logged_in.arrived_applications(number)
    assert listed.text("ApplyCount") == "2" and listed.text("ErrorCount") == "1"


def test_apply_refusals(logged_in: LegacyClient, services, signer) -> None:
    refused(lambda: logged_in.apply("x.zip", b"not a zip"))
    resp = logged_in.http.post("/shinsei/1/access/apply", headers={"X-eGovAPI-SoftwareID": logged_in.software_id,
                                                                   "X-eGovAPI-AccessKey": logged_in.access_key},
                               content=b'<DataRoot><ApplData><Upload><FileName>a</FileName>'
                                       b'<FileData>!!!</FileData></Upload></ApplData></DataRoot>')
    assert resp.status_code == 400 and "<SendNumber></SendNumber>" in resp.text
    key, logged_in.access_key = logged_in.access_key, ""
    refused(lambda: logged_in.apply("send.zip", upload(_package(services, signer))))
    logged_in.access_key = "x" * 256
    refused(lambda: logged_in.apply("send.zip", upload(_package(services, signer))))
    logged_in.access_key = key
    assert _count(services, Application) == 0


def test_access_keys_expire(logged_in: LegacyClient, services) -> None:
    logged_in.banks()
    advance(services, "PT24H")
    assert refused(lambda: logged_in.banks()).message.startswith("アクセスキーの有効期限が切れました")


def test_list_refusals_dates_and_the_limit(logged_in: LegacyClient, services, signer, sim) -> None:
    err = refused(lambda: logged_in.sended_applications_by_date("20150101", "20150101"))
    assert err.message == "該当する申請情報が存在しません。指定した取得対象期間を確認してください。"
    assert err.appl.findtext("SendDateFrom") == "20150101" and err.appl.findtext("PackageApplyCount") == "0"
    refused(lambda: logged_in.sended_applications_by_date("20150231", "20150301"))
    refused(lambda: logged_in.sended_applications_by_date("20150302", "20150301"))
    refused(lambda: logged_in.sended_applications_by_id("123"))
    refused(lambda: logged_in.arrived_applications("201501010000000001"))
    sim.extensions["egov_sim_legacy"] = sim.extensions["egov_sim_legacy"].with_(list_limit=2)
    for _ in range(3):
        _send(logged_in, services, signer)
    today = f"{services.clock.now():%Y%m%d}"
    assert "上限（2件）" in refused(lambda: logged_in.sended_applications_by_date(today, today)).message


# --- 10–15 状況照会, 取下げ, 補正 -----------------------------------------------------------------------------

def test_reference_follows_the_virtual_clock(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer, scenario="hosei_partial")
    ref = logged_in.reference(arrive_id)
    assert ref.text("Status") == "到達" and ref.text("ApplyHistory/OperatorType") == "送信"
    assert ref.text("ReintroductionFlag") == "0" and ref.appl.find("ExamStartDate") is not None
    _later(logged_in, services, signer, "P1DT1M")
    ref = logged_in.reference(arrive_id)
    assert ref.text("Status") == "審査中（補正待ち）" and ref.text("AmendMessage").startswith("補正待ちの補正通知が1件")
    refused(lambda: logged_in.reference("9002015000000001"))
    refused(lambda: logged_in.reference("12"))


def test_withdraw(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer)
    refused(lambda: logged_in.withdraw(arrive_id, b"PK"))
    _later(logged_in, services, signer, "PT2H")
    package = build_withdrawal_application(target_arrive_id=arrive_id, proc_id=PROC, proc_name="x",
                                           applicant_name="山田　太郎", reason="誤って申請したため",
                                           submitted=date(2026, 4, 1)).sign(signer)
    done = logged_in.withdraw(arrive_id, upload(package.to_zip()))
    assert done.status == 202 and done.text("ArriveID") == arrive_id and done.text("ApplyType") == "取下げ"
    assert done.text("ReceptionDesk") == "総務省,行政管理局,API" and len(done.text("NewArriveID")) == 16


def test_amends_and_partamend(logged_in: LegacyClient, services, signer) -> None:
    from egov_client.documents import as_amendment

    arrive_id = _arrive(logged_in, services, signer, scenario="hosei_partial")
    assert logged_in.amends(arrive_id).appl.find("Official") is None
    _later(logged_in, services, signer, "P1DT1M")
    amends = logged_in.amends(arrive_id)
    official = amends.appl.find("Official")
    assert amends.text("AmendDocType") == "4" and len(official.findtext("CorrectExpiredDate")) == 8
    assert "hoseitsuuchi.xml" in zipfile.ZipFile(io.BytesIO(base64.b64decode(official.findtext("FileData")))).namelist()
    amendment = as_amendment(sample_package(services.catalogue, PROC, None), arrive_id).sign(signer).to_zip()
    refused(lambda: logged_in.partamend(arrive_id, False, False, upload(amendment)))
    done = logged_in.partamend(arrive_id, True, False, upload(amendment))
    assert done.status == 202 and done.text("NewArriveID") == "" and done.text("ArriveID") == arrive_id
    refused(lambda: logged_in.amends("9002015000000001"))


def test_reamend_and_amendapply(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer, scenario="resubmit")
    _later(logged_in, services, signer, "PT30M")
    again = sample_package(services.catalogue, PROC, signer, apply_type="再提出", first_arrive_id=arrive_id).to_zip()
    done = logged_in.reamend(arrive_id, upload(again))
    assert done.status == 202 and len(done.text("NewArriveID")) == 16 and done.text("NewArriveID") != arrive_id
    wrong = sample_package(services.catalogue, PROC, signer, apply_type="再提出",
                           first_arrive_id="9002015000000001").to_zip()
    refused(lambda: logged_in.reamend(arrive_id, upload(wrong)))
    other = _arrive(logged_in, services, signer, scenario="resubmit")
    _later(logged_in, services, signer, "PT30M")
    again = sample_package(services.catalogue, PROC, signer, apply_type="再提出", first_arrive_id=other).to_zip()
    assert len(logged_in.amendapply(other, upload(again)).text("NewArriveID")) == 16
    finished = _arrive(logged_in, services, signer, scenario="resubmit_closed")
    _later(logged_in, services, signer, "P1DT1H")
    again = sample_package(services.catalogue, PROC, signer, apply_type="再提出", first_arrive_id=finished).to_zip()
    err = refused(lambda: logged_in.amendapply(finished, upload(again)), 500)
    assert err.message.startswith("システムでエラーが発生したため処理が中断されました")


# --- 16–21 通知, 公文書, コメント ------------------------------------------------------------------------------

def test_notices_comment_and_done_comment(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer, scenario="notice")
    _later(logged_in, services, signer, "P1D")
    notices = logged_in.notices(arrive_id)
    assert notices.text("Comment/Reading") == "未読"
    sub = int(notices.text("Comment/NoticeSubID"))
    data = base64.b64decode(logged_in.comment(arrive_id, sub).text("Download/FileData"))
    assert b"DOC VERSION" in zipfile.ZipFile(io.BytesIO(data)).read("comment.xml")
    assert logged_in.done_comment(arrive_id, sub).text("NoticeSubID") == str(sub)
    assert logged_in.notices(arrive_id).text("Comment/Reading") == "既読"
    refused(lambda: logged_in.comment(arrive_id, 99))
    refused(lambda: logged_in.done_comment(arrive_id, 99))
    refused(lambda: logged_in.notices("9002015000000001"))


def test_official_document_get_done_and_verify(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _arrive(logged_in, services, signer)
    refused(lambda: logged_in.officialdocument(arrive_id, 1))
    _later(logged_in, services, signer, "P3D")
    sub = int(logged_in.notices(arrive_id).text("Official/NoticeSubID"))
    data = base64.b64decode(logged_in.officialdocument(arrive_id, sub).text("Download/FileData"))
    names = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert names and all(not (i.flag_bits & 0x800) for i in names)  # Japanese names: Shift_JIS, no UTF-8 flag
    xml_name = next(i.filename for i in names if i.filename.endswith(".xml"))
    verify = logged_in.verify_officialdocument(arrive_id, "doc.zip", data, xml_name.split("/", 1)[-1])
    assert verify.text("VerifyResult/Official/ValidationResult") == "正常です。"
    assert verify.text("ErrorCount") == "0" and verify.appl.find("VerifyResult/Official") is not None
    done = logged_in.done_officialdocument(arrive_id, sub)
    assert done.text("ArriveID") == arrive_id and len(done.text("DownloadDate")) == 14 and done.text("File/FileName")
    refused(lambda: logged_in.done_officialdocument(arrive_id, 42))
    refused(lambda: logged_in.verify_officialdocument("9002015000000001", "doc.zip", data, xml_name))


# --- 22–23 電子納付 -------------------------------------------------------------------------------------------

def test_banks_and_payments(logged_in: LegacyClient, services, signer) -> None:
    banks = logged_in.banks()
    assert banks.appl.find("TrustBank/Initial").get("Name") and banks.text("TrustBank/Initial/Bank/FinancialName")
    assert len(banks.text("FinancialTypeListDate")) == 8
    arrive_id = _arrive(logged_in, services, signer, scenario="payment")
    pay = logged_in.payments(arrive_id).appl.find("ApplyPay")
    assert len(pay.findtext("PayNumber")) == 16 and pay.findtext("PayFlag") == "0"
    refused(lambda: logged_in.payments("9002015000000001"))
    logged_in.software_id = "nope"
    refused(lambda: logged_in.banks())


def test_maintenance_answers_in_the_legacy_envelope(logged_in: LegacyClient, http, services) -> None:
    now = services.clock.now()
    resp = http.post("/__admin/maintenance", json={"start": f"{now:%Y-%m-%dT%H:%M:%S}",
                                                   "end": f"{now + timedelta(hours=1):%Y-%m-%dT%H:%M:%S}"})
    assert resp.status_code < 300, resp.text
    err = refused(lambda: logged_in.banks(), 503)
    assert "メンテナンス" in err.message


def test_unknown_paths_answer_in_the_envelope(legacy: LegacyClient) -> None:
    resp = legacy.http.get("/shinsei/1/access/nothing")
    assert resp.status_code == 404 and "<Code>1</Code>" in resp.text



@pytest.mark.parametrize("path", ["/shinsei/1/access/apply", "/shinsei/1/access/withdrawal",
                                  "/shinsei/1/access/officialdocument"])
def test_access_bodies_are_read_only_after_the_access_key(logged_in: LegacyClient, path: str) -> None:
    """Authentication before any work: a broken body without an access key (or with a wrong one) is
    answered as the key's refusal, never as the body's (which would tell the body had been parsed)."""
    for key, message in ((None, "アクセスキーが指定されていません。"), ("x" * 256, "アクセスキーが不正です。")):
        headers = {"X-eGovAPI-SoftwareID": logged_in.software_id, **({"X-eGovAPI-AccessKey": key} if key else {})}
        resp = logged_in.http.request("PUT" if path.endswith("officialdocument") else "POST", path,
                                      content=b"<DataRoot><ApplData>" + b"<a>" * 40_000, headers=headers)
        assert resp.status_code == 400, resp.text[:300]
        assert resp.text.count(message) == 1 and "リクエストの形式" not in resp.text, resp.text[:300]
