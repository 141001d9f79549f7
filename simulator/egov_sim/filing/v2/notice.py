"""申請案件に関する通知: lists by issue date and one notice."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from . import parse
from .render import ok, page
from .unit_of_work import backend

bp = Blueprint("notice", __name__)


@bp.get("/notice/lists")
def list_notices() -> Any:
    period = parse.period()
    with backend() as b:
        return page("申請案件に関する通知一覧取得", "notice_list", b.list_notices(g.caller, period), period)


@bp.get("/notice/<arrive_id>/<notice_sub_id>")
def get_notice(arrive_id: str, notice_sub_id: str) -> Any:
    arrive_id, sub_id = parse.arrive_id(arrive_id), parse.notice_sub_id(notice_sub_id)
    with backend() as b:
        return ok("申請案件に関する通知取得", b.get_notice(g.caller, arrive_id, sub_id))
