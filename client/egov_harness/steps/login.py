"""Login (e-Gov account through the auth server's login page), tokens, refresh and logout."""

from __future__ import annotations

import secrets
from datetime import timedelta

from egov_client.auth import AuthError, login_with_form
from egov_client.errors import UnauthorizedError
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .common import assert_message


def _login(ctx: ScenarioContext, alias: str, *, wrong_password: bool = False) -> None:
    account = ctx.find_account(alias)
    password = account.password + secrets.token_hex(2) if wrong_password else account.password
    tokens = ctx.attempt(lambda: login_with_form(ctx.target.endpoint, account.username, password, http=ctx.http()))
    if tokens is not None:
        ctx.use_tokens(account, tokens)


@given(parsers.parse("「{alias}」のe-Govアカウントでログインしている"))
def _logged_in(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias)
    egov_context.expect_success()


@when(parsers.parse("「{alias}」のe-Govアカウントでログインする"))
def _log_in(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias)


@when(parsers.parse("「{alias}」のe-Govアカウントに誤ったパスワードでログインする"))
def _log_in_wrong(egov_context: ScenarioContext, alias: str) -> None:
    _login(egov_context, alias, wrong_password=True)


@then("ログインに成功し、アクセストークンとリフレッシュトークンを受け取る")
def _login_succeeded(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    tokens = egov_context.logged_in().tokens
    assert tokens is not None and tokens.access_token and tokens.refresh_token, "no tokens after login"
    assert not tokens.needs_refresh(margin=timedelta(0)), "the access token arrived already expired"


@then(parsers.parse("トークンの利用者は「{alias}」のアカウントである"))
def _token_user(egov_context: ScenarioContext, alias: str) -> None:
    info = egov_context.logged_in().introspect()
    assert info.get("active") is True, f"the access token is not active: {info}"
    assert info.get("username") == egov_context.find_account(alias).username, f"introspection says {info}"


@then(parsers.parse("ログインは「{message}」というメッセージで拒否される"))
def _login_refused(egov_context: ScenarioContext, message: str) -> None:
    error = egov_context.expect_error(AuthError)
    assert_message(error, message)
    assert egov_context.client is None


@then("アクセストークンは自動で更新されている")
def _refreshed(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    now = egov_context.logged_in().tokens
    before = egov_context.login_tokens
    assert now is not None and before is not None
    assert now.access_token != before.access_token, "the client kept the expired access token"


@when("ログアウトする")
def _logout(egov_context: ScenarioContext) -> None:
    client = egov_context.logged_in()
    egov_context.notes["tokens_before_logout"] = client.tokens
    egov_context.attempt(client.logout)


@then("ログアウト前のアクセストークンは無効になっている")
def _revoked(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    old = egov_context.notes["tokens_before_logout"]
    info = egov_context.logged_in().auth.introspect(old.access_token)
    assert info.get("active") is False, f"the token is still active after logout: {info}"


@then("再ログインが必要になる")
def _login_required(egov_context: ScenarioContext) -> None:
    egov_context.expect_error(UnauthorizedError)
