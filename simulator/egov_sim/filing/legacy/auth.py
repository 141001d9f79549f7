"""The authentication family: 利用者ID登録, 利用者認証, 証明書識別情報 追加 / 更新 / 削除.
Each body is `DataRoot/{ApplData Id="ApplData", Signature}`, verified before anything is read."""

from __future__ import annotations

from typing import Any

from lxml import etree

from . import bp, parse, skeleton, unit
from .envelope import respond, stamp
from .errors import LegacyError
from .users import Authenticated, load_certificate


def _signed() -> tuple[etree._Element, str]:
    root = parse.body()
    return root, parse.text(root, "UserID")


def _done(a: Authenticated) -> Any:
    return respond([("UserID", a.user_id), ("LastAuthenticationDate", stamp(a.last_authenticated_at))])


@bp.post("/authentication/user")
@skeleton("UserID")
def register() -> Any:
    root, user_id = _signed()
    try:
        with unit() as u:
            u.users.register(u.software_id, user_id, u.users.signer(root))
    except LegacyError as exc:
        exc.echo = {"UserID": user_id}
        raise
    return respond([("UserID", user_id)], 201)


@bp.post("/authentication/login")
@skeleton("UserID", "AccessKey", "LastAuthenticationDate")
def login() -> Any:
    root, user_id = _signed()
    with unit() as u:
        a = u.users.login(u.software_id, user_id, u.users.signer(root))
    return respond([("UserID", a.user_id), ("AccessKey", a.access_key),
                    ("LastAuthenticationDate", stamp(a.last_authenticated_at))])


@bp.post("/authentication/certificate/append")
@skeleton("UserID", "LastAuthenticationDate")
def append_certificate() -> Any:
    root, user_id = _signed()
    with unit() as u:
        signer = u.users.signer(root)
        return _done(u.users.append_certificate(user_id, signer,
                                                load_certificate(parse.text(root, "AddX509Certificate"))))


@bp.post("/authentication/certificate/update")
@skeleton("UserID", "LastAuthenticationDate")
def update_certificate() -> Any:
    root, user_id = _signed()
    with unit() as u:
        signer = u.users.signer(root)
        return _done(u.users.update_certificate(user_id, signer, load_certificate(parse.text(root, "X509Certificate"))))


@bp.post("/authentication/certificate/delete")
@skeleton("UserID", "LastAuthenticationDate")
def delete_certificate() -> Any:
    root, user_id = _signed()
    with unit() as u:
        signer = u.users.signer(root)
        return _done(u.users.delete_certificate(user_id, signer,
                                                load_certificate(parse.text(root, "DelX509Certificate"))))
