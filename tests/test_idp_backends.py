"""EgovAuthServer and GbizIdProvider used directly, with no Flask app or request: a browser login,
code, token, introspection/UserInfo round trip through the backends alone (the views only parse and
render around these calls)."""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flask
import jwt
import pytest
from egov_client.auth import basic_authorization
from egov_sim.catalogue import Catalogue
from egov_sim.clock import Clock
from egov_sim.idp import gbizid_op
from egov_sim.idp.egov_auth_server import EgovAuthServer
from egov_sim.idp.egov_tokens import AuthorizationRequestError, InvalidTokenError, OAuthError
from egov_sim.idp.gbizid_op import UserinfoError
from egov_sim.idp.gbizid_provider import GbizIdProvider
from egov_sim.idp.keys import KeyRing
from egov_sim.idp.outcomes import CodeForm, LoginForm, Redirect, SignedIn
from egov_sim.services import Services
from egov_sim.settings import Settings
from egov_sim.store import Database
from egov_sim.world.demo import DemoWorld, load_world

HOST = "http://sim.test/"
BROWSER = "a-browser-cookie-value"


@pytest.fixture
def parts(template_db: Path, tmp_path: Path) -> Iterator[Services]:
    """The app's parts built by hand from the demo world's database: no create_app, no Flask."""
    shutil.copy(template_db, tmp_path / "sim.sqlite")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'sim.sqlite'}", data_dir=tmp_path, public_url=HOST.rstrip("/"))
    db = Database(settings.resolved_database_url)
    yield Services(settings=settings, db=db, clock=Clock(db), keys=KeyRing(db), catalogue=Catalogue.load())
    db.dispose()


@pytest.fixture
def demo(parts: Services) -> DemoWorld:
    world = load_world(parts)
    assert world is not None
    return world


@pytest.fixture(autouse=True)
def _no_flask() -> None:
    assert not flask.has_app_context() and not flask.has_request_context()


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def pkce() -> tuple[str, str]:
    verifier = "backend-test-verifier-" + "x" * 40
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_egov_code_token_introspect_refresh_logout(parts: Services, demo: DemoWorld) -> None:
    server = EgovAuthServer.of(parts, HOST)
    account = demo.account("demo")
    basic = basic_authorization(demo.client_id, demo.client_secret)
    redirect_uri = demo.redirect_uris[0]
    verifier, challenge = pkce()

    form = server.authorize({"response_type": "code", "client_id": demo.client_id, "redirect_uri": redirect_uri,
                             "scope": "openid offline_access", "state": "s-1", "code_challenge": challenge,
                             "code_challenge_method": "S256"}, BROWSER)
    assert isinstance(form, LoginForm) and form.error is None
    refused = server.login(form.sealed, BROWSER, account["username"], "wrong password")
    assert isinstance(refused, LoginForm) and refused.error == "メールアドレスまたはパスワードが正しくありません。"
    done = server.login(form.sealed, BROWSER, account["username"], account["password"])
    assert isinstance(done, Redirect) and done.url.startswith(redirect_uri)
    params = query(done.url)
    assert params["state"] == "s-1"

    body = server.token(basic, {"grant_type": "authorization_code", "code": params["code"],
                                "redirect_uri": redirect_uri, "code_verifier": verifier})
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["iss"] == "http://sim.test/auth"
    info = server.introspect(basic, {"token": body["access_token"]})
    assert info["active"] is True and info["username"] == account["username"]
    assert server.authenticate_bearer(body["access_token"], issuer=server.issuer).username == account["username"]

    renewed = server.token(basic, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    with pytest.raises(OAuthError) as reused:
        server.token(basic, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert reused.value.body()["error"] == "invalid_grant"
    server.logout(basic, {"refresh_token": renewed["refresh_token"]})
    assert server.introspect(basic, {"token": renewed["access_token"]}) == {"active": False}
    with pytest.raises(InvalidTokenError):
        server.authenticate_bearer(renewed["access_token"])


def test_egov_refusals_are_exceptions_or_outcomes(parts: Services, demo: DemoWorld) -> None:
    server = EgovAuthServer.of(parts, HOST)
    with pytest.raises(AuthorizationRequestError):  # unknown client: an error page, never a redirect
        server.authorize({"client_id": "nobody", "redirect_uri": "http://x/cb"}, BROWSER)
    back = server.authorize({"client_id": demo.client_id, "redirect_uri": demo.redirect_uris[0],
                             "response_type": "token"}, BROWSER)
    assert isinstance(back, Redirect) and query(back.url)["error"] == "unsupported_response_type"
    with pytest.raises(OAuthError) as unauthenticated:
        server.token(None, {"grant_type": "refresh_token"})
    assert unauthenticated.value.status == 401 and unauthenticated.value.challenge("egov") == 'Basic realm="egov"'
    assert server.discovery()["jwks_uri"] == "http://sim.test/auth/certs"
    assert server.jwks()["keys"][0]["alg"] == "RS256"


def _gbizid(demo: DemoWorld, alias: str, client_id: str = "gbizid-demo-rp") -> tuple[dict[str, Any], dict[str, Any]]:
    account = next(a for a in demo.gbizid["accounts"] if a["alias"] == alias)
    client = next(c for c in demo.gbizid["clients"] if c["client_id"] == client_id)
    return account, client


def test_gbizid_login_with_sms_then_token_and_userinfo(parts: Services, demo: DemoWorld) -> None:
    provider = GbizIdProvider.of(parts, HOST)
    account, client = _gbizid(demo, "prime")
    redirect_uri = client["redirect_uris"][0]
    request = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": redirect_uri,
               "scope": "openid profile email offline_access", "state": "g-1", "nonce": "n-1"}

    form = provider.authorize(request, sso_session="", binding=BROWSER)
    assert isinstance(form, LoginForm)
    prompt = provider.login(form.sealed, BROWSER, account["account_id"], account["password"])
    assert isinstance(prompt, CodeForm) and prompt.factor == "sms"
    code = gbizid_op.outbox(parts, account["account_id"], limit=1)[0]["code"]
    wrong = provider.verify_code(prompt.sealed, BROWSER, f"{(int(code) + 1) % 1_000_000:06d}")
    assert isinstance(wrong, CodeForm) and wrong.error == gbizid_op.MSG_BAD_OTP
    signed = provider.verify_code(prompt.sealed, BROWSER, code)
    assert isinstance(signed, SignedIn) and query(signed.url)["state"] == "g-1"

    client_id = provider.authenticate_client(basic_authorization(client["client_id"], client["client_secret"]))
    body = provider.token(client_id, {"grant_type": "authorization_code", "code": query(signed.url)["code"],
                                      "redirect_uri": redirect_uri})
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["iss"] == provider.issuer and id_claims["nonce"] == "n-1"
    info = provider.userinfo(f"Bearer {body['access_token']}")
    assert info["sub"] == id_claims["sub"] and info["email"] == account["account_id"]

    again = provider.authorize(request, sso_session=signed.session_id, binding="")  # single sign-on: no form
    assert isinstance(again, Redirect) and "code" in query(again.url)
    with pytest.raises(UserinfoError) as missing:
        provider.userinfo(None)
    assert missing.value.status == 401 and missing.value.challenge("gbizid") == 'Bearer realm="gbizid"'

