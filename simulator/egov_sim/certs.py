"""Test PKI for the demo world: a CA and signing certificates as PKCS#12 (cryptography only, no DB).

Subjects follow the e-Gov test certificates' style: C=JP, O=..., [OU=...,] CN=... (Japanese allowed).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

__all__ = ["cert_to_pem", "issue_certificate", "load_pem", "make_ca", "new_key", "subject_name", "to_pkcs12"]


def new_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def subject_name(
    common_name: str | None, organization: str | None = None, unit: str | None = None
) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if common_name:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def make_ca(
    common_name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    organization: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA-2048 CA (naive datetimes are taken as UTC)."""
    key = key or new_key()
    name = subject_name(common_name, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    *,
    subject_cn: str,
    organization: str | None,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
    unit: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """An end-entity signing certificate (digitalSignature + nonRepudiation) issued by ``ca_cert``."""
    key = key or new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject_name(subject_cn, organization, unit))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else _serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _serial() -> int:
    return secrets.randbits(63) | 1  # positive, non-zero, fits in 8 bytes


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,  # a.k.a. nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def to_pkcs12(
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey,
    chain: list[x509.Certificate] | None,
    password: str,
    friendly_name: str,
    *,
    legacy: bool = False,
) -> bytes:
    """PKCS#12 bytes; ``legacy=True`` uses 3DES/SHA-1 for old Windows and Java tools."""
    if not password:
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    elif legacy:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(50000)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password.encode("utf-8"))
        )
    else:
        encryption = serialization.BestAvailableEncryption(password.encode("utf-8"))
    return pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), key, cert, list(chain or []) or None, encryption
    )


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_pem(data: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data.encode("ascii") if isinstance(data, str) else data)
