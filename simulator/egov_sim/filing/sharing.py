"""アカウント間情報共有 (share-setting, share-confirmation) and what a grant lets the grantee see.

Only GビズID logins may share (the API document says so); an owner asks, the grantee confirms with
ACCEPT or DENY. An accepted READ lets the grantee see the owner's cases and their official documents
(or 電子送達) in lists and details; DOWNLOAD also lets it fetch the files. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from ..store.models import Account, ShareSetting
from .cases import FilingService
from .errors import bad_request

PERMISSIONS = ("READ", "DOWNLOAD")
ACCEPTANCES = ("ACCEPT", "DENY")
GBIZID = "gbizid"


@dataclass(frozen=True)
class ShareGrant:
    """What an owner grants a GビズID account (share-setting POST / PUT)."""

    gbiz_id: str
    official_doc_permission: str  # READ | DOWNLOAD
    post_doc_permission: str


def require_gbizid(idp: str) -> None:
    if idp != GBIZID:
        raise bad_request("アカウント間情報共有は、GビズIDでログインしている場合のみ利用できます。")


def _gbiz_account(f: FilingService, username: str) -> Account:
    acc = f.session.scalars(select(Account).where(Account.username == username)).first()
    if acc is None or acc.idp != GBIZID or acc.disabled:
        raise bad_request(f"指定されたGビズIDのアカウント({username})は存在しません。")
    return acc


def as_dict(s: ShareSetting, gbiz_id: str) -> dict[str, str]:
    return {"gbiz_id": gbiz_id, "official_doc_permission": s.official_doc_permission,
            "post_doc_permission": s.post_doc_permission}


def _own(f: FilingService, owner_id: int, grantee_id: int) -> ShareSetting | None:
    return f.session.scalars(select(ShareSetting).where(
        ShareSetting.owner_id == owner_id, ShareSetting.grantee_id == grantee_id,
        ShareSetting.state != "denied")).first()


def current(f: FilingService, owner_id: int) -> tuple[ShareSetting, str] | None:
    """The account's share. The document's share_setting_list is one object, so there is one at most."""
    row = f.session.scalars(select(ShareSetting).where(
        ShareSetting.owner_id == owner_id, ShareSetting.state != "denied").order_by(ShareSetting.id)).first()
    if row is None:
        return None
    grantee = f.session.get(Account, row.grantee_id)
    return row, grantee.username if grantee else "-"


def create(f: FilingService, owner_id: int, grant: ShareGrant) -> ShareSetting:
    target = _gbiz_account(f, grant.gbiz_id)
    if target.id == owner_id:
        raise bad_request("自分自身のアカウントとは情報共有できません。")
    if current(f, owner_id) is not None:
        raise bad_request("既に情報共有が設定されています。情報共有更新または情報共有解除を行ってください。")
    row = ShareSetting(owner_id=owner_id, grantee_id=target.id, official_doc_permission=grant.official_doc_permission,
                       post_doc_permission=grant.post_doc_permission, state="pending", created_at=f.now)
    f.session.add(row)
    f.session.flush()
    return row


def update(f: FilingService, owner_id: int, grant: ShareGrant) -> ShareSetting:
    target = _gbiz_account(f, grant.gbiz_id)
    row = _own(f, owner_id, target.id)
    if row is None:
        raise bad_request(f"指定されたGビズIDのアカウント({target.username})との情報共有は設定されていません。")
    row.official_doc_permission, row.post_doc_permission = grant.official_doc_permission, grant.post_doc_permission
    return row


def delete(f: FilingService, owner_id: int, gbiz_id: str) -> str:
    target = _gbiz_account(f, gbiz_id)
    row = _own(f, owner_id, target.id)
    if row is None:
        raise bad_request(f"指定されたGビズIDのアカウント({target.username})との情報共有は設定されていません。")
    f.session.delete(row)
    return target.username


def confirm(f: FilingService, grantee_id: int, gbiz_id: str, acceptance: str) -> tuple[str, str]:
    owner = _gbiz_account(f, gbiz_id)
    row = f.session.scalars(select(ShareSetting).where(
        ShareSetting.owner_id == owner.id, ShareSetting.grantee_id == grantee_id,
        ShareSetting.state == "pending")).first()
    if row is None:
        raise bad_request(f"指定されたGビズIDのアカウント({owner.username})からの共有依頼はありません。")
    row.state = "accepted" if acceptance == "ACCEPT" else "denied"
    row.decided_at = f.now
    return owner.username, acceptance


def owners_sharing_with(f: FilingService, grantee_id: int, kind: str, need: str) -> list[int]:
    """Accounts that granted `grantee_id` at least `need` (READ < DOWNLOAD) on `kind` (official | post)."""
    column = ShareSetting.official_doc_permission if kind == "official" else ShareSetting.post_doc_permission
    allowed = PERMISSIONS[PERMISSIONS.index(need):]
    rows = f.session.scalars(select(ShareSetting.owner_id).where(
        ShareSetting.grantee_id == grantee_id, ShareSetting.state == "accepted",
        or_(*(column == p for p in allowed))))
    return list(rows)
