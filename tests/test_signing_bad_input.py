"""Bad signatures sent to the simulator: POST /apply answers 400 with report_list in e-Gov's wording,
POST /apply/check reports the same items, and nothing is stored."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from egov_client import ApiError, EgovClient
from egov_format.safexml import parse_xml, serialize_xml
from egov_format.signing import DS_NS, Signer, canonicalize
from egov_format.zipsafe import read_zip, write_zip
from egov_sim.world.packages import sample_package
from lxml import etree

PROC = "950A010700005000"


def ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


def _resign(root: etree._Element, signer: Signer) -> None:
    """A valid SignatureValue over the edited SignedInfo (the attacker holds a valid certificate)."""
    signature = root.find(f"署名情報/{ds('Signature')}")
    raw = signer.private_key.sign(canonicalize(signature.find(ds("SignedInfo"))), padding.PKCS1v15(), hashes.SHA256())
    signature.find(ds("SignatureValue")).text = base64.b64encode(raw).decode()


def _bad_signature_value(root, signer):
    value = root.find(f"署名情報/{ds('Signature')}/{ds('SignatureValue')}")
    raw = bytearray(base64.b64decode(value.text))
    raw[7] ^= 0x01
    value.text = base64.b64encode(bytes(raw)).decode()


def _tampered_after_signing(root, signer):
    root.find("構成情報/管理情報/申請者連絡先情報/申請者情報/氏名").text = "攻撃者"


def _unknown_signature_method(root, signer):
    root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('SignatureMethod')}").set(
        "Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")


def _unsupported_digest(root, signer):
    method = root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}/{ds('DigestMethod')}")
    method.set("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#md5")
    _resign(root, signer)


def _unsupported_transform(root, signer):
    transform = root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}//{ds('Transform')}")
    transform.set("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
    _resign(root, signer)


def _missing_file(root, signer):
    root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}[2]").set("URI", "nai.xml")
    _resign(root, signer)


def _duplicated_id(root, signer):
    etree.SubElement(root, "付加情報", ID="構成情報")


def _signature_inside_the_signed_element(root, signer):
    root.find("構成情報").append(root.find("署名情報"))


def _moved_signed_element(root, signer):
    """The signed 構成情報 moved away (its ID kept), a forged copy without ID where the server reads."""
    original = root.find("構成情報")
    forged = copy.deepcopy(original)
    del forged.attrib["ID"]
    forged.find("管理情報/申請者連絡先情報/申請者情報/氏名").text = "攻撃者"
    original.addprevious(forged)
    etree.SubElement(root, "付加情報").append(original)


CASES: dict[str, tuple[Callable, str]] = {
    "signature-value": (_bad_signature_value, "署名の検証に失敗しました。署名情報が改ざんされている可能性があります。"),
    "tampered": (_tampered_after_signing,
                 "署名の検証に失敗しました。構成管理XMLファイル(kousei.xml)の構成情報が改ざんされている可能性があります。"),
    "signature-method": (_unknown_signature_method, "署名の方式はサポートされていません"),
    "digest-method": (_unsupported_digest, "署名の方式はサポートされていません"),
    "transform": (_unsupported_transform, "署名の方式はサポートされていません"),
    "missing-file": (_missing_file, "署名対象のファイル(nai.xml)が存在しません"),
    "duplicated-id": (_duplicated_id, "署名対象(ID=構成情報)が重複しています"),
    "enveloped": (_signature_inside_the_signed_element, "署名の方式はサポートされていません"),
    "moved": (_moved_signed_element, "署名の検証に失敗しました。構成情報が署名されていません。"),
}


def _package_zip(services, signer, edit) -> bytes:
    entries = read_zip(sample_package(services.catalogue, PROC, signer).to_zip())
    root = parse_xml(entries[f"{PROC}/kousei.xml"])
    edit(root, signer)
    entries[f"{PROC}/kousei.xml"] = serialize_xml(root)
    return write_zip(entries)


def _nothing_stored(egov: EgovClient, services) -> None:
    today = services.clock.now().date()
    assert egov.list_applications(date_from=today, date_to=today).applications == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_signature_is_refused_with_a_report(egov: EgovClient, services, signer, case):
    edit, message = CASES[case]
    package_zip = _package_zip(services, signer, edit)
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, package_zip)
    assert err.value.status == 400
    assert err.value.report_list == [{"content": message, "form_name": "-", "attached_file_name": "-",
                                      "file_name": "kousei.xml", "item": "署名情報"}]
    checked = egov.check(PROC, package_zip)
    assert not checked.ok and [r.content for r in checked.report_list] == [message]
    _nothing_stored(egov, services)


def test_second_kousei_info_is_refused_before_anything_is_read(egov: EgovClient, services, signer):
    def edit(root, signer):
        extra = etree.Element("構成情報")
        etree.SubElement(etree.SubElement(extra, "申請書属性情報"), "申請書ファイル名称").text = "evil.xml"
        root.find("構成情報").addnext(extra)

    package_zip = _package_zip(services, signer, edit)
    with pytest.raises(ApiError) as err:
        egov.submit(PROC, package_zip)
    assert err.value.status == 400
    assert [(r["file_name"], r["item"], r["content"]) for r in err.value.report_list] == [
        ("kousei.xml", "構成情報", "構成管理XMLファイルの形式に誤りがあります")
    ]
    _nothing_stored(egov, services)
