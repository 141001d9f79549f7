"""Every procedure of the catalogue, as a client meets it: `GET /procedure` answers with a skeleton
the OpenAPI document describes, a correct package built from that skeleton is accepted, and the
API test procedures whose 提出先情報 the applicant sets refuse a package without it.

The expectations (ids, 提出先, 受付行政機関ID) are written out here from e-Gov's list of API test
procedures, not read back from the catalogue, so a wrong catalogue entry fails."""

from __future__ import annotations

import pytest
from conftest import advance
from egov_client import ApiError, EgovClient
from egov_format.package import ApplicationPackage, Skeleton
from egov_format.safexml import parse_xml
from egov_format.zipsafe import read_zip
from egov_sim.catalogue import Catalogue
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from openapi_schemas import validate_schema
from sqlalchemy import func, select

STANDARD_SIGNED = ("950A010700005000", "950A010002018000", "900A102800072000")
UNSIGNED_POST = "900A013800001000"
DESTINATION_REQUIRED = (
    "950A010200003000", "950A010200004000", "900A020700013000", "950A101810021000", "950A101810022000",
    "950A101810023000", "950A102810037000", "950A102810040000", "950A102200044000", "950A102200045000",
    "950A102200046000", "950A102200047000", "950A102810048000", "950A102810049000",
)
API_TEST = (*STANDARD_SIGNED, UNSIGNED_POST, *DESTINATION_REQUIRED)
DESTINATION_NAME = "総務省,行政管理局,API"
MISSING_DESTINATION = "提出先情報を設定しなければなりません"
PERSON = {"name": "山田　太郎", "name_kana": "ヤマダ　タロウ", "corporation_name": "株式会社サンプル商事",
          "postal_code": "1000013", "address": "東京都千代田区霞が関１－２－２", "phone": "03-5253-1111",
          "email": "shinsei@example.jp"}
ALL_PROCEDURES = sorted(Catalogue.load().procedures)


def _destination_id(proc_id: str) -> str:
    return f"{proc_id[:3]}API00000000001001001"


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _package(skeleton: bytes, proc, signer, destination: tuple[str, str] | None) -> bytes:
    """From the skeleton only: applicant, the forms' required items, 提出先 when given, a signature when given."""
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton))
    package.set_applicant(**PERSON)
    package.set_contact(**PERSON)
    for form in proc.forms:
        for item in form.required:
            package.set_form_value(form.form_id, item.path, item.example or "1")
    if destination is not None:
        package.set_destination(*destination)
    for config in proc.configuration_files:  # 個別署名形式: an attachment and each 構成情報 signed on its own
        if config.signs == "attachment":
            name = package.add_attachment("tenpu.pdf", b"%PDF-1.4\n%%EOF\n", title="添付書類")
            package.sign_configuration(config.file_name, signer, target=name)
        else:
            package.sign_configuration(config.file_name, signer)
    if signer is not None:
        package.sign(signer)
    return package.to_zip()


def _send(egov: EgovClient, proc, data: bytes):
    return egov.post_apply(proc.proc_id, data) if proc.post_apply else egov.submit(proc.proc_id, data)


def test_the_catalogue_has_every_api_test_procedure() -> None:
    catalogue = Catalogue.load()
    for proc_id in API_TEST:
        proc = catalogue.get(proc_id)
        assert proc is not None, proc_id
        assert proc.name.startswith("ＡＰＩテスト用手続（"), proc_id
        assert proc.destination_required == (proc_id in DESTINATION_REQUIRED), proc_id
        assert proc.signature_required == (proc_id != UNSIGNED_POST), proc_id
        assert proc.post_apply == (proc_id == UNSIGNED_POST), proc_id
        assert {"default", "resubmit", "hosei_partial"} <= set(proc.scenarios), proc_id
        assert any("document" in step.extra or "post" in step.extra for step in proc.scenario("default").steps)
    assert any("payment" in step.extra for step in catalogue.procedures["950A010002018000"].scenario("default").steps)
    for proc in catalogue:  # 受付行政機関ID = "100" + the first three characters of the proc_id, everywhere
        assert proc.agency_id == "100" + proc.proc_id[:3], proc.proc_id


@pytest.mark.parametrize("proc_id", ALL_PROCEDURES)
def test_skeleton_and_a_correct_package_are_accepted(proc_id: str, egov: EgovClient, services, signer) -> None:
    proc = services.catalogue.procedures[proc_id]
    skeleton = egov.get_procedure(proc_id)
    validate_schema("results_procedure", skeleton.raw["results"])
    files = read_zip(skeleton.file_data)
    assert {name.split("/", 1)[0] for name in files} == {proc_id}
    names = {name.split("/", 1)[1] for name in files}
    # 個別署名形式 lists its separately signed 構成情報 files beside kousei.xml
    expected_configuration = ["kousei.xml", *(c.file_name for c in proc.configuration_files)]
    assert skeleton.configuration_file_name == expected_configuration
    assert set(expected_configuration) <= names
    kousei = parse_xml(files[f"{proc_id}/kousei.xml"]).find("構成情報")
    assert kousei.findtext("管理情報/手続番号/受付行政機関ID") == "100" + proc_id[:3]
    assert kousei.findtext("管理情報/手続番号/手続ID") == proc_id
    listed = [(a.findtext("申請書様式ID"), int(a.findtext("申請書様式バージョン")), a.findtext("申請書様式名称"),
               a.findtext("申請書ファイル名称")) for a in kousei.findall("申請書属性情報")]
    assert [(i.form_id, i.form_version, i.form_name, i.apply_file_name) for i in skeleton.file_info] == listed
    assert listed and all(form_id.startswith(proc_id) and len(form_id) == 18 for form_id, *_ in listed)
    for info in skeleton.file_info:
        assert {info.apply_file_name, info.xsl_file_name, info.server_check_file_name, info.schema_file_name} <= names

    destination = None
    if proc.destination_required:  # the applicant chooses the 提出先: the skeleton leaves it empty
        assert not kousei.findtext("提出先情報/提出先識別子") and not kousei.findtext("提出先情報/提出先名称")
        destination = (_destination_id(proc_id), DESTINATION_NAME)
    unsigned = proc_id == UNSIGNED_POST
    data = _package(skeleton.file_data, proc, None if unsigned else signer, destination)

    if proc.destination_required:
        for wrong, content in ((("", ""), MISSING_DESTINATION),
                               ((_destination_id(proc_id).replace("API", "XYZ"), DESTINATION_NAME),
                                "構成管理XML.提出先識別子に誤りがあります")):
            with pytest.raises(ApiError) as err:
                _send(egov, proc, _package(skeleton.file_data, proc, signer, wrong))
            assert err.value.status == 400
            assert {"file_name": "kousei.xml", "content": content} in [
                {k: r[k] for k in ("file_name", "content")} for r in err.value.report_list]
        assert _count(services) == 0
    if proc.post_apply:  # a 電子送達 利用申込み is not an application: /apply does not know it
        with pytest.raises(ApiError) as err:
            egov.submit(proc_id, data)
        assert err.value.status == 400 and err.value.report_list[0]["item"] == "proc_id"
        assert _count(services) == 0

    result = _send(egov, proc, data)
    case = egov.get_post_apply(result.arrive_id) if proc.post_apply else egov.get_application(result.arrive_id)
    assert case.status == "到達" and case.proc_name == proc.name
    assert result.arrive_id.startswith(proc_id[:3]) and _count(services) == 1


def test_the_unsigned_electronic_delivery_procedure_delivers_and_can_be_resubmitted(egov: EgovClient,
                                                                                     services) -> None:
    services.clock.update(frozen=True)
    first = egov.post_apply(UNSIGNED_POST, sample_package(services.catalogue, UNSIGNED_POST, None).to_zip())
    advance(services, "P2D")
    today = services.clock.now().date()
    [post] = egov.list_posts(date_from=today, date_to=today).items
    assert post["notice_data_list"][0]["sign"] == "あり"  # the agency signs what it delivers

    egov.http.headers["X-Sandbox-Scenario"] = "resubmit"
    original = egov.post_apply(UNSIGNED_POST, sample_package(services.catalogue, UNSIGNED_POST, None).to_zip())
    egov.http.headers.pop("X-Sandbox-Scenario")
    advance(services, "P1D")
    assert egov.get_post_apply(original.arrive_id).status == "審査中（補正待ち）"
    again = sample_package(services.catalogue, UNSIGNED_POST, None, apply_type="再提出",
                           first_arrive_id=original.arrive_id)
    assert egov.post_apply(UNSIGNED_POST, again.to_zip()).apply_type == "再提出"
    assert egov.get_post_apply(original.arrive_id).status == "手続終了"
    assert egov.get_post_apply(first.arrive_id).status == "手続終了"


def test_a_destination_procedure_rehearses_amendment_and_its_official_document(egov: EgovClient, services,
                                                                               signer) -> None:
    from egov_client.documents import as_amendment

    services.clock.update(frozen=True)
    proc_id = "950A101810021000"
    egov.http.headers["X-Sandbox-Scenario"] = "hosei_partial"
    arrive_id = egov.submit(proc_id, sample_package(services.catalogue, proc_id, signer).to_zip()).arrive_id
    egov.http.headers.pop("X-Sandbox-Scenario")
    advance(services, "P1D")
    assert egov.get_application(arrive_id).status == "審査中（補正待ち）"
    egov.amend(arrive_id, as_amendment(sample_package(services.catalogue, proc_id, None), arrive_id)
               .sign(signer).to_zip())
    advance(services, "P2D")
    case = egov.get_application(arrive_id)
    assert case.status == "審査終了" and case.doc_count == 1
    assert egov.get_official_document(arrive_id, case.official_documents[0].notice_sub_id).file_names == [
        "kagami.xml", "tsuchisho.pdf"]


def test_the_labour_insurance_procedure_issues_a_payment_by_default(egov: EgovClient, services, signer) -> None:
    proc_id = "950A010002018000"
    result = egov.submit(proc_id, sample_package(services.catalogue, proc_id, signer).to_zip())
    [pay] = result.payments
    assert pay.total_fee == 540000 and egov.get_application(result.arrive_id).pay_status == "納付待ち"
