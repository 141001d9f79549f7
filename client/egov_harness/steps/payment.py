"""電子納付: the payment information of an arrival, the banks, the payment site, paid and expired."""

from __future__ import annotations

from datetime import timedelta

from pytest_bdd import parsers, then, when

from ..context import ScenarioContext
from .cases import fetch_application


def _payment(ctx: ScenarioContext):  # type: ignore[no-untyped-def]
    result = ctx.result
    assert result is not None and result.payments, f"the arrival carries no payment: {result}"
    return result.payments[0]


@then(parsers.parse("到達の応答に手数料{fee:d}円の納付情報があり、納付期限は到達日の{days:d}日後である"))
def _payment_info(egov_context: ScenarioContext, fee: int, days: int) -> None:
    egov_context.expect_success()
    pay = _payment(egov_context)
    assert pay.total_fee == fee, pay
    assert len(pay.pay_number) == 16 and len(pay.confirm_number) == 6 and len(pay.facility_number) == 5, pay
    assert pay.pay_expired == egov_context.result.arrive_date.date() + timedelta(days=days), pay


@then(parsers.parse("納付状況は「{status}」である"))
def _pay_status(egov_context: ScenarioContext, status: str) -> None:
    assert fetch_application(egov_context).pay_status == status, egov_context.application


@then(parsers.parse("納付先の金融機関に「{bank}」がある"))
def _bank_listed(egov_context: ScenarioContext, bank: str) -> None:
    banks = egov_context.logged_in().list_banks()["bank_list"]
    groups = [g for kind in banks.values() for g in (kind if isinstance(kind, list) else [kind])]
    names = {b["financial_name"] for group in groups for b in group.get("bank", [])}  # trust_bank: by initial
    assert bank in names, f"{bank} is not among {len(names)} banks"


@when(parsers.parse("「{bank}」の納付サイトを開く"))
def _open_site(egov_context: ScenarioContext, bank: str) -> None:
    ctx = egov_context
    pay = _payment(ctx)
    proc_id = ctx.package.proc_id if ctx.package else ""
    ctx.notes["payment_site"] = ctx.attempt(lambda: ctx.logged_in().payment_site(ctx.last_arrive_id(), pay.pay_number,
                                                                                   bank, proc_id))


@then("納付サイトのURLと、納付番号を含む連携データを受け取る")
def _site(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    site = egov_context.notes["payment_site"]
    pay = _payment(egov_context)
    assert site.url.startswith("https://") and site.facility_number == pay.facility_number, site
    assert pay.pay_number in site.information_link_data.decode("shift_jis"), "the link data lacks the pay number"


@when("金融機関で納付する")
def _pay(egov_context: ScenarioContext) -> None:
    egov_context.admin("金融機関での納付").pay(egov_context.last_arrive_id())


@then("納付日が記録されている")
def _pay_date(egov_context: ScenarioContext) -> None:
    details = egov_context.logged_in().get_payment(egov_context.last_arrive_id())
    assert details.payments and details.payments[0].pay_date is not None, details
