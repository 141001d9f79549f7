"""An independent OIDC client (Authlib + joserfc) against the live simulator, and e-Gov's login
through GビズID end to end with the client (introspection shows the IdP and the account type)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from authlib.integrations.requests_client import OAuth2Session
from conftest import BASE
from egov_client import EgovClient
from egov_client.auth import AuthClient, AuthError, login_with_form
from egov_client.config import Endpoint, simulator
from egov_client.gbizid import (
    GbizIdAuthorization,
    login_egov_with_gbizid,
    login_with_gbizid_form,
    simulator_one_time_code,
)
from egov_sim import Settings, create_app
from egov_sim.idp.egov_tokens import authenticate_bearer
from egov_sim.services import Services
from egov_sim.store.models import Account
from egov_sim.world.demo import DemoWorld, load_world
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy import select


def account(world: DemoWorld, alias: str) -> dict[str, Any]:
    return next(a for a in world.gbizid["accounts"] if a["alias"] == alias)


def test_authlib_logs_in_with_only_the_discovery_url_and_credentials(live_server: str, world: DemoWorld) -> None:
    rp = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    discovery_url = f"{live_server}/gbizid/oauth/.well-known/openid-configuration"
    redirect_uri = rp["redirect_uris"][0]
    prime = account(world, "prime")
    with OAuth2Session(rp["client_id"], rp["client_secret"], scope="openid profile email",
                      redirect_uri=redirect_uri, code_challenge_method="S256") as client:
        metadata = client.get(discovery_url, withhold_token=True, timeout=10).json()
        verifier = "v" * 20 + "erifier-for-authlib-0123456789-abcdefghij"
        url, state = client.create_authorization_url(metadata["authorization_endpoint"], nonce="authlib-nonce",
                                                     code_verifier=verifier)
        with httpx.Client() as browser:  # the user's browser on the simulator's pages
            callback = login_with_gbizid_form(browser, GbizIdAuthorization(url, state, "authlib-nonce", redirect_uri),
                                              prime["account_id"], prime["password"],
                                              simulator_one_time_code(browser, live_server, prime["account_id"]))
        token = client.fetch_token(metadata["token_endpoint"], authorization_response=callback,
                                   code_verifier=verifier, timeout=10)
        keys = KeySet.import_key_set(client.get(metadata["jwks_uri"], withhold_token=True, timeout=10).json())
        id_token = jose_jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        jose_jwt.JWTClaimsRegistry(iss={"essential": True, "value": metadata["issuer"]},
                                   aud={"essential": True, "value": rp["client_id"]},
                                   nonce={"essential": True, "value": "authlib-nonce"},
                                   exp={"essential": True}).validate(id_token.claims)
        userinfo = client.get(metadata["userinfo_endpoint"], timeout=10).json()  # Authlib sends the Bearer token
    assert id_token.claims["sub"] == userinfo["sub"] == prime["sub"]
    assert userinfo["email"] == prime["account_id"] and userinfo["account_type"] == "2"


@pytest.mark.parametrize(("alias", "account_type"), [("gbiz-prime", "2"), ("member", "3"), ("entry", "1"),
                                                      ("sole", "2")])
def test_egov_login_through_gbizid(endpoint: Endpoint, world: DemoWorld, http: httpx.Client, services: Services,
                                   alias: str, account_type: str) -> None:
    gbiz = account(world, "prime" if alias == "gbiz-prime" else alias)
    codes = simulator_one_time_code(http, BASE, gbiz["account_id"])
    tokens = login_egov_with_gbizid(endpoint, gbiz["account_id"], gbiz["password"], http=http, one_time_code=codes)
    info = AuthClient(endpoint, http).introspect(tokens.access_token)
    assert info["active"] is True and info["egov_idp"] == "gbizid"
    assert info["egov_gbizid_account_type"] == account_type
    assert info["egov_extidp_auth_time"] // 1000 <= info["iat"]
    assert info["username"] == gbiz["account_id"]
    context = authenticate_bearer(services, tokens.access_token)
    assert (context.idp, context.gbizid_account_type) == ("gbizid", account_type)
    if alias == "gbiz-prime":  # the demo e-Gov account "gbiz" is this prime's e-Gov side
        assert info["username"] == world.account("gbiz")["username"]
    with services.db.session() as s:
        linked = s.scalars(select(Account).where(Account.username == gbiz["account_id"])).one()
        assert linked.profile["gbizid_sub"] == gbiz["sub"] and linked.idp == "gbizid"
    egov = EgovClient(endpoint, tokens, http=http)  # the filing API accepts the brokered login
    assert egov.list_applications(send_number="000000000000000000").applications == []


def test_second_login_reuses_the_linked_egov_account(endpoint: Endpoint, world: DemoWorld, http: httpx.Client,
                                                     services: Services) -> None:
    member = account(world, "member")
    codes = simulator_one_time_code(http, BASE, member["account_id"])
    first = login_egov_with_gbizid(endpoint, member["account_id"], member["password"], http=http, one_time_code=codes)
    second = login_egov_with_gbizid(endpoint, member["account_id"], member["password"], http=http,
                                    one_time_code=codes)  # the GビズID session: no password asked again
    a = authenticate_bearer(services, first.access_token)
    b = authenticate_bearer(services, second.access_token)
    assert a.account_id == b.account_id and a.session_id != b.session_id


def test_suspended_gbizid_account_cannot_log_in_to_egov(endpoint: Endpoint, world: DemoWorld,
                                                        http: httpx.Client) -> None:
    prime = account(world, "prime")
    http.post(f"/__admin/gbizid/accounts/{prime['account_id']}/suspend")
    with pytest.raises(AuthError) as caught:
        login_egov_with_gbizid(endpoint, prime["account_id"], prime["password"], http=http,
                               one_time_code=simulator_one_time_code(http, BASE, prime["account_id"]))
    assert "利用停止中" in caught.value.error_description


def test_egov_form_refuses_the_gbizid_password_unless_configured(endpoint: Endpoint, world: DemoWorld,
                                                                 http: httpx.Client, template_db: Any,
                                                                 tmp_path: Any) -> None:
    gbiz = world.account("gbiz")
    with pytest.raises(AuthError) as caught:
        login_with_form(endpoint, gbiz["username"], gbiz["password"], http=http)
    assert "正しくありません" in caught.value.error_description
    import shutil

    shutil.copy(template_db, tmp_path / "f.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'f.sqlite'}", data_dir=tmp_path,
                              egov_form_gbizid_password=True))
    svc = app.extensions["egov_sim"]
    shortcut_world = load_world(svc)
    assert shortcut_world is not None
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as other:
        shortcut = simulator(BASE).with_credentials(shortcut_world.client_id, shortcut_world.client_secret,
                                                    shortcut_world.redirect_uris[0])
        tokens = login_with_form(shortcut, gbiz["username"], shortcut_world.account("gbiz")["password"], http=other)
    assert jwt.decode(tokens.access_token, options={"verify_signature": False})["egov_gbizid_account_type"] == "2"
    svc.db.dispose()


def test_gbizid_cancel_returns_to_the_egov_login_page(endpoint: Endpoint, http: httpx.Client) -> None:
    from egov_client.auth import authorization_url, pkce_pair

    _verifier, challenge = pkce_pair()
    page = http.get(authorization_url(endpoint, "st", challenge))
    import lxml.html

    doc = lxml.html.document_fromstring(page.text)
    form = doc.xpath("//form[@id='idp-gbizid']")[0]
    started = http.post(form.get("action"), data={"login_request": form.inputs["login_request"].value})
    assert started.status_code == 302 and "/gbizid/oauth/authorize?" in started.headers["location"]
    state = dict(httpx.URL(started.headers["location"]).params)["state"]
    back = http.get("/auth/broker/gbizid/endpoint", params={"error": "access_denied", "state": state})
    assert back.status_code == 200 and "GビズIDでのログインが完了しませんでした" in back.text
    assert "e-Govアカウントでログイン" in back.text


def test_async_client_on_the_live_simulator(live_server: str, world: DemoWorld) -> None:
    import asyncio

    from egov_client.gbizid import AsyncGbizIdClient
    from egov_client.gbizid import simulator as gbizid_simulator

    rp = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    entry = account(world, "entry")
    provider = gbizid_simulator(live_server).with_credentials(rp["client_id"], rp["client_secret"],
                                                              rp["redirect_uris"][0])

    async def run() -> tuple[Any, dict[str, Any], Any]:
        async with AsyncGbizIdClient(provider) as client:
            authorization = await client.authorization("openid email offline_access")
            with httpx.Client() as browser:
                callback = await asyncio.to_thread(login_with_gbizid_form, browser, authorization,
                                                   entry["account_id"], entry["password"])
            tokens = await client.callback(callback, authorization)
            return tokens, await client.userinfo(tokens.access_token), await client.refresh(tokens.refresh_token)

    tokens, info, renewed = asyncio.run(run())
    assert tokens.id_claims["sub"] == info["sub"] == entry["sub"] == renewed.id_claims["sub"]
    assert info["email"] == entry["account_id"] and renewed.refresh_token == tokens.refresh_token


def test_two_first_logins_of_one_gbizid_user_at_once_link_one_account(services) -> None:
    """Two first logins of a new GビズID user through e-Gov, at once: one account, and both logins get it
    (before, the second failed on the account's login ID with a 500). Counted with a query of its own."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from egov_sim.idp.egov_federation import link_account
    from egov_sim.store.models import Account
    from sqlalchemy import func, select

    info = {"sub": "gbiz-sub-parallel-0001", "email": "parallel.first@example.co.jp", "user_last_nm": "並行",
            "user_first_nm": "太郎", "account_type": "2", "name": "株式会社並行"}
    start = Barrier(4)

    def link(_: int) -> int:
        start.wait()
        return link_account(services, info)

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(link, range(4)))
    with services.db.session() as s:
        rows = s.scalar(select(func.count()).select_from(Account).where(Account.username == info["email"]))
    assert len(ids) == 1 and rows == 1


def test_two_first_logins_of_one_user_at_the_keieikakushin_rp_at_once_make_one_user(services) -> None:
    """The RP's first logins of one GビズID user, at once: one user row, both logins get it (before,
    one failed on the row's key). Counted with a query of its own."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from egov_sim.rp.backend import KeieiBackend
    from egov_sim.rp.models import KkUser
    from sqlalchemy import func, select

    backend, start = KeieiBackend(services), Barrier(4)
    info = {"sub": "rp-parallel-sub-0001", "email": "rp.parallel@example.co.jp", "account_type": "2"}

    def first_login(_: int) -> str:
        start.wait()
        return backend.logged_in("no-such-session", info).sub

    with ThreadPoolExecutor(4) as pool:
        subs = set(pool.map(first_login, range(4)))
    with services.db.session() as s:
        rows = s.scalar(select(func.count()).select_from(KkUser).where(KkUser.sub == info["sub"]))
    assert subs == {info["sub"]} and rows == 1
