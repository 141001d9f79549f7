"""The legacy authentication bodies against an independent XMLDSig implementation, xmlsec1: a body
xmlsec1 signs from a template is accepted by 利用者ID登録 and 利用者認証; what our client signs verifies
with `xmlsec1 --verify --id-attr:Id ApplData` (the check the reference ran on recorded bodies)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import BASE
from cryptography.hazmat.primitives import serialization
from egov_format.signing import sign_sibling
from lxml import etree

XMLSEC1 = shutil.which("xmlsec1")
pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed (Debian package xmlsec1)")

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<DataRoot><ApplData Id="ApplData"><UserID>{user}</UserID></ApplData><Signature xmlns="http://www.w3.org/2000/09/xmldsig#" Id="20150406120000"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#ApplData"><Transforms><Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo></Signature></DataRoot>
"""


def _pem_files(signer, folder: Path) -> tuple[Path, Path]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    key.write_bytes(signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    cert.write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    return key, cert


def test_a_body_xmlsec1_signs_registers_and_logs_in(sim, world, signer, tmp_path: Path) -> None:
    key, cert = _pem_files(signer, tmp_path)
    headers = {"X-eGovAPI-SoftwareID": world.client_id}
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=BASE) as http:
        for path, status in (("/shinsei/1/authentication/user", 201), ("/shinsei/1/authentication/login", 200)):
            template = tmp_path / "template.xml"
            template.write_text(TEMPLATE.format(user="xmlsec0001"), encoding="utf-8")
            signed = subprocess.run([XMLSEC1, "--sign", "--privkey-pem", f"{key},{cert}", "--id-attr:Id", "ApplData",
                                     str(template)], check=True, capture_output=True).stdout
            resp = http.post(path, content=signed, headers=headers)  # no Content-Type, as the recorded client
            assert resp.status_code == status, resp.text
            assert "<Code>0</Code>" in resp.text
        tampered = signed.replace(b"xmlsec0001", b"xmlsec0002")
        assert http.post("/shinsei/1/authentication/login", content=tampered, headers=headers).status_code == 400


def test_what_our_client_signs_verifies_with_xmlsec1(signer, tmp_path: Path) -> None:
    _key, cert = _pem_files(signer, tmp_path)
    root = etree.fromstring(b'<DataRoot><ApplData Id="ApplData"><UserID>abcd1234</UserID></ApplData></DataRoot>')
    sign_sibling(root, "ApplData", signer, signature_id="20150406120000")
    body = tmp_path / "body.xml"
    body.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root))
    ok = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert), "--id-attr:Id", "ApplData", str(body)],
                        capture_output=True)
    assert ok.returncode == 0, ok.stderr
    body.write_bytes(body.read_bytes().replace(b"abcd1234", b"abcd9999"))
    bad = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert), "--id-attr:Id", "ApplData", str(body)],
                         capture_output=True)
    assert bad.returncode != 0

