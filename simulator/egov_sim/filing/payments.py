"""電子納付: the bank list, a case's payment information, the hand-off to a bank site, and paying.

Payments come from scenario steps (timeline.py): pay_number 16, confirm_number 6, facility_number 5,
total_fee and a deadline. pay_status is derived: 納付待ち → 納付済み (a `pay` action; the admin API
stands in for the bank) or 納付期限切れ once the deadline has passed.
"""

from __future__ import annotations

import base64
from typing import Any

from ..store.models import ApplicationAction
from . import presentation
from .access import find_case
from .cases import Caller, FilingService
from .errors import bad_request
from .timeline import PAY_WAITING, Payment

TREASURY_MONEY_CODE = "1"  # 国庫金
PARAMETER_TAG_NAME = "EPAYINFO"

# 国庫金電子納付取扱金融機関 (names as the public list shows them; URLs are the banks' own domains).
TRUST_BANKS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("あ", [("青森銀行", "あおぎんダイレクト", "https://www.a-bank.jp/")]),
    ("か", [("京都銀行", "京銀インターネットバンキング", "https://www.kyotobank.co.jp/")]),
    ("さ", [("埼玉りそな銀行", "埼玉りそなマイゲート", "https://www.saitamaresona.co.jp/"),
            ("三井住友銀行", "SMBCダイレクト", "https://www.smbc.co.jp/"),
            ("三井住友信託銀行", "インターネットバンキング", "https://www.smtb.jp/")]),
    ("ま", [("みずほ銀行", "みずほダイレクト", "https://www.mizuhobank.co.jp/"),
            ("三菱ＵＦＪ銀行", "三菱ＵＦＪダイレクト", "https://www.bk.mufg.jp/")]),
    ("や", [("ゆうちょ銀行", "ゆうちょダイレクト", "https://www.jp-bank.japanpost.jp/")]),
    ("ら", [("りそな銀行", "りそなマイゲート", "https://www.resonabank.co.jp/")]),
]
SHINKIN = [("城南信用金庫", "https://www.jsbank.co.jp/"), ("京都中央信用金庫", "https://www.chushin.co.jp/")]
CREDIT_UNIONS = [("第一勧業信用組合", "https://www.daiichikanshin.com/")]
NORINCHUKIN = [("農林中央金庫", "https://www.nochubank.or.jp/")]
LABOUR_BANKS = [("中央労働金庫", "https://chuo.rokin.com/")]
LIST_DATE = "2025-04-01"


def bank_list() -> dict[str, Any]:
    def common(banks: list[tuple[str, str]]) -> dict[str, Any]:
        return {"bank": [{"financial_name": n, "url": u} for n, u in banks]}

    return {"bank_list": {
        "trust_bank": [{"initial_name": initial, "bank": [{"financial_name": n, "service_name": s, "url": u}
                                                          for n, s, u in banks]}
                       for initial, banks in TRUST_BANKS],
        "shinkin_bank": common(SHINKIN), "credit_union": common(CREDIT_UNIONS),
        "norinchukin_bank": common(NORINCHUKIN), "labour_bank": common(LABOUR_BANKS)},
        "financial_type_list_date": LIST_DATE}


def _bank_url(name: str) -> str | None:
    for _initial, banks in TRUST_BANKS:
        for n, _s, u in banks:
            if n == name:
                return u
    for n, u in SHINKIN + CREDIT_UNIONS + NORINCHUKIN + LABOUR_BANKS:
        if n == name:
            return u
    return None


def payment_info(f: FilingService, caller: Caller, arrive_id: str) -> dict[str, Any]:
    app = find_case(f, caller, arrive_id)
    state = f.view(app).state
    result: dict[str, Any] = {"arrive_id": app.arrive_id, "proc_name": app.proc_name}
    if state and state.payments:
        result["apply_pay_list"] = [presentation.payment_detail(p, f.now) for p in state.payments]
    return result


def _payment(f: FilingService, caller: Caller, arrive_id: str, pay_number: str) -> tuple[Any, Payment]:
    app = find_case(f, caller, arrive_id)
    state = f.view(app).state
    pay = next((p for p in (state.payments if state else []) if p.pay_number == pay_number), None)
    if pay is None:
        raise bad_request("指定された納付番号の納付情報は存在しません。")
    return app, pay


def bank_site(f: FilingService, caller: Caller, arrive_id: str, pay_number: str, bank_name: str,
              proc_id: str) -> dict[str, Any]:
    """電子納付金融機関サイト表示: where to send the payer and what to POST there."""
    app, pay = _payment(f, caller, arrive_id, pay_number)
    if proc_id != app.proc_id:
        raise bad_request("手続識別子が申請案件の手続と一致しません。")
    url = _bank_url(bank_name)
    if url is None:
        raise bad_request("指定された金融機関は国庫金電子納付を取り扱っていません。")
    status = pay.status(f.now)
    if status != PAY_WAITING:
        raise bad_request(f"指定された納付情報は納付できません（{status}）。")
    link = (f"収納機関番号={pay.facility_number}&納付番号={pay.pay_number}&確認番号={pay.confirm_number}"
            f"&払込金額={pay.total_fee}&払込期限={pay.expires:%Y%m%d}")
    return {"URL": url, "facility_number": pay.facility_number, "treasury_money_code": TREASURY_MONEY_CODE,
            "parameter_tag_name": PARAMETER_TAG_NAME,
            "information_link_data": base64.b64encode(link.encode("shift_jis")).decode()}


def record_paid(f: FilingService, caller: Caller, arrive_id: str, pay_number: str | None) -> list[str]:
    """The bank's side: mark waiting payments of the case (or one of them) as paid now (once, also when
    the bank's notice comes twice at once)."""
    app = find_case(f, caller, arrive_id)
    f.lock(app)
    state = f.view(app).state
    paid = []
    for p in state.payments if state else []:
        if (pay_number in (None, p.pay_number)) and p.status(f.now) == PAY_WAITING:
            f.session.add(ApplicationAction(application_id=app.id, kind="pay", at=f.now,
                                            data={"pay_number": p.pay_number}))
            paid.append(p.pay_number)
    return paid
