"""The GビズID OP simulator (/gbizid/oauth) with the client's GbizIdClient: protocol, claims, errors."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import lxml.html
import pytest
from conftest import BASE, advance
from egov_client.auth import AuthError, basic_authorization
from egov_client.gbizid import (
    GbizIdAuthorization,
    GbizIdClient,
    IdTokenError,
    login_with_gbizid_form,
    simulator,
    simulator_one_time_code,
    validate_id_token,
)
from egov_sim import Settings, create_app
from egov_sim.clock import JST
from egov_sim.services import Services
from egov_sim.world.demo import DemoWorld
from egov_sim.world.people import PREFECTURES, is_valid_corporate_number
from flask import Flask

DEMO_RP = "gbizid-demo-rp"
ISSUER = f"{BASE}/gbizid/oauth/"
ALL = "openid profile user mandate email offline_access"


def account(world: DemoWorld, alias: str) -> dict[str, Any]:
    return next(a for a in world.gbizid["accounts"] if a["alias"] == alias)


def client_of(world: DemoWorld, client_id: str) -> dict[str, Any]:
    return next(c for c in world.gbizid["clients"] if c["client_id"] == client_id)


def virtual_clock(services: Services) -> Any:
    """The RP's clock follows the simulator's virtual one (tests move it)."""
    return lambda: services.clock.now().replace(tzinfo=JST)


@pytest.fixture
def rp(world: DemoWorld, http: httpx.Client, services: Services) -> Iterator[GbizIdClient]:
    c = client_of(world, DEMO_RP)
    provider = simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0])
    yield GbizIdClient(provider, http=http, clock=virtual_clock(services))


def login(rp: GbizIdClient, world: DemoWorld, alias: str, scope: str = ALL, **kwargs: Any
          ) -> tuple[GbizIdAuthorization, str]:
    """(authorization, callback URL) after logging in on the simulator's pages."""
    acc = account(world, alias)
    authorization = rp.authorization(scope, **kwargs)
    callback = login_with_gbizid_form(rp.http, authorization, acc["account_id"], acc["password"],
                                      simulator_one_time_code(rp.http, BASE, acc["account_id"]))
    return authorization, callback


def tokens_for(rp: GbizIdClient, world: DemoWorld, alias: str, scope: str = ALL) -> Any:
    authorization, callback = login(rp, world, alias, scope)
    return rp.callback(callback, authorization)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def basic(world: DemoWorld, client_id: str = DEMO_RP, secret: str | None = None) -> dict[str, str]:
    c = client_of(world, client_id)
    return {"Authorization": basic_authorization(c["client_id"], secret or c["client_secret"])}


# ---------------------------------------------------------------------------- discovery, tokens

def test_discovery_and_jwks(http: httpx.Client) -> None:
    meta = http.get("/gbizid/oauth/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{BASE}/gbizid/oauth/authorize"
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    keys = http.get(meta["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]


def test_issuer_without_trailing_slash_is_a_setting(template_db: Any, tmp_path: Any) -> None:
    import shutil

    shutil.copy(template_db, tmp_path / "s.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 's.sqlite'}", data_dir=tmp_path,
                              gbizid_issuer_trailing_slash=False, public_url="http://localhost"))
    meta = app.test_client().get("/gbizid/oauth/.well-known/openid-configuration").json
    assert meta["issuer"] == "http://localhost/gbizid/oauth"
    app.extensions["egov_sim"].db.dispose()


def test_prime_login_with_sms_code_gives_minimal_tokens(rp: GbizIdClient, world: DemoWorld,
                                                        http: httpx.Client) -> None:
    authorization, callback = login(rp, world, "prime")
    code = query(callback)["code"]
    assert re.fullmatch(r"[A-Za-z0-9]{22}", code)
    assert query(callback)["state"] == authorization.state
    sms = http.get("/__admin/outbox", params={"account": account(world, "prime")["account_id"]}).json()["messages"]
    assert sms[0]["to"] == account(world, "prime")["sms_number"] and sms[0]["used"] is True
    assert sms[0]["code"] in sms[0]["text"]
    tokens = rp.callback(callback, authorization)
    id_claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    assert set(id_claims) == {"sub", "aud", "iss", "exp", "iat", "auth_time", "nonce", "jti"}
    assert id_claims["nonce"] == authorization.nonce  # echoed
    assert id_claims["aud"] == DEMO_RP and id_claims["iss"] == ISSUER
    access = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert set(access) == {"sub", "azp", "iss", "exp", "iat", "jti"}
    assert access["exp"] - access["iat"] == 3600 == tokens.raw["expires_in"]
    assert jwt.get_unverified_header(tokens.access_token)["alg"] == "RS256"
    assert tokens.sub == account(world, "prime")["sub"]
    assert tokens.refresh_token  # offline_access was asked for


def test_claims_of_a_prime_corporation(rp: GbizIdClient, world: DemoWorld) -> None:
    tokens = tokens_for(rp, world, "prime", ALL + " jp_gbizid_v1_ida role")
    info = rp.userinfo(tokens.access_token)
    assert (info["account_type"], info["corp_type"]) == ("2", "1")
    assert is_valid_corporate_number(info["corporate_number"])
    assert info["prefecture_name"] in PREFECTURES.values()
    assert re.fullmatch(r"\d{7}", info["user_post_code"])
    assert re.fullmatch(r"[ァ-ヶー]+", info["rep_last_nm_kana"]) and re.fullmatch(r"[ァ-ヶー]+",
                                                                                  info["user_first_nm_kana"])
    assert info["email"] == account(world, "prime")["account_id"] and "parent_id" not in info
    assert info["en_name"].endswith("Co., Ltd.")
    assert info["verified_claims"]["verification"] | {"time": None} == {
        "trust_framework": "jp_gbizid_v1", "assurance_level": "ial2", "time": None}
    assert info["verified_claims"]["claims"]["corporate_number"] == info["corporate_number"]
    assert info["role"] == {"applies_to": info["sub"], "permission": [{"role": "jp_gbizid_prime"}]}


def test_claims_of_a_sole_proprietor_using_an_authenticator_app(rp: GbizIdClient, world: DemoWorld,
                                                                http: httpx.Client) -> None:
    before = len(http.get("/__admin/outbox").json()["messages"])
    tokens = tokens_for(rp, world, "sole", ALL + " delegation_info")
    assert len(http.get("/__admin/outbox").json()["messages"]) == before  # no SMS: the app gave the code
    info = rp.userinfo(tokens.access_token)
    assert (info["account_type"], info["corp_type"], info["corporate_number"]) == ("2", "2", "")
    assert re.fullmatch(r"\d{8}", info["birthday_ymd"])
    prime = account(world, "prime")
    [delegation] = info["delegation_info"]  # the prime 法人 delegated its procedures to this office
    assert delegation["corp_no"] == prime["corporate_number"] and delegation["firm_nm"] == prime["organisation"]
    assert delegation["system_cd"] == "DEMORP"


def test_claims_of_an_entry_account(rp: GbizIdClient, world: DemoWorld) -> None:
    tokens = tokens_for(rp, world, "entry", ALL + " jp_gbizid_v1_ida")  # ID + password only
    info = rp.userinfo(tokens.access_token)
    assert info["account_type"] == "1"
    assert info["birthday_ymd"] == "" and info["user_birthday_ymd"] == ""
    assert info["verified_claims"]["verification"]["assurance_level"] == "ial1"
    assert "birthdate" not in info["verified_claims"]["claims"]


def test_claims_of_a_member_show_the_parent(rp: GbizIdClient, world: DemoWorld) -> None:
    tokens = tokens_for(rp, world, "member", ALL + " role")
    info = rp.userinfo(tokens.access_token)
    prime = account(world, "prime")
    assert info["account_type"] == "3" and info["parent_id"] == prime["sub"]
    assert info["name"] == prime["organisation"] and info["corporate_number"] == prime["corporate_number"]
    assert info["user_last_nm"] + "　" + info["user_first_nm"] == account(world, "member")["name"]
    assert info["mandate_info"] == [{"client_id": "e-gov"}]
    assert info["role"]["permission"] == [{"role": "jp_gbizid_member"}]
    assert info["role"]["applies_to"] == prime["sub"]


def test_scope_decides_the_claims(rp: GbizIdClient, world: DemoWorld) -> None:
    tokens = tokens_for(rp, world, "entry", "openid email")
    assert rp.userinfo(tokens.access_token).keys() == {"sub", "email", "user_email"}
    assert tokens.refresh_token == ""  # no offline_access, no refresh token


# ---------------------------------------------------------------------------- authorize errors

def authorize(http: httpx.Client, world: DemoWorld, **overrides: str | None) -> httpx.Response:
    c = client_of(world, DEMO_RP)
    params = {"response_type": "code", "client_id": DEMO_RP, "redirect_uri": c["redirect_uris"][0],
              "scope": "openid", "state": "st-1", "nonce": "n-1"}
    params.update(overrides)
    return http.get("/gbizid/oauth/authorize", params={k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize("overrides", [{"client_id": "nobody"}, {"client_id": None},
                                       {"redirect_uri": "http://evil.example/cb"}, {"redirect_uri": None}])
def test_unknown_client_or_redirect_mismatch_shows_an_error_page(http: httpx.Client, world: DemoWorld,
                                                                 overrides: dict[str, str | None]) -> None:
    response = authorize(http, world, **overrides)
    assert response.status_code == 400 and "location" not in response.headers
    assert "ログイン要求が正しくありません" in response.text


@pytest.mark.parametrize(("overrides", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "openid unknown"}, "invalid_scope"),
    ({"scope": "openid role"}, None),  # approved for the demo RP: fine
    ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "a" * 43}, "invalid_request"),  # no method means plain: S256 only
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"prompt": "none"}, "login_required"),
    ({"prompt": "bogus"}, "invalid_request"),
])
def test_authorize_errors_are_redirected_with_state(http: httpx.Client, world: DemoWorld,
                                                    overrides: dict[str, str], error: str | None) -> None:
    response = authorize(http, world, **overrides)
    if error is None:
        assert response.status_code == 200 and "GビズIDでログイン" in response.text
        return
    assert response.status_code == 302
    params = query(response.headers["location"])
    assert params["error"] == error and params["state"] == "st-1" and params["error_description"]


def test_scopes_need_prior_approval(http: httpx.Client, world: DemoWorld) -> None:
    response = http.get("/gbizid/oauth/authorize", params={
        "response_type": "code", "client_id": "e-gov", "redirect_uri": f"{BASE}/auth/broker/gbizid/endpoint",
        "scope": "openid jp_gbizid_v1_ida", "state": "x"})
    assert query(response.headers["location"])["error"] == "invalid_scope"


def test_login_form_is_bound_to_the_browser_and_expires_on_the_virtual_clock(
        sim: Flask, http: httpx.Client, world: DemoWorld, services: Services) -> None:
    prime = account(world, "prime")

    def password_step(browser: httpx.Client, minutes_later: int = 0) -> httpx.Response:
        """The password sent from `browser` with the login form that `http` was given."""
        form = lxml.html.document_fromstring(authorize(http, world).text).forms[0]
        if minutes_later:
            advance(services, f"PT{minutes_later}M")
        fields = dict(form.form_values()) | {"account_id": prime["account_id"], "password": prime["password"]}
        return browser.post(form.get("action"), data=fields)

    on = password_step(http, 29)  # the browser that asked, within the 30 minutes: on to the one-time code
    assert on.status_code == 200 and "ワンタイムパスワードの入力" in on.text
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=BASE) as other_browser:
        cookieless = password_step(other_browser)
        assert authorize(other_browser, world).status_code == 200  # now with a login cookie of its own
        refused = [cookieless, password_step(other_browser), password_step(http, 31)]
    for response in refused:
        assert response.status_code == 400 and "ログインの有効期限が切れました" in response.text
        assert "location" not in response.headers


def test_omitted_scope_grants_base_and_approved_scopes(rp: GbizIdClient, world: DemoWorld) -> None:
    acc = account(world, "prime")
    authorization = rp.authorization()
    url = re.sub(r"&scope=[^&]*", "", authorization.url)
    authorization = GbizIdAuthorization(url, authorization.state, authorization.nonce, authorization.redirect_uri,
                                        authorization.code_verifier)
    callback = login_with_gbizid_form(rp.http, authorization, acc["account_id"], acc["password"],
                                      simulator_one_time_code(rp.http, BASE, acc["account_id"]))
    info = rp.userinfo(rp.callback(callback, authorization).access_token)
    assert {"verified_claims", "role", "delegation_info", "mandate_info", "user_last_nm"} <= info.keys()


# ---------------------------------------------------------------------------- token endpoint errors

def exchange(http: httpx.Client, world: DemoWorld, the_code: str, authorization: GbizIdAuthorization,
             headers: dict[str, str] | None = None, **form: str | None) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": the_code, "redirect_uri": authorization.redirect_uri,
            "code_verifier": authorization.code_verifier or ""}
    data.update(form)
    return http.post("/gbizid/oauth/token", data={k: v for k, v in data.items() if v is not None},
                     headers=basic(world) if headers is None else headers)


def test_bad_client_authentication_is_401_unauthorized(rp: GbizIdClient, world: DemoWorld,
                                                       http: httpx.Client) -> None:
    authorization, callback = login(rp, world, "entry")
    code = query(callback)["code"]
    c = client_of(world, DEMO_RP)
    for headers in ({}, basic(world, secret="wrong"), {"Authorization": "Bearer x"}):
        response = exchange(http, world, code, authorization, headers=headers)
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    response = exchange(http, world, code, authorization, headers={}, client_id=c["client_id"],
                        client_secret=c["client_secret"])  # client_secret_post is not accepted
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert exchange(http, world, code, authorization).status_code == 200  # the code was not spent by those


def test_code_reuse_is_refused_and_revokes_the_first_tokens(rp: GbizIdClient, world: DemoWorld,
                                                            http: httpx.Client) -> None:
    authorization, callback = login(rp, world, "entry")
    code = query(callback)["code"]
    first = exchange(http, world, code, authorization)
    assert first.status_code == 200
    again = exchange(http, world, code, authorization)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    response = http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    refresh = http.post("/gbizid/oauth/token", headers=basic(world),
                        data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]})
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("form", "error"), [
    ({"code_verifier": "x" * 43}, "invalid_grant"),  # PKCE mismatch
    ({"code_verifier": None}, "invalid_grant"),  # verifier missing
    ({"redirect_uri": "http://localhost:8766/callback"}, "invalid_grant"),
    ({"code": "A" * 22}, "invalid_grant"),
    ({"code": ""}, "invalid_request"),
    ({"grant_type": ""}, "invalid_request"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
])
def test_token_request_errors(rp: GbizIdClient, world: DemoWorld, http: httpx.Client, form: dict[str, str],
                              error: str) -> None:
    authorization, callback = login(rp, world, "entry")
    response = exchange(http, world, query(callback)["code"], authorization, **form)
    assert response.status_code == 400 and response.json()["error"] == error


def test_expired_code_and_code_of_another_client(rp: GbizIdClient, world: DemoWorld, http: httpx.Client,
                                                 services: Services) -> None:
    authorization, callback = login(rp, world, "entry")
    other = exchange(http, world, query(callback)["code"], authorization, headers=basic(world, "e-gov"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    authorization, callback = login(rp, world, "entry", prompt="login")
    advance(services, "PT5M1S")
    late = exchange(http, world, query(callback)["code"], authorization)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------------------- userinfo errors

def test_userinfo_errors(rp: GbizIdClient, world: DemoWorld, http: httpx.Client, services: Services) -> None:
    missing = http.get("/gbizid/oauth/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    garbage = http.get("/gbizid/oauth/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert garbage.status_code == 401 and 'error="invalid_token"' in garbage.headers["www-authenticate"]
    no_openid = tokens_for(rp, world, "entry", "profile")
    assert no_openid.id_token == ""
    forbidden = http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {no_openid.access_token}"})
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"
    tokens = tokens_for(rp, world, "entry", "openid")
    advance(services, "PT1H")
    expired = http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"


# ---------------------------------------------------------------------------- refresh

def test_refresh_token_is_an_unsigned_jwt_and_refreshes(rp: GbizIdClient, world: DemoWorld,
                                                        services: Services) -> None:
    tokens = tokens_for(rp, world, "prime")
    assert jwt.get_unverified_header(tokens.refresh_token)["alg"] == "none"
    assert set(jwt.decode(tokens.refresh_token, options={"verify_signature": False})) == {"exp", "jti"}
    advance(services, "PT2H")  # the access token is dead, the refresh token is not
    renewed = rp.refresh(tokens.refresh_token)
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token == tokens.refresh_token  # no rotation by default: the old one stays
    assert renewed.id_claims["sub"] == tokens.sub and renewed.id_claims["auth_time"] == tokens.id_claims["auth_time"]
    assert rp.userinfo(renewed.access_token)["sub"] == tokens.sub
    rp.refresh(tokens.refresh_token)  # still usable
    advance(services, "P31D")
    with pytest.raises(AuthError) as caught:
        rp.refresh(tokens.refresh_token)
    assert caught.value.error == "invalid_grant"


@pytest.fixture
def rotating(template_db: Any, tmp_path: Any) -> Iterator[Flask]:
    import shutil

    shutil.copy(template_db, tmp_path / "r.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'r.sqlite'}", data_dir=tmp_path,
                              gbizid_refresh_rotation=True, gbizid_refresh_format="opaque"))
    yield app
    app.extensions["egov_sim"].db.dispose()


def test_refresh_rotation_and_opaque_format_are_settings(rotating: Flask) -> None:
    from egov_sim.world.demo import load_world

    world = load_world(rotating.extensions["egov_sim"])
    assert world is not None
    c = client_of(world, DEMO_RP)
    with httpx.Client(transport=httpx.WSGITransport(app=rotating), base_url=BASE) as http:
        rp = GbizIdClient(simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0]),
                          http=http)
        tokens = tokens_for(rp, world, "entry")
        assert "." not in tokens.refresh_token
        renewed = rp.refresh(tokens.refresh_token)
        assert renewed.refresh_token != tokens.refresh_token
        with pytest.raises(AuthError) as caught:
            rp.refresh(tokens.refresh_token)
        assert caught.value.error == "invalid_grant"
        with pytest.raises(AuthError):  # the reuse ended the grant: the newer token too (RFC 9700 §4.14.2)
            rp.refresh(renewed.refresh_token)


# ---------------------------------------------------------------------------- single sign-on, prompt, login_hint

def test_session_prompt_login_and_login_hint(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    login(rp, world, "entry")
    again = http.get(rp.authorization("openid").url)  # the OP session logs in without a form
    assert again.status_code == 302 and "code" in query(again.headers["location"])
    silent = http.get(rp.authorization("openid", prompt="none").url)
    assert "code" in query(silent.headers["location"])
    forced = http.get(rp.authorization("openid", prompt="login", login_hint="someone@example.jp").url)
    assert forced.status_code == 200
    doc = lxml.html.document_fromstring(forced.text)
    assert doc.xpath("//input[@name='account_id']/@value") == ["someone@example.jp"]


# ---------------------------------------------------------------------------- the client's ID-token checks

def test_client_rejects_bad_id_tokens(rp: GbizIdClient, world: DemoWorld) -> None:
    authorization, callback = login(rp, world, "entry")
    tokens = rp.callback(callback, authorization)
    jwks, now = rp.jwks(), datetime.now(UTC)
    checks = {"issuer": ISSUER, "client_id": DEMO_RP, "nonce": authorization.nonce, "now": now}
    assert validate_id_token(tokens.id_token, jwks, **checks)["sub"] == tokens.sub
    for changes in ({"nonce": "other"}, {"client_id": "someone-else"}, {"issuer": f"{BASE}/gbizid/oauth"},
                    {"now": now + timedelta(hours=2)}):
        with pytest.raises(IdTokenError):
            validate_id_token(tokens.id_token, jwks, **{**checks, **changes})
    header, _payload, signature = tokens.id_token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"x","aud":"gbizid-demo-rp"}').rstrip(b"=").decode()
    with pytest.raises(IdTokenError):
        validate_id_token(f"{header}.{forged}.{signature}", jwks, **checks)
    with pytest.raises(AuthError) as caught:  # state of another request
        rp.callback(callback.replace(authorization.state, "other-state"), authorization)
    assert caught.value.error == "invalid_state"


def test_client_reports_an_error_redirect(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    authorization = rp.authorization("openid", prompt="none")
    location = http.get(authorization.url).headers["location"]
    with pytest.raises(AuthError) as caught:
        rp.callback(location, authorization)
    assert caught.value.error == "login_required"


def test_token_endpoint_refuses_other_media_types(world: DemoWorld, http: httpx.Client) -> None:
    response = http.post("/gbizid/oauth/token", headers=basic(world), json={"grant_type": "authorization_code"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_rotating_refresh_token_sent_twice_at_once_is_used_once(rotating: Flask) -> None:
    """With rotation, one refresh token gives one new pair even when two refreshes race (the second
    is invalid_grant): a check and then a write gave both a pair."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from egov_sim.world.demo import load_world

    world = load_world(rotating.extensions["egov_sim"])
    assert world is not None
    c = client_of(world, DEMO_RP)
    endpoint = simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0])
    with httpx.Client(transport=httpx.WSGITransport(app=rotating), base_url=BASE) as http:
        used = tokens_for(GbizIdClient(endpoint, http=http), world, "entry").refresh_token
    start = Barrier(4)

    def refresh(_: int) -> str:
        with httpx.Client(transport=httpx.WSGITransport(app=rotating), base_url=BASE) as own:
            start.wait()
            try:
                return GbizIdClient(endpoint, http=own).refresh(used).refresh_token
            except AuthError as exc:
                return exc.error

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(refresh, range(4)))
    assert sorted(o == "invalid_grant" for o in outcomes) == [False, True, True, True], outcomes
