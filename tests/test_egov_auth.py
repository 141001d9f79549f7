"""The e-Gov auth server (/auth) of the simulator and the client's auth module, end to end."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import lxml.html
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from egov_client.auth import (
    AsyncAuthClient,
    AuthClient,
    AuthError,
    FileTokenStore,
    MemoryTokenStore,
    TokenSet,
    authorization_url,
    basic_authorization,
    login_with_form,
    pkce_pair,
)
from egov_client.config import Endpoint, simulator
from egov_sim.idp import egov_tokens
from egov_sim.idp.egov_tokens import InvalidTokenError, authenticate_bearer, issue_tokens_for
from egov_sim.settings import Settings
from egov_sim.store.models import Account, Software
from flask import Flask
from jsonschema import ValidationError
from openapi_schemas import find_path, validate_response, validate_schema
from werkzeug.security import generate_password_hash

BASE = "http://sim.test"
ISSUER = f"{BASE}/auth"
CLIENT_ID = "sim-test-client"
CLIENT_SECRET = "api:key+with/odd chars"  # needs RFC 6749 §2.3.1 form-encoding inside Basic
REDIRECT_URI = "http://localhost:8765/callback"
OTHER_CLIENT = ("other-client", "other-secret", "http://localhost:9999/cb")
USERNAME = "taro.yamada@example.jp"
PASSWORD = "correct horse battery staple"
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # tests need no slow KDF
WRONG_CREDENTIALS = "メールアドレスまたはパスワードが正しくありません。"


def _make_app(settings: Settings) -> Flask:
    """create_app; while the rest of the app cannot be imported yet, only the auth blueprint."""
    try:
        from egov_sim import create_app

        return create_app(settings)
    except ImportError:
        from egov_sim.clock import Clock
        from egov_sim.idp import egov_auth
        from egov_sim.idp.keys import KeyRing
        from egov_sim.store import Database

        app = Flask("egov_sim")
        db = Database(settings.resolved_database_url)
        db.create_schema()
        app.extensions["egov_sim"] = types.SimpleNamespace(settings=settings, db=db, clock=Clock(db),
                                                           keys=KeyRing(db))
        app.register_blueprint(egov_auth.bp)
        return app


def _add_account(sim: Any, username: str, *, idp: str = "egov", account_type: str | None = None,
                 disabled: bool = False) -> int:
    with sim.db.session() as s:
        account = Account(sub=str(uuid.uuid4()), username=username, password_hash=FAST_HASH,
                          display_name="山田 太郎", idp=idp, gbizid_account_type=account_type, disabled=disabled)
        s.add(account)
        s.flush()
        return account.id


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = _make_app(Settings(database_url="sqlite://", demo_world=False, data_dir=tmp_path, public_url=BASE))
    sim = app.extensions["egov_sim"]
    sim.clock.update(frozen=True)  # virtual time moves only when a test advances it
    with sim.db.session() as s:
        s.add(Software(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, name="テスト用ソフトウェア",
                       redirect_uris=[REDIRECT_URI, "http://127.0.0.1:8765/callback"]))
        s.add(Software(client_id=OTHER_CLIENT[0], client_secret=OTHER_CLIENT[1], name="別ソフトウェア",
                       redirect_uris=[OTHER_CLIENT[2]]))
    _add_account(sim, USERNAME)
    return app


@pytest.fixture
def sim(app: Flask) -> Any:
    return app.extensions["egov_sim"]


@pytest.fixture
def http(app: Flask) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as client:
        yield client


@pytest.fixture
def endpoint() -> Endpoint:
    return simulator(BASE).with_credentials(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)


@pytest.fixture
def auth(endpoint: Endpoint, http: httpx.Client) -> AuthClient:
    return AuthClient(endpoint, http)


@pytest.fixture
def tokens(endpoint: Endpoint, http: httpx.Client) -> TokenSet:
    return login_with_form(endpoint, USERNAME, PASSWORD, http=http)


def advance(sim: Any, **delta: float) -> None:
    sim.clock.update(advance=timedelta(**delta))


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"Authorization": basic_authorization(client_id, secret)}


def auth_params(**overrides: str | None) -> dict[str, str]:
    params = {"client_id": CLIENT_ID, "response_type": "code", "scope": "openid offline_access",
              "redirect_uri": REDIRECT_URI, "state": "st-123"}
    params.update(overrides)  # type: ignore[arg-type]
    return {k: v for k, v in params.items() if v is not None}


def browser_login(http: httpx.Client, **overrides: str | None) -> dict[str, str]:
    """Walk the form by hand; return the callback's query parameters."""
    page = http.get("/auth/auth", params=auth_params(**overrides))
    assert page.status_code == 200, page.text
    form = lxml.html.document_fromstring(page.text).forms[0]
    fields = dict(form.form_values()) | {"username": USERNAME, "password": PASSWORD}
    response = http.post(form.get("action"), data=fields)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token_request(http: httpx.Client, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post("/auth/token", data=form, headers=basic() if headers is None else headers)


def exchange(http: httpx.Client, code: str, verifier: str | None = None, redirect_uri: str = REDIRECT_URI,
             headers: dict[str, str] | None = None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(http, form, headers)


def assert_oauth_error(response: httpx.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    validate_schema("error_token", body)
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description


# ---------------------------------------------------------------------------- login page

def test_login_page_renders_at_the_authorization_url(http: httpx.Client) -> None:
    page = http.get("/auth/auth", params=auth_params())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "e-Govアカウントでログイン" in page.text
    doc = lxml.html.document_fromstring(page.text)
    form = doc.forms[0]
    assert form.get("action") == "/auth/login-actions/authenticate"
    assert form.method.upper() == "POST"
    assert {"username", "password", "login_request"} <= set(form.inputs.keys())
    assert form.inputs["login_request"].type == "hidden"
    assert doc.xpath("//label[@for='username']")[0].text_content() == "メールアドレス"
    assert doc.xpath("//label[@for='password']")[0].text_content() == "パスワード"
    gbizid = doc.xpath("//form[@id='idp-gbizid']")[0]  # 「GビズIDでログイン」: a separate form, no password
    assert gbizid.get("action") == "/auth/broker/gbizid/login"
    assert "GビズIDでログイン" in gbizid.text_content()
    assert set(gbizid.inputs.keys()) == {"login_request"}
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "EGOV_SIM_AUTH_SESSION" in page.headers["set-cookie"]


def test_wrong_password_shows_the_page_again(http: httpx.Client) -> None:
    page = http.get("/auth/auth", params=auth_params())
    form = lxml.html.document_fromstring(page.text).forms[0]
    fields = dict(form.form_values()) | {"username": USERNAME, "password": "wrong"}
    response = http.post(form.get("action"), data=fields)
    assert response.status_code == 200
    assert "location" not in response.headers
    assert WRONG_CREDENTIALS in response.text
    assert f'value="{USERNAME}"' in response.text


def test_login_page_escapes_user_input(http: httpx.Client) -> None:
    page = http.get("/auth/auth", params=auth_params(state="<script>alert(1)</script>"))
    assert "<script>" not in page.text
    form = lxml.html.document_fromstring(page.text).forms[0]
    fields = dict(form.form_values()) | {"username": '"><script>x</script>', "password": "x"}
    response = http.post(form.get("action"), data=fields)
    assert "<script>x" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in response.text  # escaped where it is echoed


def test_login_form_is_bound_to_the_browser(app: Flask, http: httpx.Client) -> None:
    page = http.get("/auth/auth", params=auth_params())
    form = lxml.html.document_fromstring(page.text).forms[0]
    fields = dict(form.form_values()) | {"username": USERNAME, "password": PASSWORD}
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as other_browser:
        response = other_browser.post(form.get("action"), data=fields)
    assert response.status_code == 400
    assert "location" not in response.headers


def test_login_form_expires_on_the_virtual_clock(sim: Any, http: httpx.Client) -> None:
    page = http.get("/auth/auth", params=auth_params())
    form = lxml.html.document_fromstring(page.text).forms[0]
    advance(sim, minutes=31)
    response = http.post(form.get("action"), data=dict(form.form_values()) | {"username": USERNAME,
                                                                               "password": PASSWORD})
    assert response.status_code == 400
    assert "ログインの有効期限が切れました" in response.text


def test_login_with_form_reports_the_page_error(endpoint: Endpoint, http: httpx.Client) -> None:
    with pytest.raises(AuthError) as err:
        login_with_form(endpoint, USERNAME, "wrong", http=http)
    assert err.value.error == "login_failed"
    assert err.value.error_description == WRONG_CREDENTIALS


def test_login_with_form_reports_a_redirected_error(endpoint: Endpoint, http: httpx.Client) -> None:
    with pytest.raises(AuthError) as err:
        login_with_form(endpoint, USERNAME, PASSWORD, http=http, scope="profile")
    assert err.value.error == "invalid_scope"


def test_unknown_user_and_disabled_account_are_refused(sim: Any, endpoint: Endpoint, http: httpx.Client) -> None:
    with pytest.raises(AuthError, match=WRONG_CREDENTIALS):
        login_with_form(endpoint, "nobody@example.jp", PASSWORD, http=http)
    _add_account(sim, "disabled@example.jp", disabled=True)
    with pytest.raises(AuthError, match="このアカウントは利用できません"):
        login_with_form(endpoint, "disabled@example.jp", PASSWORD, http=http)


# ---------------------------------------------------------------------------- authorization request errors

@pytest.mark.parametrize("overrides", [
    {"redirect_uri": "http://localhost:8765/callback/evil"},
    {"redirect_uri": None},
    {"client_id": "no-such-client"},
    {"client_id": None},
])
def test_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(http: httpx.Client,
                                                                          overrides: dict[str, str | None]) -> None:
    response = http.get("/auth/auth", params=auth_params(**overrides))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "エラーが発生しました" in response.text


@pytest.mark.parametrize(("overrides", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "offline_access"}, "invalid_scope"),
    ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "a" * 43}, "invalid_request"),  # no method means plain
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
])
def test_other_request_errors_redirect_with_error_and_state(http: httpx.Client, overrides: dict[str, str | None],
                                                             error: str) -> None:
    response = http.get("/auth/auth", params=auth_params(**overrides))
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert query["error_description"][0]
    assert query["state"] == ["st-123"]


def test_redirect_uri_query_is_kept(sim: Any, http: httpx.Client) -> None:
    with sim.db.session() as s:
        s.get(Software, CLIENT_ID).redirect_uris = [*s.get(Software, CLIENT_ID).redirect_uris, "http://localhost/cb?x=1"]
    page = http.get("/auth/auth", params=auth_params(redirect_uri="http://localhost/cb?x=1"))
    form = lxml.html.document_fromstring(page.text).forms[0]
    response = http.post(form.get("action"), data=dict(form.form_values()) | {"username": USERNAME,
                                                                               "password": PASSWORD})
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["x"] == ["1"] and query["code"]


# ---------------------------------------------------------------------------- code flow

def test_full_code_flow_with_pkce(endpoint: Endpoint, http: httpx.Client) -> None:
    before = datetime.now(UTC)
    tokens = login_with_form(endpoint, USERNAME, PASSWORD, http=http, state="my-state")
    validate_schema("results_token", tokens.raw)
    validate_response("/token", "post", 200, tokens.raw)
    assert tokens.raw["token_type"] == "Bearer"
    assert tokens.raw["expires_in"] == 3600
    assert tokens.raw["refresh_expires_in"] == 15552000
    assert tokens.raw["not-before-policy"] == 0
    assert tokens.scope == "openid offline_access"
    assert list(tokens.raw) == ["access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
                                "id_token", "not-before-policy", "session_state", "scope"]
    assert before + timedelta(seconds=3590) < tokens.expires_at <= datetime.now(UTC) + timedelta(seconds=3600)
    assert tokens.refresh_expires_at is not None
    assert tokens.refresh_expires_at - tokens.expires_at == timedelta(seconds=15552000 - 3600)


def test_state_echo_and_session_state(http: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    callback = browser_login(http, code_challenge=challenge, code_challenge_method="S256", state="xyz-state")
    assert callback["state"] == "xyz-state"
    assert set(callback) == {"code", "state", "session_state"}
    response = exchange(http, callback["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.json()["session_state"] == callback["session_state"]
    assert response.headers["Cache-Control"] == "no-store"


def test_flow_without_pkce_and_state(http: httpx.Client) -> None:
    callback = browser_login(http, state=None)
    assert "state" not in callback
    assert exchange(http, callback["code"]).status_code == 200


def test_access_token_claims(sim: Any, tokens: TokenSet) -> None:
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert claims["typ"] == "Bearer"
    assert claims["iss"] == ISSUER
    assert claims["azp"] == CLIENT_ID
    assert claims["aud"] == "account"
    assert claims["session_state"] == claims["sid"] == tokens.session_state
    assert claims["preferred_username"] == claims["email"] == USERNAME
    assert claims["egov_idp"] == "egov"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iat"] == int(sim.clock.now().replace(tzinfo=egov_tokens.JST).timestamp())  # virtual time
    id_claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    assert id_claims["typ"] == "ID" and id_claims["aud"] == CLIENT_ID and id_claims["sub"] == claims["sub"]
    assert id_claims["at_hash"]


def test_nonce_goes_into_the_id_token(http: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    callback = browser_login(http, code_challenge=challenge, code_challenge_method="S256", nonce="n-0S6")
    body = exchange(http, callback["code"], verifier).json()
    assert jwt.decode(body["id_token"], options={"verify_signature": False})["nonce"] == "n-0S6"


def test_bad_client_secret_is_401_invalid_client(http: httpx.Client) -> None:
    callback = browser_login(http)
    response = exchange(http, callback["code"], headers=basic(secret="wrong"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    validate_response("/token", "post", 401, response.json())


def test_missing_or_malformed_client_authentication(http: httpx.Client) -> None:
    form = {"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT_URI}
    assert_oauth_error(token_request(http, form, headers={}), 401, "invalid_client")
    assert_oauth_error(token_request(http, form, headers={"Authorization": "Basic !!!"}), 401, "invalid_client")
    raw = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()  # not form-encoded
    assert_oauth_error(token_request(http, form, headers={"Authorization": f"Basic {raw}"}), 401, "invalid_client")


def test_code_reuse_is_refused_and_revokes_the_session(sim: Any, http: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    callback = browser_login(http, code_challenge=challenge, code_challenge_method="S256")
    first = exchange(http, callback["code"], verifier)
    assert first.status_code == 200
    assert_oauth_error(exchange(http, callback["code"], verifier), 400, "invalid_grant", "Code not valid")
    with pytest.raises(InvalidTokenError, match="Session not active"):
        authenticate_bearer(sim, first.json()["access_token"])


def test_code_expires_after_60_virtual_seconds(sim: Any, http: httpx.Client) -> None:
    callback = browser_login(http)
    advance(sim, seconds=61)
    assert_oauth_error(exchange(http, callback["code"]), 400, "invalid_grant", "Code not valid")


def test_code_is_valid_just_before_60_seconds(sim: Any, http: httpx.Client) -> None:
    callback = browser_login(http)
    advance(sim, seconds=59)
    assert exchange(http, callback["code"]).status_code == 200


def test_unknown_code_and_code_of_another_client(http: httpx.Client) -> None:
    assert_oauth_error(exchange(http, "nope"), 400, "invalid_grant", "Code not valid")
    callback = browser_login(http)
    other = basic(OTHER_CLIENT[0], OTHER_CLIENT[1])
    assert_oauth_error(exchange(http, callback["code"], headers=other), 400, "invalid_grant", "Code not valid")


def test_pkce_mismatch(http: httpx.Client) -> None:
    _, challenge = pkce_pair()
    callback = browser_login(http, code_challenge=challenge, code_challenge_method="S256")
    other_verifier, _ = pkce_pair()
    assert_oauth_error(exchange(http, callback["code"], other_verifier), 400, "invalid_grant",
                       "PKCE verification failed: Code mismatch")


def test_pkce_verifier_required_when_a_challenge_was_sent(http: httpx.Client) -> None:
    _, challenge = pkce_pair()
    callback = browser_login(http, code_challenge=challenge, code_challenge_method="S256")
    assert_oauth_error(exchange(http, callback["code"]), 400, "invalid_grant")


def test_redirect_uri_must_match_the_authorization_request(http: httpx.Client) -> None:
    callback = browser_login(http)
    response = exchange(http, callback["code"], redirect_uri="http://127.0.0.1:8765/callback")
    assert_oauth_error(response, 400, "invalid_grant", "Incorrect redirect_uri")


def test_grant_type_errors(http: httpx.Client) -> None:
    assert_oauth_error(token_request(http, {"grant_type": "magic"}), 400, "unsupported_grant_type")
    assert_oauth_error(token_request(http, {"grant_type": "password", "username": USERNAME}), 400,
                       "unauthorized_client")
    assert_oauth_error(token_request(http, {}), 400, "invalid_request")


def test_token_endpoint_wants_a_form(http: httpx.Client) -> None:
    response = http.post("/auth/token", json={"grant_type": "refresh_token"}, headers=basic())
    assert_oauth_error(response, 400, "invalid_request")
    response = http.get("/auth/token")
    assert_oauth_error(response, 405, "method_not_allowed")
    validate_response("/token", "post", 405, response.json())
    body = urlencode([("grant_type", "refresh_token"), ("grant_type", "authorization_code")])
    response = http.post("/auth/token", content=body, headers={
        **basic(), "Content-Type": "application/x-www-form-urlencoded"})
    assert_oauth_error(response, 400, "invalid_request")


# ---------------------------------------------------------------------------- refresh

def test_refresh_rotates_the_refresh_token(auth: AuthClient, tokens: TokenSet) -> None:
    renewed = auth.refresh(tokens.refresh_token)
    validate_schema("results_token", renewed.raw)
    assert renewed.refresh_token != tokens.refresh_token
    assert renewed.access_token != tokens.access_token
    assert renewed.session_state == tokens.session_state
    with pytest.raises(AuthError) as err:
        auth.refresh(tokens.refresh_token)
    assert (err.value.status, err.value.error) == (400, "invalid_grant")
    with pytest.raises(AuthError) as err:  # the reuse ended the session: its newer token too (RFC 9700 §4.14.2)
        auth.refresh(renewed.refresh_token)
    assert err.value.error_description == "Session not active"


def test_refresh_token_of_another_client_is_refused(endpoint: Endpoint, http: httpx.Client,
                                                    tokens: TokenSet) -> None:
    other = AuthClient(endpoint.with_credentials(OTHER_CLIENT[0], OTHER_CLIENT[1], OTHER_CLIENT[2]), http)
    with pytest.raises(AuthError, match="invalid_grant"):
        other.refresh(tokens.refresh_token)


def test_access_token_expires_after_3600_virtual_seconds(sim: Any, auth: AuthClient, tokens: TokenSet) -> None:
    context = authenticate_bearer(sim, tokens.access_token, issuer=ISSUER)
    assert context.username == USERNAME and context.client_id == CLIENT_ID and context.idp == "egov"
    assert context.session_id == tokens.session_state
    advance(sim, seconds=3599)
    authenticate_bearer(sim, tokens.access_token)
    advance(sim, seconds=2)
    with pytest.raises(InvalidTokenError, match="Token expired"):
        authenticate_bearer(sim, tokens.access_token)
    assert auth.introspect(tokens.access_token) == {"active": False}
    renewed = auth.refresh(tokens.refresh_token)  # the refresh token lives on
    assert authenticate_bearer(sim, renewed.access_token).sub == context.sub


def test_refresh_token_expires_after_180_virtual_days(sim: Any, auth: AuthClient, tokens: TokenSet) -> None:
    advance(sim, days=180, seconds=1)
    with pytest.raises(AuthError) as err:
        auth.refresh(tokens.refresh_token)
    assert (err.value.error, err.value.error_description) == ("invalid_grant", "Token is not active")


# ---------------------------------------------------------------------------- introspection

def test_introspect_access_token(auth: AuthClient, tokens: TokenSet) -> None:
    body = auth.introspect(tokens.access_token, "access_token")
    validate_schema("results_introspect", body)
    validate_response("/token/introspect", "post", 200, body)
    assert body["active"] is True
    assert body["typ"] == "Bearer"
    assert body["client_id"] == body["azp"] == CLIENT_ID
    assert body["username"] == body["email"] == USERNAME
    assert body["egov_idp"] == "egov"
    assert body["acr"] == "1"
    assert body["session_state"] == body["sid"] == tokens.session_state
    assert body["scope"] == "openid offline_access"
    assert "egov_extidp_auth_time" not in body and "egov_gbizid_account_type" not in body
    assert {"exp", "iat", "auth_time", "jti", "iss", "aud", "sub", "email_verified"} <= set(body)


def test_introspect_refresh_token_omits_access_only_fields(auth: AuthClient, tokens: TokenSet) -> None:
    body = auth.introspect(tokens.refresh_token)
    validate_schema("results_introspect", body)
    assert body["active"] is True and body["typ"] == "Refresh"
    assert not {"auth_time", "email", "email_verified", "acr", "egov_idp"} & set(body)
    auth.refresh(tokens.refresh_token)
    assert auth.introspect(tokens.refresh_token) == {"active": False}  # used up by rotation


def test_introspect_inactive_tokens(auth: AuthClient, tokens: TokenSet) -> None:
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    foreign = jwt.encode(claims, foreign_key, algorithm="RS256", headers={"kid": "x"})
    for token in ("garbage", foreign, tokens.id_token, tokens.access_token[:-4] + "AAAA"):
        body = auth.introspect(token)
        assert body == {"active": False}
        validate_schema("results_introspect", body)


def test_introspect_needs_client_authentication(http: httpx.Client, tokens: TokenSet) -> None:
    response = http.post("/auth/token/introspect", data={"token": tokens.access_token},
                         headers=basic(secret="nope"))
    assert_oauth_error(response, 401, "invalid_client")
    response = http.post("/auth/token/introspect", data={}, headers=basic())
    assert_oauth_error(response, 400, "invalid_request")


def test_gbizid_account_tokens(sim: Any, auth: AuthClient) -> None:
    account_id = _add_account(sim, "prime@example.co.jp", idp="gbizid", account_type="2")
    body = issue_tokens_for(sim, account_id, CLIENT_ID, ISSUER)
    validate_schema("results_token", body)
    info = auth.introspect(body["access_token"])
    validate_schema("results_introspect", info)
    assert info["egov_idp"] == "gbizid"
    assert info["egov_gbizid_account_type"] == "2"
    assert info["egov_extidp_auth_time"] == info["auth_time"] * 1000
    context = authenticate_bearer(sim, body["access_token"])
    assert (context.idp, context.gbizid_account_type, context.account_id) == ("gbizid", "2", account_id)


def test_issue_tokens_for_on_a_fresh_database_file(tmp_path: Path) -> None:
    """The signing key is created on first use, outside the token transaction (SQLite: one writer)."""
    app = _make_app(Settings(database_url=f"sqlite:///{tmp_path / 'fresh.sqlite'}", demo_world=False,
                             data_dir=tmp_path, public_url=BASE))
    sim = app.extensions["egov_sim"]
    with sim.db.session() as s:
        s.add(Software(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, name="x", redirect_uris=[]))
    account_id = _add_account(sim, USERNAME)
    body = issue_tokens_for(sim, account_id, CLIENT_ID, ISSUER)
    assert authenticate_bearer(sim, body["access_token"], issuer=ISSUER).account_id == account_id
    sim.db.dispose()


# ---------------------------------------------------------------------------- logout

def test_logout_revokes_everything(sim: Any, http: httpx.Client, auth: AuthClient, tokens: TokenSet) -> None:
    response = http.post("/auth/logout", data={"refresh_token": tokens.refresh_token}, headers=basic())
    assert response.status_code == 204
    assert response.content == b""
    assert auth.introspect(tokens.access_token) == {"active": False}
    assert auth.introspect(tokens.refresh_token) == {"active": False}
    with pytest.raises(AuthError) as err:
        auth.refresh(tokens.refresh_token)
    assert err.value.error_description == "Session not active"
    with pytest.raises(InvalidTokenError, match="Session not active"):
        authenticate_bearer(sim, tokens.access_token)
    auth.logout(tokens.refresh_token)  # idempotent


def test_logout_refuses_bad_tokens(auth: AuthClient, endpoint: Endpoint, http: httpx.Client,
                                   tokens: TokenSet) -> None:
    with pytest.raises(AuthError, match="invalid_grant"):
        auth.logout(tokens.access_token)
    other = AuthClient(endpoint.with_credentials(OTHER_CLIENT[0], OTHER_CLIENT[1]), http)
    with pytest.raises(AuthError, match="invalid_grant"):
        other.logout(tokens.refresh_token)
    assert auth.introspect(tokens.access_token)["active"] is True


# ---------------------------------------------------------------------------- bearer check

def test_authenticate_bearer_refusals(sim: Any, tokens: TokenSet) -> None:
    for token in ("", "garbage", tokens.refresh_token, tokens.id_token):
        with pytest.raises(InvalidTokenError, match="Invalid token"):
            authenticate_bearer(sim, token)
    with pytest.raises(InvalidTokenError, match="issuer"):
        authenticate_bearer(sim, tokens.access_token, issuer="https://account.e-gov.go.jp/auth")
    with sim.db.session() as s:
        s.query(Account).filter_by(username=USERNAME).one().disabled = True
    with pytest.raises(InvalidTokenError, match="Account disabled"):
        authenticate_bearer(sim, tokens.access_token)


# ---------------------------------------------------------------------------- keys and discovery

def test_jwks_verifies_the_tokens(http: httpx.Client, tokens: TokenSet) -> None:
    jwks = http.get("/auth/certs").json()
    keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
    for token, audience in ((tokens.access_token, "account"), (tokens.id_token, CLIENT_ID)):
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(token, keys[kid], algorithms=["RS256"], audience=audience, issuer=ISSUER,
                            options={"verify_exp": False, "verify_iat": False})
        assert claims["sub"]


def test_discovery_document(http: httpx.Client) -> None:
    doc = http.get("/auth/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/auth"
    assert doc["token_endpoint"] == f"{ISSUER}/token"
    assert doc["introspection_endpoint"] == f"{ISSUER}/token/introspect"
    assert doc["end_session_endpoint"] == f"{ISSUER}/logout"
    assert doc["jwks_uri"] == f"{ISSUER}/certs"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["response_types_supported"] == ["code"]


def test_public_url_sets_the_issuer(tmp_path: Path) -> None:
    app = _make_app(Settings(database_url="sqlite://", demo_world=False, data_dir=tmp_path,
                             public_url="https://sim.example.org/"))
    doc = app.test_client().get("/auth/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == "https://sim.example.org/auth"


# ---------------------------------------------------------------------------- the OpenAPI helper

def test_openapi_helper_finds_paths_and_bodiless_responses() -> None:
    assert find_path("/shinsei/v2/apply/lists?limit=5") == "/apply/lists"
    assert find_path("/shinsei/v2/apply/900202400000001") == "/apply/{arrive_id}"
    assert find_path("/notice/{arrive_id}/{notice_sub_id}") == "/notice/{arrive_id}/{notice_sub_id}"
    assert find_path("/auth/token/introspect") == "/token/introspect"
    assert find_path("/auth/auth") == "/auth"
    validate_response("/shinsei/v2/apply/900202400000001", "get", 404, None)
    with pytest.raises(ValidationError):
        validate_response("/shinsei/v2/apply/900202400000001", "get", 404, {"title": "x"})
    with pytest.raises(ValidationError):
        validate_response("/auth/token", "post", 200, {"access_token": "x"})
    with pytest.raises(ValidationError):
        validate_schema("results_introspect", {"active": True, "exp": 2**31})  # int32
    with pytest.raises(LookupError):
        find_path("/nowhere")


# ---------------------------------------------------------------------------- client-side pieces

def test_pkce_pair_and_authorization_url(endpoint: Endpoint) -> None:
    verifier, challenge = pkce_pair()
    assert len(verifier) == 64 and len(challenge) == 43
    assert pkce_pair()[0] != verifier
    url = authorization_url(endpoint, "s1", challenge)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/auth/auth"
    assert "scope=openid%20offline_access" in parts.query
    query = parse_qs(parts.query)
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [REDIRECT_URI]
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    with pytest.raises(ValueError):
        authorization_url(simulator(BASE), "s", challenge)


def test_token_set_round_trip_and_refresh_margin(tokens: TokenSet) -> None:
    assert TokenSet.from_json(tokens.to_json()) == tokens
    assert not tokens.needs_refresh()
    assert tokens.needs_refresh(tokens.expires_at - timedelta(seconds=59))
    assert not tokens.needs_refresh(tokens.expires_at - timedelta(seconds=61))
    assert not tokens.refresh_expired()


def test_file_token_store(tmp_path: Path, tokens: TokenSet) -> None:
    store = FileTokenStore(tmp_path / "profiles" / "default.json")
    assert store.load() is None
    store.save(tokens)
    if os.name == "posix":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == tokens
    store.save(tokens)
    assert [p.name for p in store.path.parent.iterdir()] == ["default.json"]
    store.clear()
    assert store.load() is None


def test_valid_tokens_refreshes_near_expiry(endpoint: Endpoint, http: httpx.Client, tokens: TokenSet) -> None:
    now = [datetime.now(UTC)]
    client = AuthClient(endpoint, http, clock=lambda: now[0])
    store = MemoryTokenStore(tokens)
    assert client.valid_tokens(store) is tokens
    now[0] = tokens.expires_at - timedelta(seconds=30)
    renewed = client.valid_tokens(store)
    assert renewed.refresh_token != tokens.refresh_token
    assert store.load() is renewed
    with pytest.raises(AuthError, match="login_required"):
        client.valid_tokens(MemoryTokenStore())


class _AsyncWSGITransport(httpx.AsyncBaseTransport):
    """Runs the Flask app for an AsyncClient (httpx has no async WSGI transport)."""

    def __init__(self, app: Flask) -> None:
        self._sync = httpx.WSGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = self._sync.handle_request(request)
        return httpx.Response(response.status_code, headers=response.headers, content=response.read())


def test_async_auth_client(app: Flask, endpoint: Endpoint, tokens: TokenSet) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(transport=_AsyncWSGITransport(app), base_url=BASE) as http:
            client = AsyncAuthClient(endpoint, http)
            renewed = await client.refresh(tokens.refresh_token)
            assert (await client.introspect(renewed.access_token))["active"] is True
            await client.logout(renewed.refresh_token)
            assert await client.introspect(renewed.access_token) == {"active": False}
            with pytest.raises(AuthError, match="Code not valid"):
                await client.exchange_code("nope", pkce_pair()[0])

    asyncio.run(scenario())
