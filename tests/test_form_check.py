"""e-Gov's form-check files ({form_id}check.xml): what GET /procedure ships, what /apply enforces,
and what the client's pre-check reports — and a package built from the skeleton by outside tools
(lxml/XPath, zipfile, xmlsec1) without any of our package code.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from egov_client import ApiError, EgovClient
from egov_client.errors import PackageError
from egov_format.formcheck import (
    MISSING_REQUIRED,
    NOT_FULL_WIDTH,
    NOT_NUMERIC,
    CheckRule,
    parse_check_file,
    write_check_file,
)
from egov_format.package import ApplicationPackage, Skeleton
from egov_format.zipsafe import read_zip
from egov_sim.catalogue.skeleton import check_file, form_check, skeleton_files
from egov_sim.store.models import Application
from egov_sim.world.demo import certificate_for
from egov_sim.world.packages import sample_package
from lxml import etree
from sqlalchemy import func, select

PROC = "950A010700005000"
FORM_ID = "950A01070000500001"
FORM_FILE = f"{FORM_ID}_01.xml"
FORM_NAME = "ＡＰＩテスト用手続（社会保険関係手続）（通）０００５＿０１"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _count(services) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _post(http, token: str, path: str, proc_id: str, zip_bytes: bytes):
    return http.post(f"/shinsei/v2{path}", headers={"Authorization": f"Bearer {token}"},
                     json={"proc_id": proc_id, "send_file": {"file_name": f"{proc_id}.zip",
                                                             "file_data": base64.b64encode(zip_bytes).decode()}})


# --- what the skeleton ships ------------------------------------------------------------------------------


def test_the_skeleton_ships_egov_check_files_named_in_file_info(egov: EgovClient, services) -> None:
    for proc in services.catalogue:
        skeleton = egov.get_procedure(proc.proc_id)
        names = {name.split("/", 1)[1] for name in read_zip(skeleton.file_data)}
        assert "999000000000000001check.xml" in names  # the 構成管理形式チェックファイル
        assert not any(name.endswith("_check.xml") for name in names)
        for info in skeleton.file_info:
            assert info.server_check_file_name == f"{info.form_id}check.xml"
            assert info.server_check_file_name in names
        parsed = Skeleton.from_zip(skeleton.file_data)
        for info in skeleton.file_info:
            rules = parsed.form_check(info.form_id)
            assert rules is not None and rules == parsed.form_check(info.apply_file_name)
            spec = proc.form(info.form_id)
            assert [r.name for r in rules.required] == [i.label for i in spec.required]


def test_check_file_structure_read_with_plain_xpath(services) -> None:
    proc = services.catalogue.procedures[PROC]
    doc = etree.fromstring(skeleton_files(services.catalogue, proc)[f"{FORM_ID}check.xml"])
    assert doc.tag == "checkItems" and doc.get("formId") == FORM_ID
    salary = doc.xpath("checkItem[errtag='/DataRoot/資格取得届/被保険者/報酬月額/合計']")[0]
    assert salary.findtext("errname") == "報酬月額（合計）"
    assert salary.findtext("omitDisabled") == "true" and salary.findtext("numerical") == "true"
    assert salary.findtext("intDigit/number") == "9"
    name = doc.xpath("checkItem[errtag='/DataRoot/資格取得届/被保険者/氏名/氏']")[0]
    assert name.findtext("fullAllChar") == "true" and name.findtext("char/range/number") == "12"
    assert name.find("char/range/equal") is None
    number = doc.xpath("checkItem[errtag='/DataRoot/資格取得届/被保険者/個人番号']")[0]
    assert number.find("omitDisabled") is None and number.findtext("char/range/equal") == "true"
    # every errtag is an XPath that finds its element in the form the skeleton ships
    form = etree.fromstring(skeleton_files(services.catalogue, proc)[FORM_FILE])
    assert all(len(form.xpath(tag)) == 1 for tag in doc.xpath("checkItem/errtag/text()"))


def test_the_server_enforces_the_bytes_the_skeleton_ships(services) -> None:
    proc = services.catalogue.procedures[PROC]
    shipped = skeleton_files(services.catalogue, proc)[f"{FORM_ID}check.xml"]
    assert shipped == check_file(proc.forms[0])
    assert form_check(proc.forms[0]) == parse_check_file(shipped, file_name=f"{FORM_ID}check.xml")


# --- the format -------------------------------------------------------------------------------------------


def test_check_file_round_trip() -> None:
    rules = (CheckRule("/DataRoot/D/a", "A", required=True, full_width=True, max_length=5),
             CheckRule("/DataRoot/D/b", "B", numeric=True, length=7),
             CheckRule("/DataRoot/D/c", "", numeric=True, int_digits=3))
    parsed = parse_check_file(write_check_file("X", rules))
    assert parsed.form_id == "X" and parsed.rules == rules and parsed.rules[2].name == "c"


def test_the_reader_is_lenient_about_what_e_gov_does_not_document() -> None:
    parsed = parse_check_file(b"""<?xml version="1.0" encoding="UTF-8"?>
<checkList><group>
  <checkItem><errtag>D/a[1]</errtag><omitDisabled/><numerical>false</numerical><note>x</note></checkItem>
  <checkItem><errtag>/DataRoot/D/b</errtag><char><equal/><range><number>3</number></range></char></checkItem>
</group></checkList>""")
    a, b = parsed.rules
    assert a.required and not a.numeric and a.name == "a"
    assert b.length == 3 and b.max_length is None
    form = etree.fromstring(b"<DataRoot><D><a/><b>1234</b></D></DataRoot>")
    assert [(p.item, p.content) for p in parsed.problems(form)] == [
        ("a", MISSING_REQUIRED), ("b", "3文字で入力してください。")]


@pytest.mark.parametrize("bad", [b"<checkItems><checkItem><numerical/></checkItem></checkItems>",
                                 b"<checkItems><checkItem><errtag>/DataRoot/a</errtag><char><range><number>x</number>"
                                 b"</range></char></checkItem></checkItems>",
                                 b"<!DOCTYPE x [<!ENTITY e 'x'>]><checkItems/>"])
def test_a_broken_check_file_is_a_package_error(bad: bytes) -> None:
    with pytest.raises(PackageError):
        parse_check_file(bad, file_name="Xcheck.xml")


@pytest.mark.parametrize(("rule", "value", "expected"), [
    (CheckRule("/a", numeric=True), "-12.5", []),
    (CheckRule("/a", numeric=True), "１２", [NOT_NUMERIC]),
    (CheckRule("/a", numeric=True, int_digits=3), "1234.5", ["整数部は3桁以内で入力してください。"]),
    (CheckRule("/a", numeric=True, int_digits=3), "123.456", []),
    (CheckRule("/a", full_width=True), "山田　太郎ヤマダ", []),
    (CheckRule("/a", full_width=True), "ﾔﾏﾀﾞ", [NOT_FULL_WIDTH]),
    (CheckRule("/a", max_length=3), "あいう", []),
    (CheckRule("/a", max_length=3), "あいうえ", ["3文字以内で入力してください。"]),
    (CheckRule("/a", required=True), "  ", [MISSING_REQUIRED]),
    (CheckRule("/a", numeric=True, length=2), "", []),  # not required: empty passes
])
def test_rule_semantics(rule: CheckRule, value: str, expected: list[str]) -> None:
    assert rule.problems(value) == expected


# --- 形式チェック at /apply, and the client's pre-check ------------------------------------------------------------


def _form_item(item: str, content: str) -> dict[str, str]:
    return {"form_name": FORM_NAME, "attached_file_name": "-", "file_name": FORM_FILE, "item": item,
            "content": content}


BROKEN = {  # rule -> (how to break it, the report item)
    "omitDisabled": (("被保険者/報酬月額/合計", ""), _form_item("報酬月額（合計）", MISSING_REQUIRED)),
    "numerical": (("被保険者/報酬月額/合計", "30万"), _form_item("報酬月額（合計）", NOT_NUMERIC)),
    "intDigit": (("被保険者/報酬月額/合計", "1234567890"),
                 _form_item("報酬月額（合計）", "整数部は9桁以内で入力してください。")),
    "fullAllChar": (("被保険者/氏名/氏", "Yamada"), _form_item("被保険者氏名（氏）", NOT_FULL_WIDTH)),
    "char/range": (("被保険者/氏名/名", "寿限無寿限無五劫の擦り切れ"),
                   _form_item("被保険者氏名（名）", "12文字以内で入力してください。")),
    "char/range/equal": (("被保険者/個人番号", "12345"), _form_item("個人番号", "12文字で入力してください。")),
    "numerical (not required)": (("被保険者/生年月日/月", "四"), _form_item("生年月日（月）", NOT_NUMERIC)),
}


@pytest.mark.parametrize("rule", list(BROKEN))
def test_each_broken_rule_is_reported_and_nothing_is_stored(rule: str, http, egov: EgovClient, services,
                                                           signer) -> None:
    (path, value), expected = BROKEN[rule]
    package = sample_package(services.catalogue, PROC, None)
    package.set_form_value(FORM_ID, path, value)
    package.sign(signer)
    resp = _post(http, egov.tokens.access_token, "/apply", PROC, package.to_zip())
    assert resp.status_code == 400
    assert resp.json()["report_list"] == [expected]
    assert _count(services) == 0
    checked = _post(http, egov.tokens.access_token, "/apply/check", PROC, package.to_zip())
    assert checked.status_code == 200 and checked.json()["results"]["report_list"] == [expected]
    # the client's pre-check says the same from the check file the skeleton put in the package
    assert [p.to_report() for p in package.check()] == [expected]
    assert _count(services) == 0


def test_kousei_items_are_checked_from_the_kousei_check_file(http, egov: EgovClient, services, signer) -> None:
    package = sample_package(services.catalogue, PROC, None)
    package.set_applicant(name="", postal_code="100-0013")
    package.sign(signer)
    resp = _post(http, egov.tokens.access_token, "/apply", PROC, package.to_zip())
    assert resp.status_code == 400
    kousei = {"form_name": "-", "attached_file_name": "-", "file_name": "kousei.xml"}
    expected = [{**kousei, "item": "申請者情報.氏名", "content": MISSING_REQUIRED},
                {**kousei, "item": "申請者情報.郵便番号", "content": NOT_NUMERIC},
                {**kousei, "item": "申請者情報.郵便番号", "content": "7文字で入力してください。"}]
    assert resp.json()["report_list"] == expected
    assert [p.to_report() for p in package.check()] == expected
    assert _count(services) == 0


def test_the_pre_check_agrees_with_the_server_on_a_package_breaking_many_rules(
        http, egov: EgovClient, services, signer) -> None:
    for proc in services.catalogue:
        if proc.signature_required is False:
            continue
        package = sample_package(services.catalogue, proc.proc_id, None)
        for form in proc.forms:
            for item in form.check_items:
                package.set_form_value(form.form_id, item.path, "ｘ" * 30 if item.numeric else "x" * 300)
        package.sign(signer)
        local = [p.to_report() for p in package.check()]
        assert local, proc.proc_id
        resp = _post(http, egov.tokens.access_token, "/apply/check", proc.proc_id, package.to_zip())
        assert resp.status_code == 200
        # the 個別署名形式's unsigned 構成情報 files are a signature matter, not a check-file one
        unsigned = {c.file_name for c in proc.configuration_files}
        server = [r for r in resp.json()["results"]["report_list"] if r["file_name"] not in unsigned]
        assert server == local, proc.proc_id
    assert _count(services) == 0


def test_every_catalogue_sample_passes_its_own_check_files(services) -> None:
    """Examples in the TOML must satisfy their rules (demo packages, load tests, new procedures)."""
    for proc in services.catalogue:
        package = sample_package(services.catalogue, proc.proc_id, None)
        assert package.missing_required() == [], proc.proc_id
        assert package.check() == [], proc.proc_id


def test_required_items_are_listed_and_filled_by_their_errtag(egov: EgovClient, services, signer) -> None:
    skeleton = Skeleton.from_zip(egov.get_procedure(PROC).file_data)
    package = ApplicationPackage.from_skeleton(skeleton)
    listed = package.required_items()
    assert [i.item for i in listed] == ["申請者情報.氏名", "被保険者氏名（氏）", "被保険者氏名（名）", "生年月日（年）",
                                        "資格取得年月日（年）", "報酬月額（合計）"]
    assert [i.item for i in package.missing_required()] == [i.item for i in listed]
    package.set_applicant(name="見本　花子")
    values = {"被保険者氏名（氏）": "見本", "被保険者氏名（名）": "花子", "生年月日（年）": "62",
              "資格取得年月日（年）": "7", "報酬月額（合計）": "280000"}
    for item in package.missing_required(skeleton):
        package.set_form_value(item.file_name, item.path, values[item.item])  # errtag as the path
    assert package.missing_required() == [] and package.check() == []
    assert package.form_value(FORM_ID, "被保険者/報酬月額/合計") == "280000"
    package.sign(signer)
    assert egov.submit(PROC, package.to_zip()).arrive_id


# --- proof without our package code: lxml/XPath + zipfile + xmlsec1 ------------------------------------------------


def _fill_from_check_file(doc: etree._Element, check_xml: bytes) -> None:
    """Fill every omitDisabled item of ``doc`` with a value its checkItem allows (plain XPath)."""
    for item in etree.fromstring(check_xml).xpath("//checkItem[omitDisabled]"):
        size = item.xpath("number(char/range/number)")
        if item.xpath("boolean(numerical)"):
            value = "1"
        elif item.xpath("boolean(fullAllChar)"):
            value = "試"
        else:
            value = "test"
        if item.xpath("boolean(char/range/equal)"):
            value = (value * int(size))[: int(size)]
        [element] = doc.xpath(item.findtext("errtag"))
        element.text = value


def _hand_made_package(skeleton_zip: bytes, proc_id: str) -> dict[str, bytes]:
    """The files of a package made from the skeleton with lxml only: kousei.xml and the forms."""
    with zipfile.ZipFile(io.BytesIO(skeleton_zip)) as z:
        files = {info.filename.split("/", 1)[1]: z.read(info) for info in z.infolist() if not info.is_dir()}
    kousei = etree.fromstring(files["kousei.xml"])
    _fill_from_check_file(kousei, files["999000000000000001check.xml"])
    out = {}
    for form in kousei.xpath("/DataRoot/構成情報/申請書属性情報"):
        form_id, name = form.findtext("申請書様式ID"), form.findtext("申請書ファイル名称")
        doc = etree.fromstring(files[name])
        _fill_from_check_file(doc, files[f"{form_id}check.xml"])
        out[name] = etree.tostring(doc.getroottree(), xml_declaration=True, encoding="UTF-8")
    out["kousei.xml"] = etree.tostring(kousei.getroottree(), xml_declaration=True, encoding="UTF-8")
    return out


def _zip(proc_id: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ["kousei.xml", *sorted(n for n in files if n != "kousei.xml")]:
            z.writestr(f"{proc_id}/{name}", files[name])
    return buf.getvalue()


def _xmlsec1_sign(files: dict[str, bytes], services, workdir: Path) -> bytes:
    """kousei.xml signed by xmlsec1 from a template: #構成情報 (C14N) and one Reference per form file."""
    p12, password, _ = certificate_for(services, "valid")
    key, cert, _chain = pkcs12.load_key_and_certificates(p12, password.encode())
    (workdir / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    (workdir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for name, data in files.items():
        (workdir / name).write_bytes(data)
    kousei = etree.fromstring(files["kousei.xml"])
    holder = etree.SubElement(kousei, "署名情報")
    sig = etree.SubElement(holder, f"{{{DS}}}Signature", nsmap={None: DS})
    info = etree.SubElement(sig, f"{{{DS}}}SignedInfo")
    etree.SubElement(info, f"{{{DS}}}CanonicalizationMethod", Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
    etree.SubElement(info, f"{{{DS}}}SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    forms = kousei.xpath("/DataRoot/構成情報/申請書属性情報/申請書ファイル名称/text()")
    for uri in ["#構成情報", *forms]:
        ref = etree.SubElement(info, f"{{{DS}}}Reference", URI=uri)
        if uri.startswith("#"):
            transform = etree.SubElement(etree.SubElement(ref, f"{{{DS}}}Transforms"), f"{{{DS}}}Transform")
            transform.set("Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        etree.SubElement(ref, f"{{{DS}}}DigestValue")
    etree.SubElement(sig, f"{{{DS}}}SignatureValue")
    etree.SubElement(etree.SubElement(sig, f"{{{DS}}}KeyInfo"), f"{{{DS}}}X509Data")
    (workdir / "template.xml").write_bytes(etree.tostring(kousei.getroottree(), xml_declaration=True, encoding="UTF-8"))
    subprocess.run(["xmlsec1", "--sign", "--privkey-pem", "key.pem,cert.pem", "--id-attr:ID", "構成情報",
                    "--output", "signed.xml", "template.xml"], cwd=workdir, check=True, capture_output=True)
    signed = (workdir / "signed.xml").read_bytes()
    verified = subprocess.run(["xmlsec1", "--verify", "--insecure", "--id-attr:ID", "構成情報", "--pubkey-cert-pem",
                               "cert.pem", "signed.xml"], cwd=workdir, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr  # xmlsec1 agrees with itself before we ask the simulator
    return signed


needs_xmlsec1 = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed")


@needs_xmlsec1
def test_a_package_from_the_skeleton_filled_by_xpath_and_signed_by_xmlsec1_is_accepted(
        http, egov: EgovClient, services, tmp_path: Path) -> None:
    files = _hand_made_package(egov.get_procedure(PROC).file_data, PROC)
    files["kousei.xml"] = _xmlsec1_sign(files, services, tmp_path)
    resp = _post(http, egov.tokens.access_token, "/apply", PROC, _zip(PROC, files))
    assert resp.status_code == 200, resp.json().get("report_list")
    assert _count(services) == 1


def test_the_check_file_part_of_a_hand_made_package_passes(http, egov: EgovClient, services) -> None:
    """Same hand-made package, unsigned: to /apply/check the only finding is the missing signature,
    and a procedure that needs no signature accepts it at /apply."""
    files = _hand_made_package(egov.get_procedure(PROC).file_data, PROC)
    checked = _post(http, egov.tokens.access_token, "/apply/check", PROC, _zip(PROC, files))
    assert checked.status_code == 200
    assert [r["content"] for r in checked.json()["results"]["report_list"]] == ["申請書に電子署名が付与されていません。"]
    proc = services.catalogue.procedures[PROC]
    services.catalogue.procedures[PROC] = dataclasses.replace(proc, signature_required=False)
    try:
        resp = _post(http, egov.tokens.access_token, "/apply", PROC, _zip(PROC, files))
    finally:
        services.catalogue.procedures[PROC] = proc
    assert resp.status_code == 200, resp.json()
    assert _count(services) == 1


def test_a_hand_made_package_missing_an_item_the_check_file_requires_is_refused(
        http, egov: EgovClient, services) -> None:
    files = _hand_made_package(egov.get_procedure(PROC).file_data, PROC)
    form = etree.fromstring(files[FORM_FILE])
    form.xpath("/DataRoot/資格取得届/被保険者/報酬月額/合計")[0].text = ""
    files[FORM_FILE] = etree.tostring(form.getroottree(), xml_declaration=True, encoding="UTF-8")
    resp = _post(http, egov.tokens.access_token, "/apply/check", PROC, _zip(PROC, files))
    assert _form_item("報酬月額（合計）", MISSING_REQUIRED) in resp.json()["results"]["report_list"]
    with pytest.raises(ApiError):
        egov.submit(PROC, _zip(PROC, files))
    assert _count(services) == 0


def test_the_element_index_finds_what_xpath_finds_for_every_rule_of_the_catalogue(services) -> None:
    """ElementIndex (one walk answering every errtag) against lxml's XPath engine, on the filled sample
    form of every procedure and on kousei.xml, for every rule of their check files, walked both ways."""
    from egov_format.formcheck import ElementIndex, _steps
    from egov_format.package import parse_package
    from egov_sim.catalogue.skeleton import kousei_check

    compared = 0
    for proc_id, proc in services.catalogue.procedures.items():
        parsed = parse_package(sample_package(services.catalogue, proc_id, None).to_zip(), max_file_bytes=10**8)
        pairs = [(kousei_check(), parsed.kousei)]
        for spec in proc.forms:
            entry = next((f for f in parsed.forms if f["form_id"] == spec.form_id), None)
            if entry and entry["file_name"] in parsed.form_roots:
                pairs.append((form_check(spec), parsed.form_roots[entry["file_name"]]))
        for check, root in pairs:
            for whole in (True, False):
                index = ElementIndex(root, whole=whole)
                for rule in check.rules:
                    steps = _steps(rule.path)
                    xpath = "/" + "/".join(steps) if rule.path.lstrip().startswith("/") else "./" + "/".join(steps)
                    assert index.find(rule.path) == root.xpath(xpath), (proc_id, rule.path, whole)
                    compared += 1
    assert compared > 200, compared
