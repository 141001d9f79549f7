"""Application packages end to end: skeleton → build → sign → zip → parse → verify."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from egov_client.errors import (
    AttachmentPolicyError,
    NonAsciiFileNameWarning,
    PackageError,
    PackageTooLargeError,
    PinError,
    SignatureError,
    UnsafeXmlError,
    XmlFormatError,
)
from egov_format import package as package_module
from egov_format.package import (
    ApplicationPackage,
    AttachmentPolicy,
    Skeleton,
    build_withdrawal_package,
    parse_package,
)
from egov_format.signing import DS_NS, load_pkcs12, load_pkcs12_file, verify_kousei
from egov_sim import certs
from lxml import etree

SAMPLES = Path(__file__).resolve().parents[1] / "simulator" / "egov_sim" / "data" / "samples"
PROC_ID = "900A010200001000"
FORM = "900A01020000100001_01.xml"
FORM_ID = "900A01020000100001"
PASSWORD = "p@ss-1234"


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def rezip(data: bytes, changes: dict[str, bytes | None]) -> bytes:
    files = unzip(data)
    for name, content in changes.items():
        if content is None:
            files.pop(name)
        else:
            files[name] = content
    return zip_of(files)


@pytest.fixture(scope="module")
def pki():
    now = datetime(2025, 1, 1)
    ca, ca_key = certs.make_ca(
        "テスト認証局",
        not_before=now - timedelta(days=10),
        not_after=now + timedelta(days=3650),
        organization="DemoMin1",
    )
    people = {}
    for cn in ("窓口 一郎", "連署 花子"):
        cert, key = certs.issue_certificate(
            ca,
            ca_key,
            subject_cn=cn,
            organization="株式会社テスト",
            not_before=now,
            not_after=now + timedelta(days=365),
        )
        people[cn] = certs.to_pkcs12(cert, key, [ca], PASSWORD, cn)
    return {"ca": ca, "p12": people}


@pytest.fixture(scope="module")
def signer(pki):
    return load_pkcs12(pki["p12"]["窓口 一郎"], PASSWORD)


@pytest.fixture(scope="module")
def cosigner(pki):
    return load_pkcs12(pki["p12"]["連署 花子"], PASSWORD)


@pytest.fixture
def skeleton_zip() -> bytes:
    return zip_of(
        {
            f"{PROC_ID}/kousei.xml": (SAMPLES / f"{PROC_ID}_base_kousei.xml").read_bytes(),
            f"{PROC_ID}/{FORM}": (SAMPLES / FORM).read_bytes(),
            f"{PROC_ID}/{FORM_ID}.xsl": b'<?xml version="1.0"?><xsl:stylesheet version="1.0" '
            b'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>',
        }
    )


@pytest.fixture
def pkg(skeleton_zip) -> ApplicationPackage:
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton_zip))
    package.remove_attachment("tenpu.txt")  # the sample lists a placeholder attachment
    return package


def filled(package: ApplicationPackage) -> ApplicationPackage:
    package.set_apply_type("新規申請")
    package.set_applicant(
        name="申請 太郎",
        name_kana="シンセイ タロウ",
        postal_code="1000013",
        address="東京都千代田区霞が関",
        phone="03-1234-5678",
        email="taro@example.jp",
    )
    package.set_contact(name="連絡 次郎", email="jiro@example.jp")
    package.set_destination("900API00000000001001001", "総務省,行政管理局,API")
    package.set_form_value(FORM_ID, "被保険者氏名", "試験　花子")
    package.set_form_value(FORM, "生年月日/年", "60")
    return package


# ---------------------------------------------------------------------------- skeleton


def test_skeleton_from_zip_keeps_all_files(skeleton_zip):
    skeleton = Skeleton.from_zip(skeleton_zip)
    assert skeleton.proc_id == PROC_ID
    assert skeleton.form_files == [FORM]
    assert set(skeleton.files) == {"kousei.xml", FORM, f"{FORM_ID}.xsl"}
    assert skeleton.kousei.findtext("構成情報/管理情報/手続番号/手続ID") == PROC_ID


def test_skeleton_without_wrapper_folder_takes_proc_id_from_kousei():
    data = zip_of(
        {
            "kousei.xml": (SAMPLES / f"{PROC_ID}_base_kousei.xml").read_bytes(),
            FORM: (SAMPLES / FORM).read_bytes(),
        }
    )
    assert Skeleton.from_zip(data).proc_id == PROC_ID


# ---------------------------------------------------------------------------- building


def test_builder_sets_kousei_fields(pkg):
    filled(pkg)
    kanri = pkg.kousei.find("構成情報/管理情報")
    assert kanri.findtext("申請種別") == "新規申請"
    assert kanri.findtext("初回受付番号") == ""
    person = kanri.find("申請者連絡先情報/申請者情報")
    assert person.findtext("氏名") == "申請 太郎"
    assert person.findtext("電子メールアドレス") == "taro@example.jp"
    assert person.findtext("役職") == ""  # untouched field kept
    assert kanri.findtext("申請者連絡先情報/連絡先情報/氏名") == "連絡 次郎"
    assert pkg.kousei.findtext("構成情報/提出先情報/提出先識別子") == "900API00000000001001001"


def test_apply_type_resubmission_needs_first_arrive_id(pkg):
    with pytest.raises(ValueError):
        pkg.set_apply_type("再提出")
    pkg.set_apply_type("再提出", "9002025000000001")
    assert pkg.kousei.findtext("構成情報/管理情報/初回受付番号") == "9002025000000001"


def test_unknown_person_field_is_refused(pkg):
    with pytest.raises(TypeError):
        pkg.set_applicant(nmae="typo")


def test_form_values_by_path_search_and_anchor(pkg):
    pkg.set_form_value(FORM_ID, "被保険者氏名", "試験　花子")
    pkg.set_form_value(FORM_ID, "資格取得年月日/年", "30")
    pkg.set_form_value(FORM_ID, "契約期間終了/月", "9")  # not anchored: found below 契約期間の定めの有無
    pkg.set_form_value(FORM_ID, "年", "61")  # first 年 in document order: 生年月日/年
    pkg.set_form_value(FORM_ID, "/様式コピー情報", "1")
    values = pkg.form_values(FORM_ID)
    assert values["被保険者氏名"] == "試験　花子"
    assert values["資格取得年月日/年"] == "30"
    assert values["生年月日/年"] == "61"
    assert values["契約期間の定めの有無/契約期間の定め有/契約期間終了/月"] == "9"
    assert pkg.form_values(FORM, "事業主/氏名", "/様式コピー情報") == {
        "事業主/氏名": "テストオーナー",
        "/様式コピー情報": "1",
    }
    form = etree.fromstring(pkg.file_bytes(FORM))
    assert form.findtext("G00005-A-250045-001_1/生年月日/年") == "61"
    assert form.findtext("G00005-A-250045-001_1/資格取得年月日/年") == "30"


def test_form_edit_keeps_stylesheet_pi_and_crlf(pkg):
    pkg.set_form_value(FORM_ID, "被保険者氏名", "試験　花子")
    data = pkg.file_bytes(FORM)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<?xml-stylesheet')
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_form_value_errors(pkg):
    with pytest.raises(PackageError, match="項目"):
        pkg.set_form_value(FORM_ID, "存在しない項目", "x")
    with pytest.raises(PackageError, match="値を設定できません"):
        pkg.set_form_value(FORM_ID, "生年月日", "x")
    with pytest.raises(PackageError, match="申請書"):
        pkg.set_form_value("999999999999999999", "被保険者氏名", "x")


def test_add_attachment_inserts_entry_before_fees(pkg, tmp_path):
    path = tmp_path / "kakunin.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    assert pkg.add_attachment(path, title="確認書類") == "kakunin.pdf"
    pkg.add_attachment("scan.JPG", b"\xff\xd8\xff", title="写し", kind="添付")
    info = pkg.kousei.find("構成情報")
    tags = [child.tag for child in info if isinstance(child.tag, str)]
    assert tags.index("添付書類属性情報") == tags.index("管理情報") + 1
    assert tags[tags.index("管理情報") + 1 : tags.index("手数料情報")] == ["添付書類属性情報"] * 2
    assert pkg.attachments == [
        {"kind": "添付", "name": "確認書類", "file_name": "kakunin.pdf", "submission": "1"},
        {"kind": "添付", "name": "写し", "file_name": "scan.JPG", "submission": "1"},
    ]
    assert pkg.file_bytes("kakunin.pdf") == b"%PDF-1.4 test"


def test_japanese_attachment_name_warns_but_is_added(pkg):
    with pytest.warns(NonAsciiFileNameWarning, match="漢字"):
        pkg.add_attachment("雇用契約書.pdf", b"%PDF", title="雇用契約書")
    assert pkg.file_bytes("雇用契約書.pdf") == b"%PDF"


def test_attachment_policy(pkg):
    pkg.add_attachment("old.doc", b"doc", title="Word")  # the real sandbox accepted .doc
    with pytest.raises(AttachmentPolicyError) as exc:
        pkg.add_attachment("photo.png", b"png", title="写真", policy=AttachmentPolicy.strict())
    assert exc.value.attached_file_name == "photo.png"
    with pytest.raises(AttachmentPolicyError):
        pkg.add_attachment("tool.exe", b"MZ", title="実行ファイル")
    with pytest.raises(AttachmentPolicyError):
        pkg.add_attachment("pdf", b"x", title="拡張子なし")
    assert [a["file_name"] for a in pkg.attachments] == ["old.doc"]
    assert "photo.png" not in pkg.files


def test_attachment_over_50mb_is_refused_before_reading(pkg, tmp_path):
    big = tmp_path / "huge.pdf"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024 + 1)  # sparse: costs no disk and is never read
    with pytest.raises(PackageTooLargeError) as exc:
        pkg.add_attachment(big, title="大きい")
    assert exc.value.limit == 50 * 1024 * 1024
    assert pkg.attachments == []
    big.write_bytes(b"0" * 10)
    pkg.add_attachment(big, title="小さい")  # exactly the same path, now small


def test_attachment_limit_follows_module_limit(pkg, monkeypatch):
    monkeypatch.setattr(package_module, "MAX_FILE_BYTES", 8)
    with pytest.raises(PackageTooLargeError):
        pkg.add_attachment("a.pdf", b"123456789", title="9 bytes")
    pkg.add_attachment("b.pdf", b"12345678", title="8 bytes")


def test_duplicate_attachment_name_refused(pkg):
    pkg.add_attachment("a.pdf", b"1", title="one")
    with pytest.raises(PackageError, match="同じ名前"):
        pkg.add_attachment("a.pdf", b"2", title="two")
    with pytest.raises(PackageError, match="同じ名前"):
        pkg.add_attachment(FORM, b"<x/>", title="form clash")


def test_missing_attachment_file_blocks_to_zip(skeleton_zip):
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton_zip))
    with pytest.raises(PackageError, match=r"添付書類ファイル\(tenpu.txt\)が存在しません"):
        package.to_zip()
    assert package.to_zip(validate=False)  # deliberately broken packages stay possible


# ---------------------------------------------------------------------------- round trip


def test_round_trip_sign_zip_parse_verify(pkg, signer):
    filled(pkg)
    pkg.add_attachment("kakunin.pdf", b"%PDF-1.4", title="確認書類")
    with pytest.warns(NonAsciiFileNameWarning):
        pkg.add_attachment("写し.jpg", b"\xff\xd8", title="写し")
    pkg.sign(signer)
    data = pkg.to_zip()

    names = [info.filename for info in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    assert names[:2] == [f"{PROC_ID}/kousei.xml", f"{PROC_ID}/{FORM}"]
    assert all(name.startswith(f"{PROC_ID}/") for name in names)

    parsed = parse_package(data)
    assert parsed.folder == parsed.proc_id == PROC_ID
    assert parsed.agency_id == "100900"
    assert parsed.proc_name.startswith("ＡＰＩテスト用手続")
    assert parsed.apply_type == "新規申請"
    assert parsed.first_arrive_id == ""
    assert parsed.applicant["氏名"] == "申請 太郎"
    assert parsed.applicant["郵便番号"] == "1000013"
    assert parsed.contact["氏名"] == "連絡 次郎"
    assert parsed.destination == {
        "提出先識別子": "900API00000000001001001",
        "提出先名称": "総務省,行政管理局,API",
    }
    assert parsed.forms == [
        {
            "form_id": FORM_ID,
            "version": "0003",
            "file_name": FORM,
            "name": "ＡＰＩテスト用手続（労働保険関係手続）（通）０００１＿０１",
        }
    ]
    assert [a["file_name"] for a in parsed.attachments] == ["kakunin.pdf", "写し.jpg"]
    assert parsed.files["写し.jpg"] == b"\xff\xd8"
    assert parsed.form_roots[FORM].findtext("G00005-A-250045-001_1/被保険者氏名") == "試験　花子"

    [info] = parsed.verify_signatures(required=True)
    assert info.subject == "C=JP, O=株式会社テスト, CN=窓口 一郎"
    assert info.issuer == "C=JP, O=DemoMin1, CN=テスト認証局"
    assert info.serial_hex == format(signer.certificate.serial_number, "x")
    assert info.referenced_files == [FORM]
    assert info.not_before == datetime(2025, 1, 1) and info.not_before.tzinfo is None
    # the client-side view agrees
    assert [i.subject for i in ApplicationPackage.from_zip(data).verify()] == [info.subject]


def test_tampered_form_after_signing_fails(pkg, signer):
    data = filled(pkg).sign(signer).to_zip()
    form = unzip(data)[f"{PROC_ID}/{FORM}"].replace("試験　花子".encode(), "改ざん　者".encode())
    parsed = parse_package(rezip(data, {f"{PROC_ID}/{FORM}": form}))
    with pytest.raises(SignatureError, match="改ざん") as exc:
        parsed.verify_signatures()
    assert exc.value.file_name == FORM
    assert FORM in exc.value.message


def test_tampered_kousei_fails(pkg, signer):
    data = filled(pkg).sign(signer).to_zip()
    kousei = unzip(data)[f"{PROC_ID}/kousei.xml"].replace("申請 太郎".encode(), "別人 三郎".encode())
    parsed = parse_package(rezip(data, {f"{PROC_ID}/kousei.xml": kousei}))
    with pytest.raises(SignatureError, match="構成情報") as exc:
        parsed.verify_signatures()
    assert exc.value.file_name == "kousei.xml"


def test_reformatted_kousei_outside_signed_part_still_verifies(pkg, signer):
    data = filled(pkg).sign(signer).to_zip()
    kousei = unzip(data)[f"{PROC_ID}/kousei.xml"].replace(b"<STYLESHEET>", b"<!-- c --><STYLESHEET>")
    parsed = parse_package(rezip(data, {f"{PROC_ID}/kousei.xml": kousei}))
    assert len(parsed.verify_signatures()) == 1


def test_co_signers_are_all_verified(pkg, signer, cosigner):
    data = filled(pkg).sign(signer).sign(cosigner).to_zip()
    parsed = parse_package(data)
    infos = parsed.verify_signatures()
    assert [i.subject for i in infos] == [
        "C=JP, O=株式会社テスト, CN=窓口 一郎",
        "C=JP, O=株式会社テスト, CN=連署 花子",
    ]
    assert len(parsed.kousei.findall(f"署名情報/{{{DS_NS}}}Signature")) == 2


def test_mutation_after_signing_raises_until_signatures_dropped(pkg, signer):
    filled(pkg).sign(signer)
    for mutate in (
        lambda: pkg.set_form_value(FORM_ID, "被保険者氏名", "x"),
        lambda: pkg.set_applicant(name="x"),
        lambda: pkg.add_attachment("a.pdf", b"1", title="t"),
        lambda: pkg.set_apply_type("新規申請"),
        lambda: pkg.set_destination("a", "b"),
    ):
        with pytest.raises(PackageError, match="署名済み"):
            mutate()
    pkg.drop_signatures()
    assert not pkg.is_signed and pkg.kousei.find("署名情報") is None
    pkg.set_form_value(FORM_ID, "被保険者氏名", "再署名　花子")
    pkg.sign(signer)
    assert len(parse_package(pkg.to_zip()).verify_signatures()) == 1


def test_unsigned_package(pkg):
    parsed = parse_package(filled(pkg).to_zip())
    assert parsed.verify_signatures() == []
    with pytest.raises(SignatureError, match="署名情報が存在しません"):
        parsed.verify_signatures(required=True)


def test_signed_form_missing_from_files_fails(pkg, signer):
    filled(pkg).sign(signer)
    files = dict(pkg.files)
    del files[FORM]
    with pytest.raises(SignatureError, match="存在しません"):
        verify_kousei(pkg.kousei, files)


# ---------------------------------------------------------------------------- PKCS#12


def test_wrong_pkcs12_password_is_pin_error(pki):
    with pytest.raises(PinError, match="PIN が不正です") as exc:
        load_pkcs12(pki["p12"]["窓口 一郎"], "wrong")
    assert exc.value.detail  # English hint


def test_pkcs12_file_and_legacy_encryption(pki, tmp_path, signer):
    legacy = certs.to_pkcs12(
        signer.certificate, signer.private_key, [pki["ca"]], "pin", "legacy", legacy=True
    )
    path = tmp_path / "legacy.p12"
    path.write_bytes(legacy)
    loaded = load_pkcs12_file(path, b"pin")
    assert loaded.certificate == signer.certificate
    assert loaded.chain == [pki["ca"]]


def test_garbage_is_not_a_pin_error():
    with pytest.raises(PackageError) as exc:
        load_pkcs12(b"not a certificate", "x")
    assert not isinstance(exc.value, PinError)


def test_pkcs12_without_key_is_refused(pki, signer):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    certs_only = pkcs12.serialize_key_and_certificates(
        b"x", None, signer.certificate, None, BestAvailableEncryption(b"pw")
    )
    with pytest.raises(PackageError, match="秘密鍵"):
        load_pkcs12(certs_only, "pw")


# ---------------------------------------------------------------------------- withdrawal


def test_withdrawal_package_round_trip(signer):
    package = build_withdrawal_package(
        target_arrive_id="900202500000123",
        proc_name="ＡＰＩテスト用手続（労働保険関係手続）",
        applicant_name="申請 太郎",
        reason="誤って提出したため",
        request_date=date(2025, 4, 3),
        applicant={"address": "東京都千代田区", "email": "taro@example.jp"},
    )
    assert package.proc_id == "9990000000000003"
    parsed = parse_package(package.sign(signer).to_zip())
    assert parsed.folder == parsed.proc_id == "9990000000000003"
    assert parsed.apply_type == "取下げ依頼"
    assert parsed.first_arrive_id == "900202500000123"
    assert parsed.proc_name == "ＡＰＩテスト用手続（労働保険関係手続）"
    assert parsed.applicant["氏名"] == "申請 太郎" and parsed.applicant["住所"] == "東京都千代田区"
    assert parsed.contact["氏名"] == "申請 太郎"
    assert [f["file_name"] for f in parsed.forms] == ["torisageirai.xml"]
    info = parsed.form_roots["torisageirai.xml"].find("取下げ依頼情報")
    assert info.findtext("到達番号") == "900202500000123"
    assert info.findtext("申請者氏名") == "申請 太郎"
    assert [info.findtext(f"依頼年月日/{p}") for p in ("年", "月", "日")] == ["2025", "4", "3"]
    assert info.findtext("理由") == "誤って提出したため"
    assert parsed.verify_signatures()[0].referenced_files == ["torisageirai.xml"]


def test_withdrawal_templates_are_shipped_with_the_client():
    data_dir = Path(package_module.__file__).parent / "data"
    for name in ("9990000000000003_base_kousei.xml", "torisageirai.xml"):
        assert (data_dir / name).read_bytes() == (SAMPLES / name).read_bytes()


# ---------------------------------------------------------------------------- parse_package refusals


def test_files_at_root_are_refused(skeleton_zip):
    files = {name.split("/", 1)[1]: data for name, data in unzip(skeleton_zip).items()}
    with pytest.raises(PackageError, match="フォルダ構成に誤りがあります"):
        parse_package(zip_of(files))


def test_two_root_folders_are_refused(skeleton_zip):
    with pytest.raises(PackageError, match="フォルダ構成に誤りがあります"):
        parse_package(rezip(skeleton_zip, {"other/readme.txt": b"x"}))


def test_missing_kousei_is_refused(skeleton_zip):
    with pytest.raises(PackageError, match="構成管理XMLファイルが存在しません") as exc:
        parse_package(rezip(skeleton_zip, {f"{PROC_ID}/kousei.xml": None}))
    assert exc.value.to_report() == {
        "form_name": "-",
        "attached_file_name": "-",
        "file_name": "kousei.xml",
        "item": "-",
        "content": "構成管理XMLファイルが存在しません",
    }


def test_missing_form_file_is_named(skeleton_zip):
    with pytest.raises(PackageError, match=FORM) as exc:
        parse_package(rezip(skeleton_zip, {f"{PROC_ID}/{FORM}": None}))
    assert exc.value.file_name == FORM
    assert exc.value.form_name.startswith("ＡＰＩテスト用手続")


def test_kousei_with_entities_is_refused(skeleton_zip):
    evil = (
        '<?xml version="1.0"?><!DOCTYPE DataRoot [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<DataRoot><構成情報 ID="構成情報"><管理情報/></構成情報>&x;</DataRoot>'
    ).encode()
    with pytest.raises(UnsafeXmlError) as exc:
        parse_package(rezip(skeleton_zip, {f"{PROC_ID}/kousei.xml": evil}))
    assert exc.value.file_name == "kousei.xml"


def test_malformed_form_is_a_format_error(skeleton_zip):
    with pytest.raises(XmlFormatError, match="形式に誤りがあります") as exc:
        parse_package(rezip(skeleton_zip, {f"{PROC_ID}/{FORM}": b"<DataRoot><unclosed></DataRoot>"}))
    assert exc.value.file_name == FORM


def test_kousei_without_kanri_is_refused(skeleton_zip):
    with pytest.raises(PackageError, match="構成管理XMLファイルの形式に誤りがあります"):
        parse_package(rezip(skeleton_zip, {f"{PROC_ID}/kousei.xml": b"<DataRoot><other/></DataRoot>"}))


def test_oversize_file_in_package_is_too_large(pkg):
    data = filled(pkg).to_zip()
    with pytest.raises(PackageTooLargeError) as exc:
        parse_package(data, max_file_bytes=1000)
    assert exc.value.limit == 1000
