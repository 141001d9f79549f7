"""アカウント間情報共有 (share-setting, share-confirmation) and what a grant lets the grantee see.

Only GビズID logins may share (the API document says so); an owner asks, the grantee confirms with
ACCEPT or DENY. An accepted READ lets the grantee see the owner's cases and their official documents
(or 電子送達) in lists and details; DOWNLOAD also lets it fetch the files. No Flask here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..store.models import Account, ShareSetting
from .errors import bad_request

PERMISSIONS = ("READ", "DOWNLOAD")
ACCEPTANCES = ("ACCEPT", "DENY")
GBIZID = "gbizid"


def require_gbizid(idp: str) -> None:
    if idp != GBIZID:
        raise bad_request("アカウント間情報共有は、GビズIDでログインしている場合のみ利用できます。")


def _permission(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value not in PERMISSIONS:
        raise bad_request(f"{name}はREADまたはDOWNLOADを指定してください。")
    return value


def _gbiz_id(body: Any) -> str:
    if not isinstance(body, dict):
        raise bad_request("リクエストの形式に誤りがあります。JSON形式で指定してください。")
    value = body.get("gbiz_id")
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise bad_request("gbiz_id（GビズIDのアカウントID）は1文字以上128文字以内で指定してください。")
    return value


def _gbiz_account(session: Session, username: str) -> Account:
    acc = session.scalars(select(Account).where(Account.username == username)).first()
    if acc is None or acc.idp != GBIZID or acc.disabled:
        raise bad_request(f"指定されたGビズIDのアカウント({username})は存在しません。")
    return acc


def as_dict(s: ShareSetting, gbiz_id: str) -> dict[str, str]:
    return {"gbiz_id": gbiz_id, "official_doc_permission": s.official_doc_permission,
            "post_doc_permission": s.post_doc_permission}


class SharingService:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def _own(self, owner_id: int, grantee_id: int) -> ShareSetting | None:
        return self.session.scalars(select(ShareSetting).where(
            ShareSetting.owner_id == owner_id, ShareSetting.grantee_id == grantee_id,
            ShareSetting.state != "denied")).first()

    def current(self, owner_id: int) -> tuple[ShareSetting, str] | None:
        """The account's share. The document's share_setting_list is one object, so there is one at most."""
        row = self.session.scalars(select(ShareSetting).where(
            ShareSetting.owner_id == owner_id, ShareSetting.state != "denied").order_by(ShareSetting.id)).first()
        if row is None:
            return None
        grantee = self.session.get(Account, row.grantee_id)
        return row, grantee.username if grantee else "-"

    def create(self, owner_id: int, body: Any) -> ShareSetting:
        target = _gbiz_account(self.session, _gbiz_id(body))
        official, post = _permission(body, "official_doc_permission"), _permission(body, "post_doc_permission")
        if target.id == owner_id:
            raise bad_request("自分自身のアカウントとは情報共有できません。")
        if self.current(owner_id) is not None:
            raise bad_request("既に情報共有が設定されています。情報共有更新または情報共有解除を行ってください。")
        row = ShareSetting(owner_id=owner_id, grantee_id=target.id, official_doc_permission=official,
                           post_doc_permission=post, state="pending", created_at=self.now)
        self.session.add(row)
        self.session.flush()
        return row

    def update(self, owner_id: int, body: Any) -> ShareSetting:
        target = _gbiz_account(self.session, _gbiz_id(body))
        official, post = _permission(body, "official_doc_permission"), _permission(body, "post_doc_permission")
        row = self._own(owner_id, target.id)
        if row is None:
            raise bad_request(f"指定されたGビズIDのアカウント({target.username})との情報共有は設定されていません。")
        row.official_doc_permission, row.post_doc_permission = official, post
        return row

    def delete(self, owner_id: int, body: Any) -> str:
        target = _gbiz_account(self.session, _gbiz_id(body))
        row = self._own(owner_id, target.id)
        if row is None:
            raise bad_request(f"指定されたGビズIDのアカウント({target.username})との情報共有は設定されていません。")
        self.session.delete(row)
        return target.username

    def confirm(self, grantee_id: int, body: Any) -> tuple[str, str]:
        owner = _gbiz_account(self.session, _gbiz_id(body))
        acceptance = body.get("share_acceptance")
        if acceptance not in ACCEPTANCES:
            raise bad_request("share_acceptanceはACCEPTまたはDENYを指定してください。")
        row = self.session.scalars(select(ShareSetting).where(
            ShareSetting.owner_id == owner.id, ShareSetting.grantee_id == grantee_id,
            ShareSetting.state == "pending")).first()
        if row is None:
            raise bad_request(f"指定されたGビズIDのアカウント({owner.username})からの共有依頼はありません。")
        row.state = "accepted" if acceptance == "ACCEPT" else "denied"
        row.decided_at = self.now
        return owner.username, acceptance

    def owners_sharing_with(self, grantee_id: int, kind: str, need: str) -> list[int]:
        """Accounts that granted `grantee_id` at least `need` (READ < DOWNLOAD) on `kind` (official | post)."""
        column = ShareSetting.official_doc_permission if kind == "official" else ShareSetting.post_doc_permission
        allowed = PERMISSIONS[PERMISSIONS.index(need):]
        rows = self.session.scalars(select(ShareSetting.owner_id).where(
            ShareSetting.grantee_id == grantee_id, ShareSetting.state == "accepted",
            or_(*(column == p for p in allowed))))
        return list(rows)
