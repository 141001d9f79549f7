"""Official documents (公文書) and 電子送達 notice documents: build, sign, verify. No Flask.

A document is a zip: the cover document (鑑) `kagami.xml` and its attachments (PDF). The 鑑 is
signed with XMLDSig by the simulator's 官職 certificate, issued by its own government CA, with the
client's signing code (one implementation): Reference `#鑑` (C14N) plus one per attachment. The
zip is rebuilt from the case on every fetch; it is deterministic, so fetching twice gives the same
bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from egov_format.errors import PackageError, SignatureError
from egov_format.safexml import parse_xml, serialize_xml
from egov_format.signing import Signer, sign_kousei, verify_kousei
from egov_format.zipsafe import read_zip, write_zip
from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..certs import cert_to_pem, issue_certificate, make_ca
from ..clock import format_datetime
from ..store.models import Application, KeyPair
from .errors import bad_request
from .pdf import text_pdf

GOVERNMENT_CA = "government-ca"
GOVERNMENT_CERT = "government-cert"
KAGAMI = "鑑"
KAGAMI_FILE = "kagami.xml"
JST_OFFSET = timedelta(hours=9)
MAX_VERIFY_BYTES = 50 * 1024 * 1024

VALID = "検証成功"
CERT_VALID = "有効"


# ---------------------------------------------------------------------------- the government PKI

def ensure_government_pki(session: Session, now_jst: datetime) -> None:
    """Create the government CA and the 官職 certificate once per installation."""
    if session.get(KeyPair, GOVERNMENT_CERT) is not None:
        return
    now = now_jst - JST_OFFSET
    ca, ca_key = make_ca("egov-sandbox Government Test CA", organization="egov-sandbox 政府認証基盤（テスト）",
                         not_before=now - timedelta(days=3650), not_after=now + timedelta(days=7300))
    cert, key = issue_certificate(ca, ca_key, subject_cn="官職証明書（テスト）", organization="egov-sandbox 行政機関",
                                  unit="電子申請", not_before=now - timedelta(days=365),
                                  not_after=now + timedelta(days=3650))
    for kid, c, k in ((GOVERNMENT_CA, ca, ca_key), (GOVERNMENT_CERT, cert, key)):
        session.add(KeyPair(kid=kid, purpose=kid, certificate_pem=cert_to_pem(c), created_at=now_jst,
                            private_pem=k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()).decode()))
    try:
        session.flush()
    except IntegrityError:  # another process made it first
        session.rollback()


def government_signer(session: Session, now_jst: datetime) -> Signer:
    ensure_government_pki(session, now_jst)
    row, ca = session.get(KeyPair, GOVERNMENT_CERT), session.get(KeyPair, GOVERNMENT_CA)
    assert row is not None and ca is not None and row.certificate_pem and ca.certificate_pem
    return _signer(row.private_pem, row.certificate_pem, ca.certificate_pem)


@lru_cache(maxsize=4)
def _signer(private_pem: str, certificate_pem: str, ca_pem: str) -> Signer:
    """Loading an RSA key checks it (tens of ms); the installation's key is loaded once per process."""
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return Signer(key, x509.load_pem_x509_certificate(certificate_pem.encode()),
                  [x509.load_pem_x509_certificate(ca_pem.encode())])


def government_authorities(session: Session) -> list[x509.Certificate]:
    rows = session.scalars(select(KeyPair).where(KeyPair.purpose == GOVERNMENT_CA))
    return [x509.load_pem_x509_certificate(r.certificate_pem.encode()) for r in rows if r.certificate_pem]


# ---------------------------------------------------------------------------- building

@dataclass(frozen=True)
class DocumentContent:
    kind: str  # 公文書 | 通知文書
    sub_id: str
    title: str
    sentence: str
    issuer: str
    issued_at: datetime
    attachments: list[dict[str, str]]  # [{file_name, title}]


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def build_document_zip(app: Application, doc: DocumentContent, signer: Signer | None) -> tuple[bytes, list[str]]:
    """The document zip (鑑 + PDF attachments) and its file names; signed when a signer is given."""
    files: dict[str, bytes] = {}
    for att in doc.attachments:
        lines = [f"到達番号：{app.arrive_id}", f"手続名称：{app.proc_name}", f"申請者：{app.corporation_name}　{app.applicant_name}",
                 f"発出日時：{format_datetime(doc.issued_at)}", f"発出元：{doc.issuer}", "", doc.sentence]
        files[att["file_name"]] = text_pdf(att.get("title") or doc.title, lines)
    root = etree.Element("公文書" if doc.kind == "公文書" else "通知文書")
    kagami = _el(root, KAGAMI)
    kagami.set("ID", KAGAMI)
    for tag, text in (("文書種別", doc.kind), ("到達番号", app.arrive_id), ("通知通番", doc.sub_id),
                      ("手続名称", app.proc_name), ("件名", doc.title), ("発出日時", format_datetime(doc.issued_at)),
                      ("発出元", doc.issuer)):
        _el(kagami, tag, text)
    to = _el(kagami, "宛先")
    _el(to, "法人名", app.corporation_name)
    _el(to, "氏名", app.applicant_name)
    _el(kagami, "本文", doc.sentence)
    listed = _el(kagami, "添付ファイル情報")
    for att in doc.attachments:
        item = _el(listed, "添付ファイル")
        _el(item, "名称", att.get("title") or att["file_name"])
        _el(item, "ファイル名", att["file_name"])
    if signer is not None:
        sign_kousei(root, files, signer, form_files=list(files), target_id=KAGAMI)
    entries = {KAGAMI_FILE: serialize_xml(root), **files}
    return write_zip(entries), list(entries)


# ---------------------------------------------------------------------------- verifying

def _jst(dt: datetime) -> str:
    return format_datetime(dt.replace(tzinfo=None) + JST_OFFSET)


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME) or name.get_attributes_for_oid(
        x509.NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def _dn(name: x509.Name) -> str:
    return ", ".join(f"{a.rfc4514_attribute_name}={a.value}" for rdn in name.rdns for a in rdn)[:256]


def certificate_details(cert: x509.Certificate) -> dict[str, str]:
    return {"publisher_dn": _dn(cert.issuer), "owner_dn": _dn(cert.subject),
            "serial_number": format(cert.serial_number, "X"), "start_date": _jst(cert.not_valid_before_utc),
            "end_date": _jst(cert.not_valid_after_utc)}


def _embedded_certificate(root: etree._Element) -> x509.Certificate | None:
    el = root.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
    if el is None or not (el.text or "").strip():
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(el.text.split())))
    except ValueError:
        return None


def _issued_by(cert: x509.Certificate, cas: list[x509.Certificate]) -> x509.Certificate | None:
    for ca in cas:
        try:
            cert.verify_directly_issued_by(ca)
            return ca
        except (InvalidSignature, ValueError, TypeError):
            continue
    return None


def _single_root(files: dict[str, bytes]) -> dict[str, bytes]:
    roots = {name.split("/", 1)[0] for name in files}
    if len(roots) == 1 and all("/" in name for name in files):
        return {name.split("/", 1)[1]: data for name, data in files.items()}
    return files


def verify_document(raw: bytes, xml_name: str, authorities: list[x509.Certificate],
                    now_jst: datetime) -> dict[str, object]:
    """`POST /official_document/verify`: the 官職 signature and certificate of a document zip."""
    try:
        files = _single_root(read_zip(raw, max_total_bytes=MAX_VERIFY_BYTES))
    except PackageError as exc:
        raise bad_request(f"公文書ファイルの形式に誤りがあります。{exc.message}") from None
    if xml_name not in files:
        raise bad_request(f"署名検証XMLファイル({xml_name})が公文書ファイルに含まれていません。")
    try:
        root = parse_xml(files[xml_name], what="署名検証XML", file_name=xml_name)
    except PackageError as exc:
        raise bad_request(exc.message) from None
    listed = [(el.text or "").strip() for el in root.iterfind(f"{KAGAMI}/添付ファイル情報/添付ファイル/ファイル名")]
    validation = VALID
    try:
        infos = verify_kousei(root, files, required=True, target_id=KAGAMI, signed_files=[n for n in listed if n])
        cert: x509.Certificate | None = infos[0].certificate
    except SignatureError as exc:
        validation = f"検証失敗：{exc.message}"[:256]
        cert = _embedded_certificate(root)
    official: dict[str, object] = {"validation_result": validation}
    government: list[dict[str, str]] = []
    if cert is None:
        official["certificate_result"] = "無効：証明書が存在しません"
    else:
        ca = _issued_by(cert, authorities)
        now_utc = now_jst - JST_OFFSET
        if ca is None:
            result = "無効：官職証明書として信頼できない発行者の証明書です"
        elif not cert.not_valid_before_utc.replace(tzinfo=None) <= now_utc <= cert.not_valid_after_utc.replace(
                tzinfo=None):
            result = "無効：有効期間外の証明書です"
        else:
            result = CERT_VALID
        if result != CERT_VALID and validation == VALID:
            official["validation_result"] = "検証失敗：官職証明書を検証できません"
        official.update({"certificate_result": result, "certificate_count": 1 + (1 if ca else 0),
                         "publisher": _cn(cert.issuer)[:256], "owner": _cn(cert.subject)[:256],
                         **certificate_details(cert)})
        if ca is not None:
            government.append(certificate_details(ca))
    entry: dict[str, object] = {"official": official}
    if government:
        entry["government"] = government
    result_body: dict[str, object] = {"sig_verification_xml_file_name": xml_name}
    if listed:
        result_body["attached_file_name"] = ",".join(listed)[:256]
    result_body["verify_result"] = [entry]
    return result_body
