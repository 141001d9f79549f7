"""Per-installation RSA signing keys, stored in the database and published as JWKS."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from ..clock import real_now_jst
from ..store import Database
from ..store.models import KeyPair


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


class KeyRing:
    """One RSA key per purpose ("egov-auth", "gbizid", ...), generated on first use and kept."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    def get(self, purpose: str) -> SigningKey:
        key = self._cache.get(purpose)
        if key is not None:
            return key
        with self._lock:
            if purpose not in self._cache:
                self._cache[purpose] = self._load_or_create(purpose)
            return self._cache[purpose]

    def _load_or_create(self, purpose: str) -> SigningKey:
        query = select(KeyPair).where(KeyPair.purpose == purpose).order_by(KeyPair.created_at, KeyPair.kid)
        with self._db.init_lock(), self._db.session() as s:  # one key per purpose across processes
            row = s.scalars(query).first()
            if row is None:
                row = self._new_key(purpose)
                s.add(row)
            key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return SigningKey(row.kid, key)

    @staticmethod
    def _new_key(purpose: str) -> KeyPair:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return KeyPair(kid=hashlib.sha256(der).hexdigest()[:32], purpose=purpose, private_pem=pem,
                       created_at=real_now_jst())

    def jwks(self, purpose: str) -> dict[str, Any]:
        return {"keys": [self.get(purpose).public_jwk()]}
