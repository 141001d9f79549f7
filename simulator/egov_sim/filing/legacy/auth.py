"""The authentication family: 利用者ID登録, 利用者認証, 証明書識別情報 追加 / 更新 / 削除.
Each body is `DataRoot/{ApplData Id="ApplData", Signature}`, verified before anything is read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from lxml import etree

from . import Unit, bp, parse, skeleton, unit
from .envelope import respond, stamp
from .errors import LegacyError
from .users import Authenticated, load_certificate


@dataclass(frozen=True)
class Signed:
    """A verified authentication body in its unit of work: the body, its UserID and its signer."""

    unit: Unit
    root: etree._Element
    user_id: str
    signer: x509.Certificate

    def certificate(self, tag: str) -> x509.Certificate:
        return load_certificate(parse.text(self.root, tag))


@contextmanager
def signed(*, echo_user_id: bool = False) -> Iterator[Signed]:
    """The one verify step of the family: the body parsed, the software ID checked, the signature
    verified (signer usable as for v2) before the operation runs; committed when the block ends.
    `echo_user_id`: its refusals repeat the UserID (as 利用者ID登録's recorded refusal does)."""
    root = parse.body()
    user_id = parse.text(root, "UserID")
    try:
        with unit() as u:
            yield Signed(u, root, user_id, u.users.signer(root))
    except LegacyError as exc:
        if echo_user_id:
            exc.echo = {"UserID": user_id, **exc.echo}
        raise


def _done(a: Authenticated) -> Any:
    return respond([("UserID", a.user_id), ("LastAuthenticationDate", stamp(a.last_authenticated_at))])


@bp.post("/authentication/user")
@skeleton("UserID")
def register() -> Any:
    with signed(echo_user_id=True) as s:
        s.unit.users.register(s.unit.software_id, s.user_id, s.signer)
    return respond([("UserID", s.user_id)], 201)


@bp.post("/authentication/login")
@skeleton("UserID", "AccessKey", "LastAuthenticationDate")
def login() -> Any:
    with signed() as s:
        a = s.unit.users.login(s.unit.software_id, s.user_id, s.signer)
    return respond([("UserID", a.user_id), ("AccessKey", a.access_key),
                    ("LastAuthenticationDate", stamp(a.last_authenticated_at))])


@bp.post("/authentication/certificate/append")
@skeleton("UserID", "LastAuthenticationDate")
def append_certificate() -> Any:
    with signed() as s:
        return _done(s.unit.users.append_certificate(s.user_id, s.signer, s.certificate("AddX509Certificate")))


@bp.post("/authentication/certificate/update")
@skeleton("UserID", "LastAuthenticationDate")
def update_certificate() -> Any:
    with signed() as s:
        return _done(s.unit.users.update_certificate(s.user_id, s.signer, s.certificate("X509Certificate")))


@bp.post("/authentication/certificate/delete")
@skeleton("UserID", "LastAuthenticationDate")
def delete_certificate() -> Any:
    with signed() as s:
        return _done(s.unit.users.delete_certificate(s.user_id, s.signer, s.certificate("DelX509Certificate")))
