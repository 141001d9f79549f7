"""XMLDSig as e-Gov uses it: structure, interoperability and the attacks verification must stop."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from egov_client.errors import PackageError, SignatureError
from egov_format.safexml import parse_xml, serialize_xml
from egov_format.signing import DS_NS, Signer, sign_kousei, verify_kousei
from egov_sim import certs
from lxml import etree

DATA = Path(__file__).resolve().parents[1] / "simulator" / "egov_sim" / "data"
SAMPLES = DATA / "samples"
FORM = "900A01020000100001_01.xml"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def hand_c14n(fragment: bytes) -> bytes:
    """Canonical XML of a serialized fragment without namespaces, attributes (but plain ones),
    comments, PIs or entity references: only empty-element tags change."""
    return re.sub(rb"<([^<>/\s]+)/>", rb"<\1></\1>", fragment.replace(b"\r\n", b"\n"))


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


@pytest.fixture(scope="module")
def ca():
    return certs.make_ca("署名テストCA", not_before=datetime(2024, 1, 1), not_after=datetime(2034, 1, 1))


def make_signer(ca, cn: str) -> Signer:
    cert, key = certs.issue_certificate(
        ca[0],
        ca[1],
        subject_cn=cn,
        organization="テスト商事",
        not_before=datetime(2024, 10, 18),
        not_after=datetime(2029, 10, 17),
        serial=0x1A2B3C,
    )
    return Signer(key, cert, [ca[0]])


@pytest.fixture(scope="module")
def signer(ca) -> Signer:
    return make_signer(ca, "署名 一郎")


@pytest.fixture(scope="module")
def other(ca) -> Signer:
    return make_signer(ca, "別人 二郎")


@pytest.fixture
def files() -> dict[str, bytes]:
    return {FORM: (SAMPLES / FORM).read_bytes()}


@pytest.fixture
def kousei() -> etree._Element:
    return parse_xml((SAMPLES / "900A010200001000_base_kousei.xml").read_bytes())


def reparse(root: etree._Element) -> etree._Element:
    return parse_xml(serialize_xml(root))


def test_signature_structure(kousei, files, signer):
    signature = sign_kousei(kousei, files, signer)
    children = [child.tag for child in kousei if isinstance(child.tag, str)]
    assert children[-2:] == ["構成情報", "署名情報"]
    assert signature.getparent().tag == "署名情報"
    assert signature.prefix is None and signature.nsmap == {None: DS_NS}
    assert b"ds:" not in etree.tostring(signature) and b'<Signature xmlns="' in etree.tostring(signature)
    signed_info = signature.find(ds("SignedInfo"))
    assert signed_info.find(ds("CanonicalizationMethod")).get("Algorithm") == C14N
    assert (
        signed_info.find(ds("SignatureMethod")).get("Algorithm")
        == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    refs = signed_info.findall(ds("Reference"))
    assert [r.get("URI") for r in refs] == ["#構成情報", FORM]
    assert [t.get("Algorithm") for t in refs[0].iter(ds("Transform"))] == [C14N]
    assert refs[1].find(ds("Transforms")) is None
    assert {r.find(ds("DigestMethod")).get("Algorithm") for r in refs} == {
        "http://www.w3.org/2001/04/xmlenc#sha256"
    }
    # digests computed independently here: the canonical form of 構成情報 written by hand from the
    # serialized bytes (this document has no namespaces, no attributes but ID, no comments: C14N only
    # turns LF line ends as they are and expands empty elements), not through any C14N implementation
    document = serialize_xml(kousei)
    start, end = document.index("<構成情報 ".encode()), document.index("</構成情報>".encode())
    info_c14n = hand_c14n(document[start : end + len("</構成情報>".encode())])
    assert refs[0].findtext(ds("DigestValue")) == b64sha256(info_c14n)
    assert refs[1].findtext(ds("DigestValue")) == b64sha256(files[FORM])
    der = base64.b64decode(signature.findtext(f"{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}"))
    assert x509.load_der_x509_certificate(der) == signer.certificate
    # SignatureValue: RSA PKCS#1 v1.5 SHA-256 over the canonical SignedInfo, written out by hand: the
    # default namespace declared on Signature is rendered on SignedInfo and nowhere below it
    si_c14n = (
        f'<SignedInfo xmlns="{DS_NS}">'
        f'<CanonicalizationMethod Algorithm="{C14N}"></CanonicalizationMethod>'
        f'<SignatureMethod Algorithm="{RSA_SHA256}"></SignatureMethod>'
        f'<Reference URI="#構成情報"><Transforms><Transform Algorithm="{C14N}"></Transform></Transforms>'
        f'<DigestMethod Algorithm="{SHA256}"></DigestMethod><DigestValue>{b64sha256(info_c14n)}</DigestValue>'
        f"</Reference>"
        f'<Reference URI="{FORM}"><DigestMethod Algorithm="{SHA256}"></DigestMethod>'
        f"<DigestValue>{b64sha256(files[FORM])}</DigestValue></Reference>"
        f"</SignedInfo>"
    ).encode()
    value = base64.b64decode(signature.findtext(ds("SignatureValue")))
    signer.certificate.public_key().verify(value, si_c14n, padding.PKCS1v15(), hashes.SHA256())


def test_round_trip_through_bytes(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    [info] = verify_kousei(reparse(kousei), files)
    assert info.subject == "C=JP, O=テスト商事, CN=署名 一郎"
    assert info.issuer == "C=JP, CN=署名テストCA"
    assert info.serial_hex == "1a2b3c"
    assert (info.not_before, info.not_after) == (datetime(2024, 10, 18), datetime(2029, 10, 17))
    assert info.referenced_files == [FORM]
    assert info.certificate == signer.certificate


def test_explicit_form_files_and_missing_form(kousei, files, signer):
    with pytest.raises(PackageError, match="存在しません"):
        sign_kousei(kousei, {}, signer)
    assert kousei.find("署名情報") is None  # nothing half-written
    sign_kousei(kousei, {**files, "extra.xml": b"<x/>"}, signer, form_files=[FORM, "extra.xml"])
    [info] = verify_kousei(reparse(kousei), {**files, "extra.xml": b"<x/>"})
    assert info.referenced_files == [FORM, "extra.xml"]


def test_form_left_out_of_the_signature_is_detected(kousei, files, signer):
    sign_kousei(kousei, files, signer, form_files=[])
    with pytest.raises(SignatureError, match="署名されていません") as exc:
        verify_kousei(reparse(kousei), files)
    assert exc.value.file_name == FORM


def test_tampered_signed_info_digest_fails_signature_value(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    tampered = {FORM: files[FORM].replace("えーぴーあい".encode(), "かいざん".encode())}
    root = reparse(kousei)
    digest = root.find(
        f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}[@URI='{FORM}']/{ds('DigestValue')}"
    )
    digest.text = base64.b64encode(hashlib.sha256(tampered[FORM]).digest()).decode()
    with pytest.raises(SignatureError, match="署名情報が改ざん"):
        verify_kousei(root, tampered)


def test_swapped_certificate_fails(kousei, files, signer, other):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    cert_el = root.find(
        f"署名情報/{ds('Signature')}/{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}"
    )
    cert_el.text = base64.b64encode(other.certificate.public_bytes(serialization.Encoding.DER)).decode()
    with pytest.raises(SignatureError):
        verify_kousei(root, files)


def test_duplicate_id_wrapping_attack_is_refused(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    decoy = copy.deepcopy(root.find("構成情報"))
    decoy.find("管理情報/申請者連絡先情報/申請者情報/氏名").text = "攻撃者"
    root.append(decoy)
    with pytest.raises(SignatureError, match="重複"):
        verify_kousei(root, files)


def test_one_bad_cosigner_fails_the_package(kousei, files, signer, other):
    sign_kousei(kousei, files, signer)
    sign_kousei(kousei, files, other)
    root = reparse(kousei)
    assert [i.subject.rsplit("CN=", 1)[1] for i in verify_kousei(root, files)] == ["署名 一郎", "別人 二郎"]
    second = root.findall(f"署名情報/{ds('Signature')}")[1]
    value = second.find(ds("SignatureValue"))
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0xFF
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureError):
        verify_kousei(root, files)


def test_unsigned_and_malformed_holders(kousei, files):
    assert verify_kousei(kousei, files) == []
    with pytest.raises(SignatureError, match="署名情報が存在しません"):
        verify_kousei(kousei, files, required=True)
    holder = etree.SubElement(kousei, "署名情報")
    assert verify_kousei(kousei, files) == []
    etree.SubElement(holder, "Signature")  # no namespace, as in kousei-template.xml
    with pytest.raises(SignatureError, match="形式"):
        verify_kousei(kousei, files)


def test_unknown_algorithm_is_refused(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    method = root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('SignatureMethod')}")
    method.set("Algorithm", "http://www.w3.org/2000/09/xmldsig#hmac-sha1")
    with pytest.raises(SignatureError, match="サポートされていません"):
        verify_kousei(root, files)


def foreign_signature(kousei: etree._Element, files: dict[str, bytes], signer: Signer, prefix: str = "") -> bytes:
    """A signature as another tool might write it — RSA-SHA1/SHA-1, percent-encoded URIs, wrapped
    base64, indentation, the chain before the signer's certificate, a default-namespace (``prefix=""``)
    or ``ds:`` Signature — written as text here, with every canonical form spelled out by hand:
    nothing goes through a C14N implementation."""

    def b64(data: bytes) -> str:
        return "\n" + "\n".join(textwrap.wrap(base64.b64encode(data).decode(), 64)) + "\n"

    def sha1(data: bytes) -> str:
        return base64.b64encode(hashlib.sha1(data).digest()).decode()

    document = serialize_xml(kousei)
    start, end = document.index("<構成情報 ".encode()), document.index("</構成情報>".encode())
    info_c14n = hand_c14n(document[start : end + len("</構成情報>".encode())])
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns{":" + prefix if prefix else ""}="{DS_NS}"'

    def signed_info(canonical: bool) -> str:
        # canonical: empty elements expanded, the namespace declaration on SignedInfo itself
        def empty(tag: str, algorithm: str) -> str:
            return f'<{p}{tag} Algorithm="{algorithm}"></{p}{tag}>' if canonical else f'<{p}{tag} Algorithm="{algorithm}"/>'

        gap = "\n    "  # whitespace text is part of the canonical form
        return (
            f"<{p}SignedInfo{' ' + xmlns if canonical else ''}>{gap}"
            f"{empty('CanonicalizationMethod', C14N)}{empty('SignatureMethod', DS_NS + 'rsa-sha1')}"
            f'<{p}Reference URI="#%E6%A7%8B%E6%88%90%E6%83%85%E5%A0%B1"><{p}Transforms>'
            f"{empty('Transform', C14N)}</{p}Transforms>{empty('DigestMethod', DS_NS + 'sha1')}"
            f"<{p}DigestValue>{sha1(info_c14n)}</{p}DigestValue></{p}Reference>"
            f'<{p}Reference URI="900A01020000100001%5F01.xml">{empty("DigestMethod", DS_NS + "sha1")}'
            f"<{p}DigestValue>{sha1(files[FORM])}</{p}DigestValue></{p}Reference>{gap}"
            f"</{p}SignedInfo>"
        )

    value = b64(signer.private_key.sign(signed_info(True).encode(), padding.PKCS1v15(), hashes.SHA1()))
    certificates = "".join(
        f"<{p}X509Certificate>{b64(cert.public_bytes(serialization.Encoding.DER))}</{p}X509Certificate>"
        for cert in (signer.chain[0], signer.certificate)  # chain first: verification must find the signer
    )
    signature = (
        f"<署名情報>\n  <{p}Signature {xmlns}>\n    {signed_info(False)}\n"
        f"    <{p}SignatureValue>{value}</{p}SignatureValue>\n"
        f"    <{p}KeyInfo><{p}X509Data>{certificates}</{p}X509Data></{p}KeyInfo>\n  </{p}Signature>\n</署名情報>\n"
    )
    return document.replace(b"</DataRoot>", signature.encode() + b"</DataRoot>")


@pytest.mark.parametrize("prefix", ["", "ds"])
def test_foreign_signature_with_sha1_and_percent_encoded_uris_verifies(kousei, files, signer, prefix):
    document = foreign_signature(kousei, files, signer, prefix)
    [info] = verify_kousei(parse_xml(document), files)
    assert info.certificate == signer.certificate
    assert info.referenced_files == [FORM]


def test_foreign_signature_detects_tampering(kousei, files, signer):
    document = foreign_signature(kousei, files, signer)
    with pytest.raises(SignatureError, match="改ざん"):
        verify_kousei(parse_xml(document.replace("ほげ　ほげ".encode(), "ふが　ふが".encode())), files)


def test_egov_test_certificate_loads_and_formats(kousei):
    cert = certs.load_pem((DATA / "e-GovEE01_sha2.crt.pem").read_bytes())
    assert cert.not_valid_before_utc.year == 2024 and cert.not_valid_after_utc.year == 2029
    assert certs.load_pem(certs.cert_to_pem(cert)) == cert


def test_test_pki_extensions(ca, signer):
    ca_cert = ca[0]
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = signer.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    assert signer.certificate.issuer == ca_cert.subject
    ca_cert.public_key().verify(
        signer.certificate.signature,
        signer.certificate.tbs_certificate_bytes,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert signer.certificate.not_valid_after_utc - signer.certificate.not_valid_before_utc > timedelta(
        days=365
    )


# ---------------------------------------------------------------------------- spellings of a reference


def _resign(root: etree._Element, signer: Signer) -> None:
    """Recompute the SignatureValue over the (edited) SignedInfo: only the spelling changed."""
    from egov_format.signing import canonicalize

    signature = root.find(f"署名情報/{ds('Signature')}")
    si = signature.find(ds("SignedInfo"))
    raw = signer.private_key.sign(canonicalize(si), padding.PKCS1v15(), hashes.SHA256())
    signature.find(ds("SignatureValue")).text = base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "uri",
    ["#%E6%A7%8B%E6%88%90%E6%83%85%E5%A0%B1", "#xpointer(id('構成情報'))", '#xpointer(id("構成情報"))'],
)
def test_same_document_reference_spellings(kousei, files, signer, uri):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}").set("URI", uri)
    _resign(root, signer)
    [info] = verify_kousei(reparse(root), files)
    assert info.referenced_files == [FORM]


def test_unusable_same_document_reference(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}").set("URI", "#xpointer(/)")
    _resign(root, signer)
    with pytest.raises(SignatureError, match="形式に誤り"):
        verify_kousei(root, files)


def test_reference_to_a_missing_file(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    root.find(f"署名情報/{ds('Signature')}/{ds('SignedInfo')}/{ds('Reference')}[2]").set("URI", "nai.xml")
    _resign(root, signer)
    with pytest.raises(SignatureError, match=r"署名対象のファイル\(nai.xml\)が存在しません"):
        verify_kousei(root, files)


# ---------------------------------------------------------------------------- wrapping attacks


def test_signed_element_moved_and_replaced_is_refused(kousei, files, signer):
    """The signed 構成情報 hidden elsewhere, a forged one (no ID) where the server reads it."""
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    original = root.find("構成情報")
    forged = copy.deepcopy(original)
    del forged.attrib["ID"]
    forged.find("管理情報/申請者連絡先情報/申請者情報/氏名").text = "攻撃者"
    original.addprevious(forged)
    hideout = etree.SubElement(root, "付加情報")
    hideout.append(original)  # still the only element with ID 構成情報: its digest matches
    with pytest.raises(SignatureError, match="構成情報が署名されていません"):
        verify_kousei(root, files)
    # the same with the signed copy inside the Signature (an Object, as wrapping attacks do)
    obj = etree.SubElement(root.find(f"署名情報/{ds('Signature')}"), ds("Object"))
    obj.append(original)  # (its canonical form now carries the xmldsig default namespace, too)
    root.remove(hideout)
    with pytest.raises(SignatureError, match=r"構成情報が署名されていません|改ざん"):
        verify_kousei(root, files)


def test_second_kousei_info_without_id_is_refused(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    extra = etree.Element("構成情報")
    etree.SubElement(etree.SubElement(extra, "申請書属性情報"), "申請書ファイル名称").text = "evil.xml"
    root.find("構成情報").addnext(extra)
    with pytest.raises(SignatureError, match="構成情報が重複"):
        verify_kousei(root, files)
    from egov_format.package import _parse_kousei

    with pytest.raises(PackageError, match="形式に誤り"):
        _parse_kousei(serialize_xml(root))


def test_signature_inside_the_signed_element_is_refused(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    holder = root.find("署名情報")
    root.find("構成情報").append(holder)  # enveloped: the signature wraps nothing, the element wraps it
    with pytest.raises(SignatureError, match="サポートされていません"):
        verify_kousei(root, files)


def test_second_holder_is_refused(kousei, files, signer):
    sign_kousei(kousei, files, signer)
    root = reparse(kousei)
    root.append(copy.deepcopy(root.find("署名情報")))
    with pytest.raises(SignatureError, match="署名情報が重複"):
        verify_kousei(root, files)
