"""Official documents (公文書) and 電子送達 documents on the client side: save, verify, and the
package builders for amendment (部分補正) and resubmission (再提出).

`verify_locally` checks a saved document with the same XMLDSig code the client signs with, against
the government CA certificates you trust (e.g. the simulator's, or GPKI's); `EgovClient
.verify_official_document` asks e-Gov to do it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from egov_format.package import ApplicationPackage
from egov_format.safexml import parse_xml
from egov_format.signing import SignatureInfo, verify_kousei
from egov_format.zipsafe import read_zip

from .errors import PackageError, SignatureError
from .models import DocumentArchive

KAGAMI = "鑑"


def as_amendment(package: ApplicationPackage, arrive_id: str) -> ApplicationPackage:
    """Turn a (re-filled) package into a 部分補正 for `arrive_id`; sign it afterwards."""
    package.set_apply_type("部分補正", arrive_id)
    return package


def as_resubmission(package: ApplicationPackage, original_arrive_id: str) -> ApplicationPackage:
    """Turn a package into a 再提出 of `original_arrive_id` (send it with submit); sign it afterwards."""
    package.set_apply_type("再提出", original_arrive_id)
    return package


def save_document(archive: DocumentArchive, folder: str | Path) -> list[Path]:
    """Write the document's zip and its files into `folder` (safely: no path escapes, size caps)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = [target / "document.zip"]
    written[0].write_bytes(archive.file_data)
    for name, data in read_zip(archive.file_data).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def signature_file(files: dict[str, bytes]) -> str:
    """The name of the XML file that carries the 官職 signature (the 鑑)."""
    for name, data in files.items():
        if name.lower().endswith(".xml") and b"Signature" in data:
            return name
    raise PackageError("署名付きのXMLファイルが公文書に含まれていません", detail="no signed XML in the document")


@dataclass(frozen=True)
class LocalVerification:
    valid: bool
    message: str
    signer: SignatureInfo | None = None


def verify_locally(document_zip: bytes, authorities: list[x509.Certificate], *,
                   now: datetime | None = None) -> LocalVerification:
    """Verify the 鑑's XMLDSig (鑑 + every listed attachment) and that a trusted CA issued the signer."""
    files = read_zip(document_zip)
    try:
        name = signature_file(files)
        root = parse_xml(files[name], what="公文書XML", file_name=name)
        listed = [(el.text or "").strip() for el in root.iterfind(f"{KAGAMI}/添付ファイル情報/添付ファイル/ファイル名")]
        info = verify_kousei(root, files, required=True, target_id=KAGAMI, signed_files=[n for n in listed if n])[0]
    except SignatureError as exc:
        return LocalVerification(False, exc.message)
    when = (now or datetime.now(UTC)).replace(tzinfo=None)
    if not info.not_before <= when <= info.not_after:
        return LocalVerification(False, "官職証明書の有効期間外です", info)
    for ca in authorities:
        try:
            info.certificate.verify_directly_issued_by(ca)
            return LocalVerification(True, "検証成功", info)
        except (InvalidSignature, ValueError, TypeError):
            continue
    return LocalVerification(False, "官職証明書の発行者を信頼できません", info)
