"""Which signer certificates the simulator accepts, and in what state they are on the virtual clock.

Trusted: certificates issued by the simulator's own test CA, and e-Gov's publicly distributed
test certificates (e-GovEE01…), which 検証環境 clients sign with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from egov_format import reports
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..store.models import Certificate, KeyPair
from ..store.prepared import session_rows

# e-Gov registers a newly issued certificate with a delay (seed 002: 1–2 days).
REGISTRATION_DELAY = timedelta(days=1)
JST_OFFSET = timedelta(hours=9)
TEST_CA_PURPOSE = "test-ca"


@lru_cache(maxsize=1)
def _bundled_egov_certificates() -> list[x509.Certificate]:
    folder = resources.files("egov_sim") / "data"
    return [x509.load_pem_x509_certificate(e.read_bytes()) for e in folder.iterdir() if e.name.endswith(".crt.pem")]


@lru_cache(maxsize=1)
def _bundled_fingerprints() -> frozenset[bytes]:
    return frozenset(c.fingerprint(hashes.SHA256()) for c in _bundled_egov_certificates())


# Read on every signed submission: prebuilt once (SQLAlchemy's compiled cache does the rest).
_CA_PEMS = select(KeyPair.certificate_pem).where(KeyPair.purpose == TEST_CA_PURPOSE)
_REVOKED_AT = select(Certificate.revoked_at).where(Certificate.serial_hex == bindparam("serial"))


@lru_cache(maxsize=64)
def _certificate(pem: str) -> x509.Certificate:
    """Parsed once per process: the CA rows are read on every submission, their PEM rarely changes."""
    return x509.load_pem_x509_certificate(pem.encode())


@dataclass
class TrustStore:
    authorities: tuple[x509.Certificate, ...]
    trusted_leaves: frozenset[bytes]  # SHA-256 fingerprints

    @classmethod
    def load(cls, session: Session) -> TrustStore:
        pems = [row[0] for row in session_rows(session, _CA_PEMS, {})]
        return cls(tuple(_certificate(pem) for pem in pems if pem), _bundled_fingerprints())

    def is_trusted(self, cert: x509.Certificate) -> bool:
        return _trusted(cert, self.authorities, self.trusted_leaves)


@lru_cache(maxsize=1024)
def _trusted(cert: x509.Certificate, authorities: tuple[x509.Certificate, ...], leaves: frozenset[bytes]) -> bool:
    """Once per signer certificate and trust store (certificates are immutable; the CAs are read per
    submission, so a new or removed CA is a new key)."""
    if cert.fingerprint(hashes.SHA256()) in leaves:
        return True
    for ca in authorities:
        try:
            cert.verify_directly_issued_by(ca)
            return True
        except (InvalidSignature, ValueError, TypeError):
            continue
    return False


def certificate_problem(session: Session, trust: TrustStore, cert: x509.Certificate, now_jst: datetime) -> str | None:
    """The e-Gov message for a signer certificate that cannot be used now, or None if it can."""
    if not trust.is_trusted(cert):
        return reports.CERT_UNTRUSTED
    now_utc = now_jst - JST_OFFSET
    if cert.not_valid_after_utc.replace(tzinfo=None) < now_utc:
        return reports.CERT_EXPIRED
    serial = format(cert.serial_number, "x")
    known = session_rows(session, _REVOKED_AT, {"serial": serial})
    revoked_at = known[0][0] if known else None
    if revoked_at is not None and revoked_at <= now_jst:
        return reports.CERT_REVOKED
    if cert.not_valid_before_utc.replace(tzinfo=None) > now_utc - REGISTRATION_DELAY:
        return reports.CERT_UNREGISTERED
    return None
