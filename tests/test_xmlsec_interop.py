"""XMLDSig interoperability proven by an independent implementation: xmlsec1 (libxmlsec1).

Both ways: what our client and our simulator sign verifies with ``xmlsec1 --verify``; what
``xmlsec1 --sign`` signs from a template is accepted by ``POST /apply``, ``/apply/check`` and the
client's verifier — default-namespace and ``ds:`` Signatures, literal and percent-encoded
``#構成情報``. File references are resolved by xmlsec1 relative to its working directory, so each
run happens in a folder holding the package's files.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import advance
from cryptography.hazmat.primitives import serialization
from egov_client import EgovClient
from egov_format.package import ApplicationPackage, parse_package
from egov_format.signing import Signer, verify_kousei
from egov_format.zipsafe import read_zip, write_zip
from egov_sim.filing.documents import government_authorities
from egov_sim.world.packages import sample_package

XMLSEC1 = shutil.which("xmlsec1")
pytestmark = pytest.mark.skipif(
    XMLSEC1 is None, reason="xmlsec1 is not installed (Debian package xmlsec1; .ci/run installs it)"
)

PROC = "950A010700005000"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
KOUSEI_URI_ENCODED = "#%E6%A7%8B%E6%88%90%E6%83%85%E5%A0%B1"


def xmlsec1(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([XMLSEC1, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def xmlsec1_verify(folder: Path, file_name: str, trusted: Path, ident: str, *extra: str) -> str:
    result = xmlsec1("--verify", "--trusted-pem", str(trusted), "--id-attr:ID", ident, *extra, file_name,
                     cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("OK"), result.stderr
    return result.stderr


def unpack(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def pem_files(signer: Signer, folder: Path) -> tuple[Path, Path, Path]:
    """key.pem, cert.pem and the issuing CA (ca.pem) of the world's "valid" certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert, ca = folder / "key.pem", folder / "cert.pem", folder / "ca.pem"
    key.write_bytes(signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    cert.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    [issuer] = [c for c in signer.chain if c.subject == signer.certificate.issuer]
    ca.write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
    return key, cert, ca


# ---------------------------------------------------------------------------- we sign, xmlsec1 verifies


def test_package_signed_by_the_client_verifies_with_xmlsec1(services, signer, tmp_path):
    package = sample_package(services.catalogue, PROC, signer)
    _key, _cert, ca = pem_files(signer, tmp_path / "pki")
    folder = unpack(package.files, tmp_path / "pkg")
    out = xmlsec1_verify(folder, "kousei.xml", ca, "構成情報")
    assert "SignedInfo References (ok/all): 2/2" in out


def test_co_signed_package_verifies_with_xmlsec1_signature_by_signature(services, signer, tmp_path):
    package = sample_package(services.catalogue, PROC, signer).sign(signer)  # a second (co-)signature
    assert len(package.signatures) == 2
    _key, _cert, ca = pem_files(signer, tmp_path / "pki")
    folder = unpack(package.files, tmp_path / "pkg")
    for n in (1, 2):
        xmlsec1_verify(folder, "kousei.xml", ca, "構成情報", "--node-xpath", f"(//*[local-name()='Signature'])[{n}]")


def test_tampered_package_fails_xmlsec1(services, signer, tmp_path):
    package = sample_package(services.catalogue, PROC, signer)
    _key, _cert, ca = pem_files(signer, tmp_path / "pki")
    files = package.files
    files["kousei.xml"] = files["kousei.xml"].replace("山田　太郎".encode(), "山田　次郎".encode(), 1)
    folder = unpack(files, tmp_path / "pkg")
    result = xmlsec1("--verify", "--trusted-pem", str(ca), "--id-attr:ID", "構成情報", "kousei.xml", cwd=folder)
    assert result.returncode != 0 and "FAIL" in result.stderr


def test_official_document_verifies_with_xmlsec1(egov: EgovClient, services, signer, tmp_path):
    services.clock.update(frozen=True)
    arrive_id = egov.submit(PROC, sample_package(services.catalogue, PROC, signer).to_zip()).arrive_id
    advance(services, "P3D")
    files = read_zip(egov.get_official_document(arrive_id, 1).file_data)
    with services.db.session() as session:
        [authority] = government_authorities(session)
    ca = tmp_path / "government-ca.pem"
    ca.write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    folder = unpack(files, tmp_path / "doc")
    out = xmlsec1_verify(folder, "kagami.xml", ca, "鑑")
    assert f"SignedInfo References (ok/all): {len(files)}/{len(files)}" in out  # #鑑 + each attachment


# ---------------------------------------------------------------------------- xmlsec1 signs, we accept


def template(package: ApplicationPackage, prefix: str) -> bytes:
    """kousei.xml with the common signature template (empty DigestValue / SignatureValue) in 署名情報."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns{":" + prefix if prefix else ""}="{DS_NS}"'
    refs = "".join(
        f'<{p}Reference URI="{name}"><{p}DigestMethod Algorithm="{SHA256}"/><{p}DigestValue/></{p}Reference>'
        for name in package.form_files
    )
    signature = (
        f"<署名情報>\n<{p}Signature {xmlns}>\n<{p}SignedInfo>\n"
        f'<{p}CanonicalizationMethod Algorithm="{C14N}"/>\n<{p}SignatureMethod Algorithm="{RSA_SHA256}"/>\n'
        f'<{p}Reference URI="#構成情報"><{p}Transforms><{p}Transform Algorithm="{C14N}"/></{p}Transforms>'
        f"<{p}DigestMethod Algorithm=\"{SHA256}\"/><{p}DigestValue/></{p}Reference>\n{refs}\n</{p}SignedInfo>\n"
        f"<{p}SignatureValue/>\n<{p}KeyInfo><{p}X509Data/></{p}KeyInfo>\n</{p}Signature>\n</署名情報>\n"
    )
    return package.kousei_bytes().replace(b"</DataRoot>", signature.encode() + b"</DataRoot>")


def signed_info_c14n(document: bytes, prefix: str) -> bytes:
    """Canonical SignedInfo written by hand from xmlsec1's output: the namespace declaration moves
    onto SignedInfo, empty elements are expanded, nothing else changes (no comments, no entities,
    attributes already in canonical order and quoting)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns{":" + prefix if prefix else ""}="{DS_NS}"'
    start = document.index(f"<{p}SignedInfo>".encode())
    end = document.index(f"</{p}SignedInfo>".encode()) + len(f"</{p}SignedInfo>".encode())
    fragment = document[start:end].replace(f"<{p}SignedInfo>".encode(), f"<{p}SignedInfo {xmlns}>".encode(), 1)
    return re.sub(rb"<([^\s<>/]+)([^<>]*?)/>", rb"<\1\2></\1>", fragment)


def openssl_sign(data: bytes, key: Path) -> str:
    result = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)], input=data, capture_output=True,
                            timeout=60, check=True)
    return base64.b64encode(result.stdout).decode()


def signature_value(document: bytes, prefix: str) -> str:
    p = f"{prefix}:" if prefix else ""
    match = re.search(f"<{p}SignatureValue>([^<]*)</{p}SignatureValue>".encode(), document)
    assert match
    return "".join(match.group(1).decode().split())


def xmlsec1_signed_package(services, signer, tmp_path: Path, prefix: str, uri: str) -> bytes:
    """A package zip whose kousei.xml xmlsec1 signed from the template.

    xmlsec1 1.2.37 does not percent-decode a same-document URI (it evaluates
    ``xpointer(id('%E6…'))`` and finds nothing), so for the percent-encoded spelling it signs the
    literal one; the URI is then respelled and the SignedInfo re-signed with ``openssl dgst`` over
    its canonical form written by hand — the same procedure reproduces xmlsec1's own SignatureValue
    for the literal spelling, bit for bit (RSA PKCS#1 v1.5 is deterministic).
    """
    package = sample_package(services.catalogue, PROC, None)
    key, cert, _ca = pem_files(signer, tmp_path / "pki")
    folder = unpack({**package.files, "kousei.xml": template(package, prefix)}, tmp_path / f"sign-{prefix}")
    result = xmlsec1("--sign", "--privkey-pem", f"{key},{cert}", "--id-attr:ID", "構成情報",
                     "--output", "signed.xml", "kousei.xml", cwd=folder)
    assert result.returncode == 0, result.stderr
    signed = (folder / "signed.xml").read_bytes()
    assert openssl_sign(signed_info_c14n(signed, prefix), key) == signature_value(signed, prefix)
    if uri != "#構成情報":
        signed = signed.replace(b'URI="#\xe6\xa7\x8b\xe6\x88\x90\xe6\x83\x85\xe5\xa0\xb1"', f'URI="{uri}"'.encode())
        assert f'URI="{uri}"'.encode() in signed
        old = re.search(rb"<(?:ds:)?SignatureValue>([^<]*)<", signed)
        assert old
        signed = signed.replace(old.group(1), openssl_sign(signed_info_c14n(signed, prefix), key).encode())
    files = {**package.files, "kousei.xml": signed}
    return write_zip({f"{PROC}/{name}": data for name, data in files.items()})


SPELLINGS = [("", "#構成情報"), ("ds", "#構成情報"), ("", KOUSEI_URI_ENCODED), ("ds", KOUSEI_URI_ENCODED)]


@pytest.mark.parametrize(("prefix", "uri"), SPELLINGS, ids=["default-ns", "ds", "default-ns-encoded", "ds-encoded"])
def test_package_signed_by_xmlsec1_is_accepted(egov: EgovClient, services, signer, tmp_path, prefix, uri):
    package_zip = xmlsec1_signed_package(services, signer, tmp_path, prefix, uri)
    parsed = parse_package(package_zip)
    [info] = verify_kousei(parsed.kousei, parsed.files, required=True)
    assert info.certificate == signer.certificate
    assert egov.check(PROC, package_zip).ok
    result = egov.submit(PROC, package_zip)
    assert result.arrive_id
    assert egov.get_application(result.arrive_id).status == "到達"


def test_xmlsec1_signature_over_a_tampered_package_is_refused(egov: EgovClient, services, signer, tmp_path):
    package_zip = xmlsec1_signed_package(services, signer, tmp_path, "", "#構成情報")
    entries = read_zip(package_zip)
    entries[f"{PROC}/kousei.xml"] = entries[f"{PROC}/kousei.xml"].replace("山田　太郎".encode(), "山田　次郎".encode(), 1)
    result = egov.check(PROC, write_zip(entries))
    assert not result.ok
    assert [(r.file_name, r.item) for r in result.report_list] == [("kousei.xml", "署名情報")]
    assert "改ざん" in result.report_list[0].content
