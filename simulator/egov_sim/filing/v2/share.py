"""アカウント間情報共有: share-setting (list, create, update, delete) and share-confirmation."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from . import parse
from .render import ok
from .unit_of_work import backend

bp = Blueprint("share", __name__)


@bp.get("/share-setting/lists")
def get_share_setting() -> Any:
    with backend() as b:
        results = b.get_share_setting(g.caller)
    return ok("情報共有一覧取得", results, resultset={"all_count": 1, "limit": 1, "offset": 0, "count": 1},
              links={"self": request.url})


@bp.post("/share-setting")
def create_share_setting() -> Any:
    grant = parse.share_grant(parse.json_body())
    with backend() as b:
        return ok("情報共有設定", b.create_share_setting(g.caller, grant))


@bp.put("/share-setting")
def update_share_setting() -> Any:
    grant = parse.share_grant(parse.json_body())
    with backend() as b:
        return ok("情報共有更新", b.update_share_setting(g.caller, grant))


@bp.delete("/share-setting")
def delete_share_setting() -> Any:
    gbiz_id = parse.gbiz_id(parse.json_body())
    with backend() as b:
        return ok("情報共有解除", b.delete_share_setting(g.caller, gbiz_id))


@bp.post("/share-confirmation")
def confirm_share() -> Any:
    body = parse.json_body()
    gbiz_id, acceptance = parse.gbiz_id(body), parse.share_acceptance(body)
    with backend() as b:
        return ok("共有設定確認", b.confirm_share(g.caller, gbiz_id, acceptance))
