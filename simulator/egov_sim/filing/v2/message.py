"""手続に関するご案内: the catalogue's messages, lists and one message."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from . import parse
from .render import ok, page
from .unit_of_work import backend

bp = Blueprint("message", __name__)


@bp.get("/message/lists")
def list_messages() -> Any:
    period = parse.period()
    with backend() as b:
        return page("手続に関するご案内一覧取得", "information_list", b.list_messages(period), period)


@bp.get("/message/<information_id>")
def get_message(information_id: str) -> Any:
    information_id = parse.information_id(information_id)
    with backend() as b:
        return ok("手続に関するご案内取得", b.get_message(information_id))
