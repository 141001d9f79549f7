"""Per-installation signing keys, stored in the database: RSA keys (published as JWKS) and HMAC
secrets (Keycloak's realm "hmac-generated" key, which signs its refresh tokens; never published)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from ..clock import real_now_jst
from ..store import Database
from ..store.models import KeyPair, Setting


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT of `claims` with this key's kid."""
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})

    def public_jwk(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass(frozen=True)
class HmacKey:
    kid: str
    secret: bytes


class KeyRing:
    """One RSA key per purpose ("egov-auth", "gbizid", ...), generated on first use and kept."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, SigningKey] = {}
        self._hmac: dict[str, HmacKey] = {}
        self._lock = threading.Lock()

    def get(self, purpose: str) -> SigningKey:
        key = self._cache.get(purpose)
        if key is not None:
            return key
        with self._lock:
            if purpose not in self._cache:
                self._cache[purpose] = self._load_or_create(purpose)
            return self._cache[purpose]

    def hmac(self, purpose: str) -> HmacKey:
        """The HMAC secret for `purpose` (64 random bytes for HS512), created once across processes."""
        cache_key = f"hmac:{purpose}"
        key = self._hmac.get(cache_key)
        if key is not None:
            return key
        with self._lock:
            if cache_key not in self._hmac:
                self._hmac[cache_key] = self._load_or_create_hmac(f"keys.hmac.{purpose}")
            return self._hmac[cache_key]

    def _load_or_create_hmac(self, setting: str) -> HmacKey:
        with self._db.init_lock(), self._db.session() as s:
            row = s.get(Setting, setting)
            if row is None:
                row = Setting(key=setting, value={"kid": str(uuid.uuid4()), "secret": base64.urlsafe_b64encode(
                    secrets.token_bytes(64)).decode()})
                s.add(row)
            return HmacKey(row.value["kid"], base64.urlsafe_b64decode(row.value["secret"]))

    def _load_or_create(self, purpose: str) -> SigningKey:
        query = select(KeyPair).where(KeyPair.purpose == purpose).order_by(KeyPair.created_at, KeyPair.kid)
        with self._db.init_lock(), self._db.session() as s:  # one key per purpose across processes
            row = s.scalars(query).first()
            if row is None:
                row = self._new_key(purpose)
                s.add(row)
            # our own key from our own database: skip OpenSSL's RSA consistency check (~0.1 s per
            # process, paid by each worker's first request); the key is the one _new_key made
            key = serialization.load_pem_private_key(row.private_pem.encode(), password=None,
                                                     unsafe_skip_rsa_key_validation=True)
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
