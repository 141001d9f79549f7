"""XMLDSig for e-Gov application packages, by hand with lxml + cryptography.

e-Gov signs kousei.xml with enveloped-in-a-sibling signatures: ``DataRoot/署名情報/Signature``
(default namespace xmldsig, no prefix). One Reference ``#構成情報`` (inclusive C14N of the element
with ID="構成情報") and one Reference per 申請書XML by file name (digest of the raw bytes).
Several Signature elements are co-signers (連署).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from .errors import PackageError, PinError, SignatureError
from .safexml import parse_xml

__all__ = [
    "DS_NS",
    "SignatureInfo",
    "Signer",
    "canonicalize",
    "listed_form_files",
    "load_pkcs12",
    "load_pkcs12_file",
    "sign_kousei",
    "sign_sibling",
    "verify_kousei",
    "verify_sibling",
]

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"
ENVELOPED = DS_NS + "enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

# algorithm URI -> (exclusive, with_comments)
_C14N_METHODS = {
    C14N: (False, False),
    C14N_COMMENTS: (False, True),
    EXC_C14N: (True, False),
    EXC_C14N_COMMENTS: (True, True),
}
_DIGESTS = {
    SHA256: "sha256",
    DS_NS + "sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}
_SIGNATURE_METHODS: dict[str, type[hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256,
    DS_NS + "rsa-sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}
_ID_ATTRIBUTES = ("ID", "Id", "id")
KOUSEI_ID = "構成情報"
HOLDER_TAG = "署名情報"


def _ds(tag: str) -> str:
    return f"{{{DS_NS}}}{tag}"


# ---------------------------------------------------------------------------- signer and PKCS#12


@dataclass(frozen=True)
class Signer:
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)


def load_pkcs12(data: bytes, password: str | bytes) -> Signer:
    """Load a signing key and certificate; a wrong password raises PinError 「PIN が不正です」."""
    secret = password.encode("utf-8") if isinstance(password, str) else password
    p12 = None
    for candidate in (secret,) if secret else (None, b""):
        try:
            p12 = pkcs12.load_pkcs12(data, candidate)
            break
        except ValueError:
            continue
    if p12 is None:
        if data[:1] != b"\x30":  # a PKCS#12 file is a DER SEQUENCE
            raise PackageError("証明書ファイルの形式に誤りがあります", detail="not a PKCS#12 file")
        raise PinError("PIN が不正です。", detail="wrong PKCS#12 password (or a damaged certificate file)")
    if p12.key is None or p12.cert is None:
        raise PackageError(
            "証明書ファイルに秘密鍵または証明書が含まれていません",
            detail="the PKCS#12 file has no private key or no certificate",
        )
    key, cert = p12.key, p12.cert.certificate
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PackageError(
            "RSA以外の鍵による署名はサポートされていません", detail="only RSA keys are supported"
        )
    cert_key = cert.public_key()
    if (
        not isinstance(cert_key, rsa.RSAPublicKey)
        or cert_key.public_numbers() != key.public_key().public_numbers()
    ):
        raise PackageError(
            "証明書と秘密鍵が対応していません", detail="private key does not match the certificate"
        )
    return Signer(key, cert, [c.certificate for c in p12.additional_certs])


def load_pkcs12_file(path: str | Path, password: str | bytes) -> Signer:
    return load_pkcs12(Path(path).read_bytes(), password)


# ---------------------------------------------------------------------------- shared helpers


def listed_form_files(kousei: etree._Element) -> list[str]:
    """Every 申請書XML file named in 構成情報/申請書属性情報."""
    names = (el.text or "" for el in kousei.iterfind(f"{KOUSEI_ID}/申請書属性情報/申請書ファイル名称"))
    return [name.strip() for name in names if name.strip()]


def _kousei_info(kousei: etree._Element, target: str = KOUSEI_ID) -> etree._Element:
    info = kousei.find(target)
    if info is None:
        raise SignatureError(
            f"構成管理XMLファイルに{target}が存在しません",
            file_name="kousei.xml",
            item=target,
            detail=f"no {target} element",
        )
    return info


# Elements whose ID attribute (any of _ID_ATTRIBUTES) has the value $ident, in document order
# (compiled once: a C-level scan instead of a Python loop over every element and attribute).
_BY_ID = etree.XPath("//*[" + " or ".join(f"@{attr}=$ident" for attr in _ID_ATTRIBUTES) + "]")


def _find_by_id(kousei: etree._Element, ident: str) -> etree._Element:
    hits = _BY_ID(kousei.getroottree(), ident=ident)
    if len(hits) != 1:
        problem = "が存在しません" if not hits else "が重複しています"
        raise SignatureError(
            f"署名対象(ID={ident}){problem}",
            file_name="kousei.xml",
            detail=f"{len(hits)} elements with ID {ident!r}",
        )
    return hits[0]


XML_NS = "http://www.w3.org/XML/1998/namespace"


def _standalone_copy(element: etree._Element, *, inherit_xml_attributes: bool) -> etree._Element:
    """``element`` and its descendants as the root of a new document, with the same context.

    The copy declares every namespace in scope at ``element`` (lxml's serializer writes the
    ancestors' declarations on a subtree it dumps, keeping every prefix) and, for inclusive
    C14N 1.0, carries the xml:* attributes (xml:lang, xml:space, ...) it inherits from ancestors.
    """
    data = etree.tostring(element, encoding="UTF-8", xml_declaration=False, with_tail=False)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    root = etree.fromstring(data, parser)
    if inherit_xml_attributes:
        for ancestor in element.iterancestors():
            for name, value in ancestor.attrib.items():
                if name.startswith(f"{{{XML_NS}}}") and name not in root.attrib:
                    root.set(name, value)  # the nearest ancestor wins: it is visited first
    return root


def canonicalize(
    node: etree._Element | etree._ElementTree,
    algorithm: str = C14N,
    prefixes: list[str] | None = None,
    *,
    with_comments: bool | None = None,
) -> bytes:
    """Canonical XML (C14N 1.0 or exclusive C14N, with or without comments) of a node-set.

    An element stands for the document subset made of it and its descendants; a tree for the
    whole document. Every canonicalization in the package goes through here: libxml2's own
    subtree C14N (``tostring(element, method="c14n")``) emits a spurious ``xmlns=""`` on the
    descendants of an element whose default namespace is declared on an ancestor, so subsets are
    canonicalized as a standalone copy instead. ``with_comments`` overrides the algorithm's choice
    (a bare-name ``#id`` reference selects a node-set without comments).
    """
    exclusive, comments = _C14N_METHODS[algorithm]
    if with_comments is not None:
        comments = with_comments
    if isinstance(node, etree._Element):
        node = _standalone_copy(node, inherit_xml_attributes=not exclusive)
    return etree.tostring(
        node,
        method="c14n",
        exclusive=exclusive,
        with_comments=comments,
        inclusive_ns_prefixes=prefixes if exclusive else None,
    )


def _digest(algorithm: str, data: bytes) -> bytes:
    name = _DIGESTS.get(algorithm)
    if name is None:
        raise SignatureError(
            "署名のダイジェスト方式はサポートされていません",
            file_name="kousei.xml",
            detail=f"unsupported digest {algorithm!r}",
        )
    return hashlib.new(name, data).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(
            "署名情報の形式に誤りがあります",
            file_name="kousei.xml",
            item=what,
            detail=f"{what} is not base64",
        ) from None


# ---------------------------------------------------------------------------- signing


def _holder(kousei: etree._Element, target: str = KOUSEI_ID) -> etree._Element:
    holder = kousei.find(HOLDER_TAG)
    if holder is not None:
        return holder
    info = _kousei_info(kousei, target)
    holder = etree.Element(HOLDER_TAG)
    holder.tail, info.tail = info.tail, "\n"
    info.addnext(holder)
    return holder


def _add_reference(signed_info: etree._Element, uri: str, digest: bytes, *, c14n: bool) -> None:
    ref = etree.SubElement(signed_info, _ds("Reference"), URI=uri)
    if c14n:
        transforms = etree.SubElement(ref, _ds("Transforms"))
        etree.SubElement(transforms, _ds("Transform"), Algorithm=C14N)
    etree.SubElement(ref, _ds("DigestMethod"), Algorithm=SHA256)
    etree.SubElement(ref, _ds("DigestValue")).text = _b64(digest)


def sign_kousei(
    kousei: etree._Element,
    files: dict[str, bytes],
    signer: Signer,
    *,
    form_files: list[str] | None = None,
    target_id: str = KOUSEI_ID,
) -> etree._Element:
    """Append a Signature (co-signers: one more each call) to 署名情報 and return it.

    ``kousei`` is the DataRoot of kousei.xml; ``files`` maps file names to their final bytes.
    Other documents of the same shape (e.g. a 公文書's 鑑) pass their own ``target_id`` (the element
    whose tag and ID it is) and the files to sign in ``form_files``.
    """
    target = _find_by_id(kousei, target_id)
    names = listed_form_files(kousei) if form_files is None else list(form_files)
    missing = [name for name in names if name not in files]
    if missing:
        raise PackageError(
            f"申請書ファイル({missing[0]})が存在しません",
            file_name=missing[0],
            detail="form file to sign is missing",
        )

    signature = etree.SubElement(_holder(kousei, target_id), _ds("Signature"), nsmap={None: DS_NS})
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=RSA_SHA256)
    _add_reference(signed_info, f"#{target_id}", hashlib.sha256(canonicalize(target)).digest(), c14n=True)
    for name in names:
        _add_reference(signed_info, name, hashlib.sha256(files[name]).digest(), c14n=False)
    value = etree.SubElement(signature, _ds("SignatureValue"))
    x509_data = etree.SubElement(etree.SubElement(signature, _ds("KeyInfo")), _ds("X509Data"))
    cert_der = signer.certificate.public_bytes(serialization.Encoding.DER)
    etree.SubElement(x509_data, _ds("X509Certificate")).text = _b64(cert_der)

    # SignedInfo is canonicalized in place, i.e. with the namespace context of the final document.
    raw = signer.private_key.sign(canonicalize(signed_info), padding.PKCS1v15(), hashes.SHA256())
    value.text = _b64(raw)
    return signature


# ---------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class SignatureInfo:
    certificate: x509.Certificate
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime  # naive UTC
    not_after: datetime  # naive UTC
    referenced_files: list[str]


def _dn(name: x509.Name) -> str:
    """'C=JP, O=DemoMin1, OU=CA1, CN=Ichiro Madoguchi' (DER order, as e-Gov shows it)."""
    return ", ".join(f"{attr.rfc4514_attribute_name}={attr.value}" for rdn in name.rdns for attr in rdn)


def _one(parent: etree._Element, tag: str) -> etree._Element:
    found = parent.findall(_ds(tag))
    if len(found) != 1:
        raise SignatureError(
            "署名情報の形式に誤りがあります",
            file_name="kousei.xml",
            item=tag,
            detail=f"expected exactly one {tag}, found {len(found)}",
        )
    return found[0]


def _algorithm(el: etree._Element, known: dict, what: str) -> str:
    algorithm = el.get("Algorithm") or ""
    if algorithm not in known:
        raise SignatureError(
            "署名の方式はサポートされていません",
            file_name="kousei.xml",
            item=what,
            detail=f"unsupported {what} {algorithm!r}",
        )
    return algorithm


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    texts = signature.findall(f"{_ds('KeyInfo')}/{_ds('X509Data')}/{_ds('X509Certificate')}")
    if not texts:
        raise SignatureError(
            "署名情報に証明書が存在しません",
            file_name="kousei.xml",
            item="X509Certificate",
            detail="no KeyInfo/X509Data/X509Certificate",
        )
    certs = []
    for el in texts:
        try:
            certs.append(_load_certificate(_unb64(el.text, "X509Certificate")))
        except ValueError:
            raise SignatureError(
                "署名情報の証明書の形式に誤りがあります",
                file_name="kousei.xml",
                item="X509Certificate",
                detail="certificate is not valid DER",
            ) from None
    return certs


@lru_cache(maxsize=256)
def _load_certificate(der: bytes) -> x509.Certificate:
    """A DER certificate, parsed once per process (signers send the same certificate again and again;
    Certificate objects are immutable). Raises ValueError for bad DER (not cached)."""
    return x509.load_der_x509_certificate(der)


@lru_cache(maxsize=256)
def _public_key(cert: x509.Certificate) -> Any:
    return cert.public_key()


@lru_cache(maxsize=256)
def _names(cert: x509.Certificate) -> tuple[str, str]:
    """The subject's and the issuer's DN as e-Gov shows them."""
    return _dn(cert.subject), _dn(cert.issuer)


def _verify_signature_value(signature: etree._Element, signed_info: etree._Element) -> x509.Certificate:
    """Check SignatureValue with the embedded certificate(s); return the signer's certificate."""
    c14n_method = _algorithm(
        _one(signed_info, "CanonicalizationMethod"), _C14N_METHODS, "CanonicalizationMethod"
    )
    hash_cls = _SIGNATURE_METHODS[
        _algorithm(_one(signed_info, "SignatureMethod"), _SIGNATURE_METHODS, "SignatureMethod")
    ]
    value = _unb64(_one(signature, "SignatureValue").text, "SignatureValue")
    data = canonicalize(signed_info, c14n_method, _prefix_list(_one(signed_info, "CanonicalizationMethod")))
    for cert in _certificates(signature):
        key = _public_key(cert)
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(value, data, padding.PKCS1v15(), hash_cls())
            return cert
        except InvalidSignature:
            continue
    raise SignatureError(
        "署名の検証に失敗しました。署名情報が改ざんされている可能性があります。",
        file_name="kousei.xml",
        item="SignatureValue",
        detail="SignatureValue does not verify",
    )


def _prefix_list(method: etree._Element) -> list[str] | None:
    inclusive = method.find(f"{{{EXC_C14N}}}InclusiveNamespaces")
    return (inclusive.get("PrefixList") or "").split() if inclusive is not None else None


def _reference_octets(
    ref: etree._Element, kousei: etree._Element, signature: etree._Element, files: dict[str, bytes]
) -> tuple[bytes, etree._Element | str]:
    """The octets a Reference's digest is computed over, and what they came from."""
    uri = ref.get("URI")
    if uri is None or uri == "":
        raise SignatureError(
            "署名情報の形式に誤りがあります",
            file_name="kousei.xml",
            item="Reference",
            detail="Reference without a usable URI",
        )
    transforms = ref.findall(f"{_ds('Transforms')}/{_ds('Transform')}")
    c14n_method: etree._Element | None = None
    for transform in transforms:
        algorithm = transform.get("Algorithm") or ""
        if algorithm in _C14N_METHODS:
            c14n_method = transform
        elif algorithm != ENVELOPED:
            raise SignatureError(
                "署名の方式はサポートされていません",
                file_name="kousei.xml",
                item="Transform",
                detail=f"unsupported transform {algorithm!r}",
            )

    if uri.startswith("#"):
        ident, keep_comments = _same_document_id(uri)
        target = _find_by_id(kousei, ident)
        if signature in target.iterdescendants():
            raise SignatureError(
                "署名の方式はサポートされていません",
                file_name="kousei.xml",
                item="Reference",
                detail="signatures inside the signed element are not supported",
            )
        method = c14n_method.get("Algorithm") if c14n_method is not None else C14N
        prefixes = _prefix_list(c14n_method) if c14n_method is not None else None
        # a bare-name reference selects the element without its comments (XMLDSig 4.3.3.3)
        return canonicalize(target, method, prefixes, with_comments=None if keep_comments else False), target

    if any(t.get("Algorithm") == ENVELOPED for t in transforms):
        raise SignatureError(
            "署名の方式はサポートされていません",
            file_name="kousei.xml",
            item="Transform",
            detail="enveloped-signature transform on a file reference",
        )
    name = _file_for_uri(uri, files)
    if c14n_method is None:
        return files[name], name
    root = parse_xml(files[name], what="申請書XML", file_name=name)
    return canonicalize(root.getroottree(), c14n_method.get("Algorithm"), _prefix_list(c14n_method)), name


_XPOINTER_ID = re.compile(r"""^xpointer\(id\((['"])(.+)\1\)\)$""")


def _same_document_id(uri: str) -> tuple[str, bool]:
    """The ID a same-document URI points at, and whether the node-set keeps comments.

    ``#構成情報`` and its percent-encoded spelling ``#%E6%A7%8B...`` are the same reference (RFC 3986);
    ``#xpointer(id('構成情報'))`` is the form that keeps comments.
    """
    try:
        fragment = unquote(uri[1:], errors="strict")
    except UnicodeDecodeError:
        fragment = ""
    xpointer = _XPOINTER_ID.match(fragment)
    ident = xpointer.group(2) if xpointer else fragment
    if not ident or (fragment.startswith("xpointer(") and not xpointer):
        raise SignatureError(
            "署名情報の形式に誤りがあります",
            file_name="kousei.xml",
            item="Reference",
            detail=f"unsupported same-document reference {uri!r}",
        )
    return ident, xpointer is not None


def _file_for_uri(uri: str, files: dict[str, bytes]) -> str:
    for candidate in (uri, unquote(uri), uri.removeprefix("./"), unquote(uri).removeprefix("./")):
        if candidate in files:
            return candidate
    raise SignatureError(
        f"署名対象のファイル({unquote(uri)})が存在しません",
        file_name=unquote(uri),
        detail=f"referenced file {uri!r} is not in the package",
    )


def _verify_one(
    kousei: etree._Element, signature: etree._Element, files: dict[str, bytes], forms: list[str],
    target_id: str = KOUSEI_ID,
) -> SignatureInfo:
    signed_info = _one(signature, "SignedInfo")
    cert = _verify_signature_value(signature, signed_info)  # authenticate SignedInfo before using it
    info_element = _kousei_info(kousei, target_id)
    references = signed_info.findall(_ds("Reference"))
    covers_kousei = False
    referenced: list[str] = []
    for ref in references:
        octets, source = _reference_octets(ref, kousei, signature, files)
        method = _algorithm(_one(ref, "DigestMethod"), _DIGESTS, "DigestMethod")
        expected = _unb64(_one(ref, "DigestValue").text, "DigestValue")
        if isinstance(source, str):
            referenced.append(source)
            label, file_name = (
                (f"申請書ファイル({source})" if source in forms else f"ファイル({source})"),
                source,
            )
        else:
            covers_kousei = covers_kousei or source is info_element
            label, file_name = "構成管理XMLファイル(kousei.xml)の構成情報", "kousei.xml"
        if not hmac.compare_digest(_digest(method, octets), expected):
            raise SignatureError(
                f"署名の検証に失敗しました。{label}が改ざんされている可能性があります。",
                file_name=file_name,
                detail=f"digest mismatch for {ref.get('URI')!r}",
            )
    if not covers_kousei:
        raise SignatureError(
            f"署名の検証に失敗しました。{target_id}が署名されていません。",
            file_name="kousei.xml",
            item=target_id,
            detail=f"no Reference covers #{target_id}",
        )
    unsigned = [name for name in forms if name not in referenced]
    if unsigned:
        raise SignatureError(
            f"署名の検証に失敗しました。申請書ファイル({unsigned[0]})が署名されていません。",
            file_name=unsigned[0],
            detail="form file not covered by the signature",
        )
    return SignatureInfo(
        certificate=cert,
        subject=_names(cert)[0],
        issuer=_names(cert)[1],
        serial_hex=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.replace(tzinfo=None),
        not_after=cert.not_valid_after_utc.replace(tzinfo=None),
        referenced_files=referenced,
    )


def _check_layout(kousei: etree._Element, target_id: str) -> None:
    """One signed element and one 署名情報 below the root, and every Signature inside 署名情報.

    What the server reads (the root's one 構成情報 child) must be what was verified: a second
    構成情報 (signed or not), a Signature elsewhere (e.g. enveloped in the signed element) or a
    second 署名情報 is refused rather than ignored.
    """
    for tag, what in ((target_id, target_id), (HOLDER_TAG, HOLDER_TAG)):
        if len(kousei.findall(tag)) > 1:
            raise SignatureError(
                f"構成管理XMLファイルに{what}が重複しています",
                file_name="kousei.xml",
                item=what,
                detail=f"more than one {tag} element below the root",
            )
    for signature in kousei.iter(_ds("Signature")):
        parent = signature.getparent()
        if parent is None or parent.tag != HOLDER_TAG or parent.getparent() is not kousei:
            raise SignatureError(
                "署名の方式はサポートされていません",
                file_name="kousei.xml",
                item="Signature",
                detail=f"a Signature outside {HOLDER_TAG} (at {kousei.getroottree().getpath(signature)})",
            )


def verify_kousei(
    kousei: etree._Element, files: dict[str, bytes], *, required: bool = False,
    target_id: str = KOUSEI_ID, signed_files: list[str] | None = None,
) -> list[SignatureInfo]:
    """Verify every Signature in 署名情報 (co-signers included); [] when unsigned.

    With ``required=True`` an unsigned package raises SignatureError 「署名情報が存在しません」.
    Certificate validity (expiry, revocation, registration) is the caller's business.
    Documents of the same shape (a 公文書's 鑑) pass ``target_id`` and the files that must be signed.
    """
    _check_layout(kousei, target_id)
    holder = kousei.find(HOLDER_TAG)
    signatures = holder.findall(_ds("Signature")) if holder is not None else []
    if holder is not None and len([c for c in holder if isinstance(c.tag, str)]) != len(signatures):
        raise SignatureError(
            "署名情報の形式に誤りがあります",
            file_name="kousei.xml",
            item=HOLDER_TAG,
            detail="署名情報 may only contain xmldsig Signature elements",
        )
    if not signatures:
        if required:
            raise SignatureError(
                "署名情報が存在しません",
                file_name="kousei.xml",
                item=HOLDER_TAG,
                detail="the package is not signed",
            )
        return []
    forms = listed_form_files(kousei) if signed_files is None else list(signed_files)
    return [_verify_one(kousei, signature, files, forms, target_id) for signature in signatures]


# ---------------------------------------------------------------------------- a sibling Signature (legacy API)


def sign_sibling(root: etree._Element, target_id: str, signer: Signer, *, signature_id: str | None = None) -> etree._Element:
    """Sign the element with Id=``target_id`` by a Signature appended as the root's last child.

    The layout of the legacy 外部連携API's authentication bodies:
    ``DataRoot/{ApplData Id="ApplData", Signature}`` — one c14n Reference, RSA-SHA256, the signer's
    certificate in KeyInfo.
    """
    target = _find_by_id(root, target_id)
    signature = etree.SubElement(root, _ds("Signature"), nsmap={None: DS_NS})
    if signature_id:
        signature.set("Id", signature_id)
    signed_info = etree.SubElement(signature, _ds("SignedInfo"))
    etree.SubElement(signed_info, _ds("CanonicalizationMethod"), Algorithm=C14N)
    etree.SubElement(signed_info, _ds("SignatureMethod"), Algorithm=RSA_SHA256)
    _add_reference(signed_info, f"#{target_id}", hashlib.sha256(canonicalize(target)).digest(), c14n=True)
    value = etree.SubElement(signature, _ds("SignatureValue"))
    x509_data = etree.SubElement(etree.SubElement(signature, _ds("KeyInfo")), _ds("X509Data"))
    etree.SubElement(x509_data, _ds("X509Certificate")).text = _b64(
        signer.certificate.public_bytes(serialization.Encoding.DER))
    value.text = _b64(signer.private_key.sign(canonicalize(signed_info), padding.PKCS1v15(), hashes.SHA256()))
    return signature


def verify_sibling(root: etree._Element, target_id: str) -> SignatureInfo:
    """Verify the one Signature that is a direct child of ``root`` and covers ``#target_id``.

    A body with no signature, several, or one anywhere else is refused (SignatureError); what the
    server reads (the root's one ``target_id`` child) is what was verified.
    """
    signatures = list(root.iter(_ds("Signature")))
    if not signatures:
        raise SignatureError("署名情報が存在しません", item="Signature", detail="the body is not signed")
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        raise SignatureError("署名の方式はサポートされていません", item="Signature",
                             detail="exactly one Signature, a child of the root, is expected")
    target = _find_by_id(root, target_id)
    if target.getparent() is not root:
        raise SignatureError("署名情報の形式に誤りがあります", item=target_id,
                             detail=f"the element with Id {target_id!r} is not a child of the root")
    return _verify_one(root, signatures[0], {}, [], target_id)
