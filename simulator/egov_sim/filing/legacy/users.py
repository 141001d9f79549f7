"""利用者ID, certificates and access keys of the legacy 外部連携API (seed 001's rules), apart from HTTP.

Every authentication-family body is verified first (XMLDSig, signer certificate as for v2); every
access-family call presents an access key issued by 利用者認証. Times are the virtual clock's (JST).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from egov_format.errors import SignatureError
from egov_format.signing import verify_sibling
from lxml import etree
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ...certs import cert_to_pem
from ...store.models import Account, Software
from ..cases import Caller
from ..trust import JST_OFFSET, TrustStore, certificate_problem
from .errors import LegacyError
from .tables import LegacyAccessKey, LegacyUser

USER_ID = re.compile(r"[0-9A-Za-z]{8,12}")
ALREADY_REGISTERED = "該当する利用者IDと証明書の情報は、既に登録されています。"
BAD_USER_ID = "利用者IDは8文字以上12文字以下の半角英数字で指定してください。"
ONE_CHARACTER = "利用者IDに同じ文字のみを使用することはできません。"
AUTH_FAILED = "利用者認証に失敗しました。"
UNKNOWN_SOFTWARE = "ソフトウェアIDが不正です。"
NO_ACCESS_KEY = "アクセスキーが指定されていません。"
BAD_ACCESS_KEY = "アクセスキーが不正です。"
KEY_EXPIRED = "アクセスキーの有効期限が切れました。再度アクセスキーの取得を行ってください。"
NOT_REGISTERED_CERT = "該当する証明書の情報は登録されていません。"
SUBJECT_CHANGED = ("切り替え前の証明書の有効期限が切れており、主体者識別名（Subject）が異なるため、"
                   "証明書識別情報を更新できません。")
BAD_CERTIFICATE = "証明書の形式に誤りがあります。"
ONLY_CERTIFICATE = "利用者IDに登録されている唯一の証明書は削除できません。"


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_certificate(text: str | None) -> x509.Certificate:
    """A certificate element's base64 DER; line breaks (60 columns, literal backslash-n) accepted."""
    cleaned = "".join((text or "").replace("\\n", "\n").split())
    try:
        return x509.load_der_x509_certificate(base64.b64decode(cleaned, validate=True))
    except ValueError:
        raise LegacyError(BAD_CERTIFICATE) from None


def account_name(user_id: str) -> str:
    """The login ID of a 利用者ID's account (its cases', fault rules' and the journal's name for it)."""
    return f"{user_id}@legacy.shinsei.invalid"


@dataclass(frozen=True)
class Authenticated:
    """The outcome of an authentication-family call: the user and its previous authentication."""

    user_id: str
    last_authenticated_at: datetime | None
    access_key: str = ""


class LegacyUsers:
    def __init__(self, session: Session, now: datetime, *, key_lifetime: timedelta) -> None:
        self.s = session
        self.now = now
        self.key_lifetime = key_lifetime

    # --- checks shared by every call -----------------------------------------------------------------

    def check_software(self, software_id: str | None) -> str:
        software_id = (software_id or "").strip()
        if not software_id or self.s.get(Software, software_id) is None:
            raise LegacyError(UNKNOWN_SOFTWARE)
        return software_id

    def signer(self, root: etree._Element) -> x509.Certificate:
        """The verified signer of a body (Signature beside ApplData), usable now as for v2."""
        try:
            info = verify_sibling(root, "ApplData")
        except SignatureError as exc:
            raise LegacyError(f"署名の検証に失敗しました。{exc.message}") from None
        self._usable(info.certificate)
        return info.certificate

    def _usable(self, cert: x509.Certificate) -> None:
        problem = certificate_problem(self.s, TrustStore.load(self.s), cert, self.now)
        if problem:
            raise LegacyError(problem)

    def _user(self, user_id: str) -> LegacyUser:
        user = self.s.get(LegacyUser, user_id)
        if user is None:
            raise LegacyError(AUTH_FAILED)
        return user

    @staticmethod
    def _holds(user: LegacyUser, cert: x509.Certificate) -> bool:
        return x509.load_pem_x509_certificate(user.certificate_pem.encode()) == cert

    def _touch(self, user: LegacyUser) -> datetime | None:
        previous, user.last_authenticated_at = user.last_authenticated_at, self.now
        return previous

    def _drop_keys(self, user_id: str) -> None:
        self.s.execute(delete(LegacyAccessKey).where(LegacyAccessKey.user_id == user_id))

    def _expire_keys(self, user_id: str) -> None:
        """A certificate switch ends the key in use: its next call hears that it expired (seed 001)."""
        self.s.execute(update(LegacyAccessKey).where(LegacyAccessKey.user_id == user_id).values(expires_at=self.now))

    # --- 利用者ID登録 / 利用者認証 ---------------------------------------------------------------------

    def register(self, software_id: str, user_id: str, signer: x509.Certificate) -> str:
        if not USER_ID.fullmatch(user_id):
            raise LegacyError(BAD_USER_ID)
        if len(set(user_id)) == 1:
            raise LegacyError(ONE_CHARACTER)
        if self.s.get(LegacyUser, user_id) is not None:
            raise LegacyError(ALREADY_REGISTERED)
        names = signer.subject
        cn = names.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        org = names.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        account = Account(sub=str(uuid.uuid4()), username=account_name(user_id), password_hash="!",
                          display_name=str(cn[0].value) if cn else user_id,
                          corporation_name=str(org[0].value) if org else "", idp="legacy",
                          profile={"legacy_user_id": user_id, "alias": user_id})  # admin rules name the 利用者ID
        self.s.add(account)
        self.s.flush()
        self.s.add(LegacyUser(user_id=user_id, account_id=account.id, software_id=software_id,
                              certificate_pem=cert_to_pem(signer), registered_at=self.now))
        return user_id

    def login(self, software_id: str, user_id: str, signer: x509.Certificate) -> Authenticated:
        user = self._user(user_id)
        if not self._holds(user, signer):
            raise LegacyError(AUTH_FAILED)
        key = base64.b64encode(secrets.token_bytes(192)).decode()  # 256 characters, new on every login
        self._drop_keys(user_id)
        self.s.add(LegacyAccessKey(key_hash=_key_hash(key), user_id=user_id, software_id=software_id,
                                   issued_at=self.now, expires_at=self.now + self.key_lifetime))
        return Authenticated(user_id, self._touch(user), key)

    # --- 証明書識別情報 追加 / 更新 / 削除 ---------------------------------------------------------------

    def append_certificate(self, user_id: str, signer: x509.Certificate, new: x509.Certificate) -> Authenticated:
        """Switching while the registered certificate is still valid: signed with it, the new one
        becomes the ID's certificate (one per ID); access keys issued before end (seed 001)."""
        user = self._user(user_id)
        if not self._holds(user, signer):
            raise LegacyError(AUTH_FAILED)
        self._usable(new)
        return self._switch(user, new)

    def update_certificate(self, user_id: str, signer: x509.Certificate, old: x509.Certificate) -> Authenticated:
        """Switching with the new certificate as signer and the old one named: the old one may have
        expired, unless the Subject changed (seed 001)."""
        user = self._user(user_id)
        if not self._holds(user, old):
            raise LegacyError(NOT_REGISTERED_CERT)
        expired = old.not_valid_after_utc.replace(tzinfo=None) < self.now - JST_OFFSET
        if expired and old.subject != signer.subject:
            raise LegacyError(SUBJECT_CHANGED)
        return self._switch(user, signer)

    def _switch(self, user: LegacyUser, new: x509.Certificate) -> Authenticated:
        user.previous_certificate_pem, user.certificate_pem = user.certificate_pem, cert_to_pem(new)
        self._expire_keys(user.user_id)
        return Authenticated(user.user_id, self._touch(user))

    def delete_certificate(self, user_id: str, signer: x509.Certificate, target: x509.Certificate) -> Authenticated:
        """Removes the certificate kept from before a switch; removing the current one undoes the
        switch (the previous one comes back). An ID is never left without a certificate."""
        user = self._user(user_id)
        current = x509.load_pem_x509_certificate(user.certificate_pem.encode())
        previous = (x509.load_pem_x509_certificate(user.previous_certificate_pem.encode())
                    if user.previous_certificate_pem else None)
        if signer not in (current, previous):
            raise LegacyError(AUTH_FAILED)
        if previous is not None and target == previous:
            user.previous_certificate_pem = None
        elif previous is not None and target == current:
            user.certificate_pem, user.previous_certificate_pem = user.previous_certificate_pem, None
            self._expire_keys(user_id)
        else:
            raise LegacyError(ONLY_CERTIFICATE if target == current else NOT_REGISTERED_CERT)
        return Authenticated(user_id, self._touch(user))

    # --- the access family ------------------------------------------------------------------------------

    def caller(self, software_id: str, access_key: str | None) -> Caller:
        """The caller an access key stands for (the 利用者ID's own account)."""
        if not (access_key or "").strip():
            raise LegacyError(NO_ACCESS_KEY)
        row = self.s.get(LegacyAccessKey, _key_hash(access_key.strip()))
        if row is None or row.software_id != software_id:
            raise LegacyError(BAD_ACCESS_KEY)
        if row.expires_at <= self.now:
            raise LegacyError(KEY_EXPIRED)
        user = self.s.get(LegacyUser, row.user_id)
        assert user is not None
        return Caller(account_id=user.account_id, username=account_name(user.user_id))

    def user_of(self, account_id: int) -> str | None:
        return self.s.scalar(select(LegacyUser.user_id).where(LegacyUser.account_id == account_id))
