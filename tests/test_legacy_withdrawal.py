"""取下げ申請 on the legacy 外部連携API (`POST /shinsei/1/access/withdrawal`): the legacy package
(folder 9990000000000008, kousei.xml + torisageshinsei.xml) verified as e-Gov would, proven with
e-Gov's own sample torisageshinsei.xml (tests/data/legacy, byte for byte but the case it names) and
with a kousei.xml that xmlsec1 signed; v2's 取下げ依頼 package is refused in the legacy envelope."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import test_legacy_api as api
from cryptography.hazmat.primitives import serialization
from egov_client.legacy import WITHDRAWAL_FORM_FILE, LegacyClient, build_withdrawal_application, upload
from egov_format.package import build_withdrawal_package
from egov_format.signing import Signer
from egov_format.zipsafe import write_zip
from egov_sim.store.models import ApplicationAction
from sqlalchemy import select
from test_legacy_api import PROC, _arrive, _later, refused

SAMPLE = Path(__file__).parent / "data" / "legacy" / WITHDRAWAL_FORM_FILE  # e-Gov's sample, as published
SAMPLE_ARRIVE_ID, SAMPLE_PROC_ID = b"9002015000246820", b"900A010000004000"
XMLSEC1 = shutil.which("xmlsec1")
needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed (Debian package xmlsec1)")
legacy, logged_in, _frozen = api.legacy, api.logged_in, api._frozen  # the legacy tests' fixtures
DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _case(client: LegacyClient, services, signer: Signer) -> str:
    arrive_id = _arrive(client, services, signer)
    _later(client, services, signer, "PT2H")  # 審査中: withdrawable
    return arrive_id


def _application(arrive_id: str, **kw) -> object:
    values = dict(target_arrive_id=arrive_id, proc_id=PROC, proc_name="ＡＰＩテスト用手続", applicant_name="山田　太郎",
                  reason="誤って申請したため", submitted=date(2026, 4, 1), destination="総務省,行政管理局,API")
    return build_withdrawal_application(**{**values, **kw})


def _sample_form(arrive_id: str) -> bytes:
    """e-Gov's sample torisageshinsei.xml naming our case instead of its own (nothing else changed)."""
    raw = SAMPLE.read_bytes()
    assert raw.count(SAMPLE_ARRIVE_ID) == 1 and raw.count(SAMPLE_PROC_ID) == 1
    return raw.replace(SAMPLE_ARRIVE_ID, arrive_id.encode()).replace(SAMPLE_PROC_ID, PROC.encode())


def _withdrawals(services) -> list[ApplicationAction]:
    with services.db.session() as s:
        return list(s.scalars(select(ApplicationAction).where(ApplicationAction.kind == "withdraw")))


def test_the_legacy_package_withdraws_the_case_with_its_own_arrival(logged_in: LegacyClient, services,
                                                                    signer) -> None:
    arrive_id = _case(logged_in, services, signer)
    done = logged_in.withdraw(arrive_id, upload(_application(arrive_id).sign(signer).to_zip()))
    assert done.status == 202 and done.text("ArriveID") == arrive_id and done.text("ApplyType") == "取下げ"
    assert done.text("ArriveResult") == "到達" and done.text("ApplyForm/FormName") == "取下げ申請書"
    assert done.text("ArriveDate") == f"{services.clock.now():%Y%m%d%H%M%S}"  # the withdrawal's arrival
    new = done.text("NewArriveID")  # reference §3: 16 digits, the target's prefix and the year
    assert len(new) == 16 and new.isdigit() and new != arrive_id
    assert new[:3] == arrive_id[:3] and new[3:7] == f"{services.clock.now():%Y}"
    assert logged_in.reference(arrive_id).text("Status") == "到達（取下げ処理中）"
    [action] = _withdrawals(services)
    assert action.data["new_arrive_id"] == new
    refused(lambda: logged_in.withdraw(arrive_id, upload(_application(arrive_id).sign(signer).to_zip())))
    other = _case(logged_in, services, signer)
    again = logged_in.withdraw(other, upload(_application(other).sign(signer).to_zip())).text("NewArriveID")
    assert again != new and len(again) == 16


def test_e_govs_sample_form_is_accepted(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _case(logged_in, services, signer)
    package = _application(arrive_id)
    sample = type(package)(package.proc_id, package.kousei_bytes(), {WITHDRAWAL_FORM_FILE: _sample_form(arrive_id)})
    signed = sample.sign(signer).to_zip()
    assert logged_in.withdraw(arrive_id, upload(signed)).text("NewArriveID")


def test_v2_withdrawal_request_and_bad_packages_are_refused(logged_in: LegacyClient, services, signer) -> None:
    arrive_id = _case(logged_in, services, signer)
    irai = build_withdrawal_package(target_arrive_id=arrive_id, proc_name="x", applicant_name="山田　太郎",
                                    reason="誤って申請したため", request_date=date(2026, 4, 1)).sign(signer)
    err = refused(lambda: logged_in.withdraw(arrive_id, upload(irai.to_zip())))
    assert "9990000000000008" in err.message and err.appl.findtext("NewArriveID") == ""
    assert "取下げ申請" in refused(lambda: logged_in.withdraw(arrive_id, upload(_application(arrive_id).to_zip()))
                              ).message  # unsigned
    wrong = _application("9002026000000001").sign(signer)  # names another case
    assert "初回受付番号" in refused(lambda: logged_in.withdraw(arrive_id, upload(wrong.to_zip()))).message
    no_reason = _application(arrive_id, reason="").sign(signer)
    assert "必須" in refused(lambda: logged_in.withdraw(arrive_id, upload(no_reason.to_zip()))).message
    assert _withdrawals(services) == []
    assert logged_in.reference(arrive_id).text("Status") != "到達（取下げ処理中）"


# --- xmlsec1 ----------------------------------------------------------------------------------------------

def _xmlsec1(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([XMLSEC1, *args], cwd=cwd, capture_output=True, text=True, timeout=60)  # type: ignore[list-item]


def _pem(signer: Signer, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    key, ca = folder / "key.pem", folder / "ca.pem"
    key.write_bytes(signer.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    [issuer] = [c for c in signer.chain if c.subject == signer.certificate.issuer]
    ca.write_bytes(issuer.public_bytes(serialization.Encoding.PEM))
    return key, ca


def _signature_template() -> bytes:
    return (f'<署名情報><Signature xmlns="{DS}"><SignedInfo><CanonicalizationMethod Algorithm="{C14N}"/>'
            f'<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f'<Reference URI="#構成情報"><Transforms><Transform Algorithm="{C14N}"/></Transforms>'
            f'<DigestMethod Algorithm="{SHA256}"/><DigestValue/></Reference>'
            f'<Reference URI="{WITHDRAWAL_FORM_FILE}"><DigestMethod Algorithm="{SHA256}"/><DigestValue/></Reference>'
            "</SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo>"
            "</Signature></署名情報>\n").encode()


@needs_xmlsec1
def test_a_package_xmlsec1_signed_over_the_sample_form_is_accepted(logged_in: LegacyClient, services, signer,
                                                                   tmp_path: Path) -> None:
    arrive_id = _case(logged_in, services, signer)
    key, _ca = _pem(signer, tmp_path / "pki")
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / WITHDRAWAL_FORM_FILE).write_bytes(_sample_form(arrive_id))
    kousei = _application(arrive_id).kousei_bytes().replace(b"</DataRoot>", _signature_template() + b"</DataRoot>")
    (folder / "kousei.xml").write_bytes(kousei)
    result = _xmlsec1("--sign", "--privkey-pem", f"{key},{tmp_path / 'pki' / 'cert.pem'}", "--id-attr:ID", "構成情報",
                      "--output", "signed.xml", "kousei.xml", cwd=folder)
    assert result.returncode == 0, result.stderr
    files = {"kousei.xml": (folder / "signed.xml").read_bytes(), WITHDRAWAL_FORM_FILE: _sample_form(arrive_id)}
    tampered = {**files, WITHDRAWAL_FORM_FILE: files[WITHDRAWAL_FORM_FILE].replace("テストのため".encode(), "別の理由".encode())}
    err = refused(lambda: logged_in.withdraw(arrive_id, write_zip(
        {f"9990000000000008(1)/{n}": d for n, d in tampered.items()})))
    assert "署名" in err.message or "改ざん" in err.message
    done = logged_in.withdraw(arrive_id, write_zip({f"9990000000000008(1)/{n}": d for n, d in files.items()}))
    assert len(done.text("NewArriveID")) == 16


@needs_xmlsec1
def test_what_the_legacy_client_signs_verifies_with_xmlsec1(services, signer, tmp_path: Path) -> None:
    _key, ca = _pem(signer, tmp_path / "pki")
    package = _application("9002026000000001").sign(signer)
    folder = tmp_path / "pkg"
    folder.mkdir()
    for name, data in package.files.items():
        (folder / name).write_bytes(data)
    result = _xmlsec1("--verify", "--trusted-pem", str(ca), "--id-attr:ID", "構成情報", "kousei.xml", cwd=folder)
    assert result.returncode == 0 and "SignedInfo References (ok/all): 2/2" in result.stderr, result.stderr
