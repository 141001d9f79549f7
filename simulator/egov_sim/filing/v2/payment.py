"""電子納付: the bank list, a case's payments, and the hand-off to a bank site."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g

from . import parse
from .render import ok
from .unit_of_work import backend

bp = Blueprint("payment", __name__)


@bp.get("/payment/lists")
def list_banks() -> Any:
    with backend() as b:
        return ok("国庫金電子納付取扱金融機関一覧取得", b.list_banks())


@bp.get("/payment/<arrive_id>")
def get_payment(arrive_id: str) -> Any:
    arrive_id = parse.arrive_id(arrive_id)
    with backend() as b:
        return ok("電子納付情報一覧取得", b.get_payment(g.caller, arrive_id))


@bp.post("/payment")
def payment_site() -> Any:
    body = parse.json_body()
    arrive_id = parse.arrive_id(body.get("arrive_id"))
    pay_number, bank_name = parse.string(body, "pay_number", 16, 16), parse.string(body, "bank_name", 1, 256)
    proc_id = parse.string(body, "proc_id", 16, 16)
    with backend() as b:
        return ok("電子納付金融機関サイト表示", b.payment_site(g.caller, arrive_id, pay_number, bank_name, proc_id))
