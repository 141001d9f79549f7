"""個別署名形式 (950A101220029000): kousei.xml plus separately signed 構成情報 files, each signing
#構成情報 and its one file; the skeleton lists them, the client builds and signs them, the server
accepts the package when each verifies and names the file otherwise."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from egov_client import ApiError, EgovClient
from egov_client.errors import SignatureError
from egov_format.package import ApplicationPackage, Skeleton
from egov_format.safexml import parse_xml
from egov_format.zipsafe import read_zip, write_zip
from egov_sim.filing.pdf import text_pdf
from egov_sim.world.packages import sample_package

PROC = "950A101220029000"
FORM = "950A10122002900001_01.xml"
TENPU, SHINSEI = "kousei_tenpu.xml", "kousei_shinsei.xml"


def test_skeleton_lists_the_configuration_files(egov: EgovClient):
    skeleton = egov.get_procedure(PROC)
    assert skeleton.configuration_file_name == ["kousei.xml", TENPU, SHINSEI]
    files = {name.split("/", 1)[1]: data for name, data in read_zip(skeleton.file_data).items()}
    assert {TENPU, SHINSEI, "999000000000000002.xsl", FORM} <= set(files)
    kousei = parse_xml(files["kousei.xml"])
    assert kousei.findtext("構成情報/管理情報/手続番号/受付行政機関ID") == "100950"
    assert kousei.findtext("構成情報/提出先情報/提出先識別子") == "950API00000000001001001"
    assert parse_xml(files[SHINSEI]).findtext("構成情報/署名対象ファイル名称") == FORM
    assert parse_xml(files[TENPU]).findtext("構成情報/署名対象ファイル名称") == ""
    assert ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton.file_data)).configuration_files == [
        TENPU, SHINSEI]


def _built_from_skeleton(egov: EgovClient, signer) -> ApplicationPackage:
    """What a client does: the skeleton, the form filled, an attachment, each 構成情報 file signed."""
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(egov.get_procedure(PROC).file_data))
    package.set_applicant(name="山田　太郎", name_kana="ヤマダ　タロウ", address="東京都千代田区")
    package.set_contact(name="山田　太郎")
    package.set_form_values(FORM, {"届出者/名称": "株式会社サンプル", "届出者/代表者氏名": "山田　太郎",
                                   "届出内容": "試験"})
    name = package.add_attachment("tenpu.pdf", text_pdf("添付書類", ["本文"]), title="添付書類")
    assert package.sign_configuration(TENPU, signer, target=name) == "tenpu.pdf"
    assert package.sign_configuration(SHINSEI, signer) == FORM
    return package


def test_individually_signed_package_is_accepted(egov: EgovClient, signer):
    package = _built_from_skeleton(egov, signer)
    verified = package.verify_configurations()
    assert [info.referenced_files for infos in verified.values() for info in infos] == [["tenpu.pdf"], [FORM]]
    assert package.verify() == []  # kousei.xml itself need not be signed in this format
    assert egov.check(PROC, package.to_zip()).ok
    result = egov.submit(PROC, package.to_zip())
    assert egov.get_application(result.arrive_id).status == "到達"


def test_sample_package_of_the_procedure_is_accepted(egov: EgovClient, services, signer):
    assert egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed")
def test_each_configuration_file_verifies_with_xmlsec1(egov: EgovClient, signer, tmp_path):
    from test_xmlsec_interop import pem_files, unpack

    _key, _cert, ca = pem_files(signer, tmp_path / "pki")
    folder = unpack(_built_from_skeleton(egov, signer).files, tmp_path / "pkg")
    for name in (TENPU, SHINSEI):
        result = subprocess.run(["xmlsec1", "--verify", "--trusted-pem", str(ca), "--id-attr:ID", "構成情報", name],
                                cwd=folder, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "SignedInfo References (ok/all): 2/2" in result.stderr, result.stderr


def _refused(egov: EgovClient, package_zip: bytes) -> list[tuple[str, str, str]]:
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, package_zip)
    assert err.value.status == 400
    assert [r.content for r in egov.check(PROC, package_zip).report_list] == err.value.messages
    return [(r["file_name"], r["item"], r["content"]) for r in err.value.report_list]


def _entries(package: ApplicationPackage) -> dict[str, bytes]:
    return read_zip(package.to_zip())


def test_missing_configuration_file(egov: EgovClient, signer):
    entries = _entries(_built_from_skeleton(egov, signer))
    del entries[f"{PROC}/{TENPU}"]
    assert _refused(egov, write_zip(entries)) == [(TENPU, "署名情報", f"構成情報ファイル({TENPU})が存在しません")]


def test_unsigned_configuration_file(egov: EgovClient, signer):
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(egov.get_procedure(PROC).file_data))
    package.set_applicant(name="山田　太郎")
    package.set_form_values(FORM, {"届出者/名称": "株式会社", "届出者/代表者氏名": "山田", "届出内容": "試験"})
    name = package.add_attachment("tenpu.pdf", b"%PDF-1.4\n", title="添付書類")
    package.sign_configuration(TENPU, signer, target=name)
    assert _refused(egov, package.to_zip()) == [(SHINSEI, "署名情報", "署名情報が存在しません")]


def test_file_changed_after_its_configuration_was_signed(egov: EgovClient, signer):
    entries = _entries(_built_from_skeleton(egov, signer))
    entries[f"{PROC}/tenpu.pdf"] += b"%tampered\n"
    assert _refused(egov, write_zip(entries)) == [
        ("tenpu.pdf", "署名情報", "署名の検証に失敗しました。添付書類ファイル(tenpu.pdf)が改ざんされている可能性があります。")]


def test_configuration_signing_the_wrong_kind_of_file(egov: EgovClient, signer):
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(egov.get_procedure(PROC).file_data))
    package.set_applicant(name="山田　太郎")
    package.set_form_values(FORM, {"届出者/名称": "株式会社", "届出者/代表者氏名": "山田", "届出内容": "試験"})
    package.add_attachment("tenpu.pdf", b"%PDF-1.4\n", title="添付書類")
    package.sign_configuration(TENPU, signer, target=FORM)  # the 添付書類署名 file signs the 申請書
    package.sign_configuration(SHINSEI, signer)
    assert _refused(egov, package.to_zip()) == [
        (TENPU, "署名対象ファイル名称",
         f"構成情報ファイル({TENPU})の署名対象ファイル({FORM})は構成管理XMLに設定された添付書類ではありません")]


def test_signed_configuration_cannot_be_retargeted(egov: EgovClient, signer):
    package = _built_from_skeleton(egov, signer)
    with pytest.raises(Exception, match="署名済み"):
        package.sign_configuration(TENPU, signer, target=FORM)
    entries = _entries(package)
    root = parse_xml(entries[f"{PROC}/{TENPU}"])
    root.find("構成情報/署名対象ファイル名称").text = FORM  # retargeted by hand after signing
    from egov_format.safexml import serialize_xml

    entries[f"{PROC}/{TENPU}"] = serialize_xml(root)
    with pytest.raises(SignatureError):
        ApplicationPackage.from_zip(write_zip(entries)).verify_configurations()
    assert "改ざん" in _refused(egov, write_zip(entries))[0][2]
