"""「GビズIDでログイン」: e-Gov's login through GビズID, with the second factor (SMS or authenticator app).

The one-time code is read where the simulator "sends" it (its SMS outbox, or what the authenticator
app shows), so these steps need a simulator: nobody's phone is at hand in CI.
"""

from __future__ import annotations

from urllib.parse import quote

from egov_client.admin import SimulatorAdmin
from egov_client.gbizid import OneTimeCode, login_egov_with_gbizid
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext

ACCOUNT_TYPES = {"エントリー": "1", "プライム": "2", "メンバー": "3"}


def phone(admin: SimulatorAdmin, account_id: str) -> OneTimeCode:
    """The user's phone, played by the simulator: the latest SMS, or the authenticator app's code."""

    def read(factor: str) -> str:
        if factor == "app":
            return str(admin.call("GET", f"/gbizid/accounts/{quote(account_id)}/app/code")["code"])
        messages = admin.outbox(account_id, limit=1)
        assert messages, f"no SMS was sent to {account_id}"
        return str(messages[0]["code"])
    return read


def _login(ctx: ScenarioContext, alias: str, *, code: str | None = None) -> None:
    account = ctx.find_gbizid_account(alias)
    admin = ctx.admin("GビズIDの二要素認証（確認コードを受け取る電話）")
    codes = phone(admin, account.username) if code is None else (lambda factor: code)
    ctx.notes["gbizid_account"] = account
    tokens = ctx.attempt(lambda: login_egov_with_gbizid(ctx.target.endpoint, account.username, account.password,
                                                        http=ctx.http(), one_time_code=codes))
    if tokens is not None:
        ctx.use_tokens(account, tokens)


@given(parsers.parse("「{alias}」のGビズIDでログインしている"))
def _logged_in(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias)
    egov_context.expect_success()


@when(parsers.parse("「{alias}」のGビズIDで「GビズIDでログイン」からログインする"))
def _log_in(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias)


@when(parsers.parse("「{alias}」のGビズIDで、誤った確認コードを入れてログインする"))
def _log_in_wrong_code(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias, code="000000")


@given(parsers.parse("GビズIDアカウント「{alias}」は利用停止されている"))
def _suspended(egov_context: ScenarioContext, alias: str) -> None:
    account = egov_context.find_gbizid_account(alias)
    egov_context.admin("GビズIDアカウントの利用停止").call("POST", f"/gbizid/accounts/{quote(account.username)}/suspend")


@then(parsers.parse("確認コードがSMSで「{alias}」の携帯電話に送られた"))
def _sms_sent(egov_context: ScenarioContext, alias: str) -> None:
    account = egov_context.find_gbizid_account(alias)
    messages = egov_context.admin("SMSの送信記録").outbox(account.username, limit=1)
    assert messages and str(messages[0].get("code", "")).isdigit(), f"no SMS with a code: {messages}"


@then(parsers.parse("「{alias}」の携帯電話にSMSは送られていない"))
def _no_sms(egov_context: ScenarioContext, alias: str) -> None:
    account = egov_context.find_gbizid_account(alias)
    assert egov_context.admin("SMSの送信記録").outbox(account.username, limit=1) == []


@then(parsers.parse("e-GovのトークンはGビズID（{kind}）でのログインを示している"))
def _gbizid_token(egov_context: ScenarioContext, kind: str) -> None:
    info = egov_context.logged_in().introspect()
    assert info.get("active") is True, info
    assert info.get("egov_idp") == "gbizid", f"the token's IdP is {info.get('egov_idp')!r}"
    assert info.get("egov_gbizid_account_type") == ACCOUNT_TYPES[kind], info
    assert info.get("username") == egov_context.notes["gbizid_account"].username, info
