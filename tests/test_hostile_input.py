"""Hostile input and protocol abuse (issue 13): each numbered case as probed, answered in the API's
own format and changing nothing."""

from __future__ import annotations

import base64
import io
import json
import secrets
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from egov_client import EgovClient
from egov_client.auth import pkce_pair
from egov_client.gbizid import GbizIdClient, login_with_gbizid_form, simulator
from egov_sim.clock import JST
from egov_sim.store.models import Application
from egov_sim.world.packages import sample_package
from flask import Flask
from sqlalchemy import func, select

PROC = "950A010700005000"
BASE = "http://sim.test"


def _count(services: Any) -> int:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Application)) or 0


def _body(raw: bytes, proc_id: str = PROC) -> dict[str, Any]:
    return {"proc_id": proc_id, "send_file": {"file_name": "apply.zip",
                                              "file_data": base64.b64encode(raw).decode()}}


def _token(egov: EgovClient) -> str:
    return egov.tokens.access_token


def _bearer(egov: EgovClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(egov)}"}


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# 1 ---------------------------------------------------------------------------------------------------

def test_1_sandbox_headers_do_no_work_before_authentication(http: httpx.Client, services: Any, signer: Any) -> None:
    raw = sample_package(services.catalogue, PROC, signer).to_zip()
    for headers in ({"X-Sandbox-Auto-Return": "missing_salary"}, {"X-Sandbox-Scenario": "nope"}, {}):
        r = http.post("/shinsei/v2/apply", json=_body(raw), headers=headers)
        assert r.status_code == 401 and not r.content, (headers, r.status_code, r.text)
    r = http.post("/shinsei/v2/apply", content=_deep(5000), headers={"Content-Type": "application/json"})
    assert r.status_code == 401  # the body is never parsed for an anonymous caller
    http.post("/__admin/faults", json={"match": {"proc_id": PROC}, "action": {"status": 503}})
    r = http.post("/shinsei/v2/apply", json=_body(raw))
    assert r.status_code == 401
    assert _count(services) == 0


def _answer_while_sending(url: str, path: str, head: bytes, length: int, headers: dict[str, str]) -> bytes:
    """Send the request line, headers announcing `length` bytes and only `head` of the body, then read: a
    server that reads or parses the body before answering waits for the rest, so no answer comes (timeout)."""
    import socket

    host, port = urlsplit(url).hostname or "", urlsplit(url).port or 80
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {length}", "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + head)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""  # still waiting for the body we never send


def test_1_anonymous_apply_answers_401_before_the_body_arrives(live_server: str, services: Any) -> None:
    import resource

    http = httpx.Client(base_url=live_server)
    http.post("/__admin/faults", json={"match": {"proc_id": PROC}, "action": {"status": 503}}).raise_for_status()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    big = 150 * 1024 * 1024  # announced, never sent: only its first 64 KiB go out
    head = b'{"proc_id": "' + PROC.encode() + b'", "send_file": {"file_name": "a.zip", "file_data": "' + b"A" * 65536
    deep = _deep(5000).encode()
    for body, length, headers in ((head, big, {"X-Sandbox-Auto-Return": "missing_salary"}),
                                  (head, big, {"X-Sandbox-Scenario": "default"}), (head, big, {}),
                                  (deep, len(deep) + 1024 * 1024, {})):  # deep JSON, its last MiB never sent
        answer = _answer_while_sending(live_server, "/shinsei/v2/apply", body, length, headers)
        assert answer.startswith(b"HTTP/1.1 401"), (headers, answer[:200])
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    print(f"peak RSS growth over four anonymous 150 MiB/deep applies: {grown} KiB")
    assert grown < 50 * 1024
    assert _count(services) == 0


# 2 ---------------------------------------------------------------------------------------------------

def test_2_admin_refuses_foreign_hosts_and_cross_site_requests(http: httpx.Client, world: Any) -> None:
    r = http.get("/__admin/world", headers={"Host": "attacker.example"})
    assert r.status_code == 403 and r.json()["title"] == "Forbidden" and "password" not in r.text
    assert http.get("/__admin/world", headers={"Host": "localhost:8080"}).status_code == 200
    assert http.get("/__admin/world", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    sole = next(a for a in world.gbizid["accounts"] if a["alias"] == "sole")
    suspend = f"/__admin/gbizid/accounts/{sole['account_id']}/suspend"
    for headers, content in (({"Content-Type": "text/plain"}, b'{"reason": "x"}'),
                             ({"Content-Type": "application/x-www-form-urlencoded"}, b"reason=x"),
                             ({"Origin": "https://evil.example"}, b""),
                             ({"Content-Type": "application/json", "Origin": "https://evil.example"}, b"{}"),
                             ({"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, b"{}")):
        r = http.post(suspend, content=content, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
    assert http.get(f"/__admin/gbizid/accounts/{sole['account_id']}").json()["status"] == "active"
    for path in ("/__admin/reset",):  # body-less, from a page: refused
        assert http.post(path, headers={"Origin": "http://evil.example"}).status_code == 403
        assert http.post(path, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    r = http.post(suspend, json={"reason": "test"}, headers={"Origin": "http://localhost:8080"})
    assert r.status_code == 200, r.text


# 3 ---------------------------------------------------------------------------------------------------

def test_3_authenticator_codes_lock_after_five_wrong_ones(world: Any, http: httpx.Client, services: Any) -> None:
    from egov_client import AuthError

    sole = next(a for a in world.gbizid["accounts"] if a["alias"] == "sole")
    c = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    rp = GbizIdClient(simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0]),
                      http=http, clock=lambda: services.clock.now().replace(tzinfo=JST))
    services.clock.update(frozen=True)
    messages = []
    for _ in range(6):
        with pytest.raises(AuthError) as caught:
            login_with_gbizid_form(http, rp.authorization("openid", prompt="login"), sole["account_id"],
                                   sole["password"], lambda _f: "000000")
        messages.append(caught.value.error_description)
    assert "上限" in messages[-1]
    right = http.get(f"/__admin/gbizid/accounts/{sole['account_id']}/app/code").json()["code"]
    with pytest.raises(AuthError) as caught:  # locked: even the right code is refused now
        login_with_gbizid_form(http, rp.authorization("openid", prompt="login"), sole["account_id"],
                               sole["password"], lambda _f: right)
    assert "上限" in caught.value.error_description


# 4 ---------------------------------------------------------------------------------------------------

def _egov_code(http: httpx.Client, world: Any, **params: str) -> str:
    import lxml.html

    acc = world.account("demo")
    query = {"client_id": world.client_id, "response_type": "code", "scope": "openid offline_access",
             "redirect_uri": world.redirect_uris[0], "state": "s", **params}
    page = http.get("/auth/auth", params=query)
    form = lxml.html.document_fromstring(page.text).forms[0]
    fields = dict(form.form_values()) | {"username": acc["username"], "password": acc["password"]}
    r = http.post(form.get("action"), data=fields)
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]


def _egov_token(http: httpx.Client, world: Any, form: dict[str, str], host: str | None = None) -> httpx.Response:
    from egov_client.auth import basic_authorization

    headers = {"Authorization": basic_authorization(world.client_id, world.client_secret)}
    if host:
        headers["Host"] = host
    return http.post("/auth/token", data=form, headers=headers)


def test_4_pkce_downgrade_is_refused_by_egov(http: httpx.Client, world: Any) -> None:
    code = _egov_code(http, world)
    verifier, _ = pkce_pair()
    r = _egov_token(http, world, {"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": world.redirect_uris[0], "code_verifier": verifier})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_4_pkce_downgrade_is_refused_by_gbizid(world: Any, http: httpx.Client) -> None:
    from egov_client.auth import basic_authorization
    from egov_client.gbizid import simulator_one_time_code

    sole = next(a for a in world.gbizid["accounts"] if a["alias"] == "entry")
    c = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    rp = GbizIdClient(simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0]),
                      http=http)
    authorization = rp.authorization("openid", pkce=False)
    callback = login_with_gbizid_form(http, authorization, sole["account_id"], sole["password"],
                                      simulator_one_time_code(http, BASE, sole["account_id"]))
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = http.post("/gbizid/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": authorization.redirect_uri,
                                               "code_verifier": pkce_pair()[0]},
                  headers={"Authorization": basic_authorization(c["client_id"], c["client_secret"])})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


# 5 ---------------------------------------------------------------------------------------------------

def test_5_refresh_token_reuse_ends_the_session(http: httpx.Client, world: Any, egov: EgovClient) -> None:
    rt1 = egov.tokens.refresh_token
    first = _egov_token(http, world, {"grant_type": "refresh_token", "refresh_token": rt1})
    assert first.status_code == 200
    rt2, at2 = first.json()["refresh_token"], first.json()["access_token"]
    assert _egov_token(http, world, {"grant_type": "refresh_token", "refresh_token": rt1}).status_code == 400
    r = _egov_token(http, world, {"grant_type": "refresh_token", "refresh_token": rt2})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-01-01", "date_to": "2024-01-31"},
                    headers={"Authorization": f"Bearer {at2}"}).status_code == 401


def test_5_gbizid_rotated_refresh_reuse_ends_the_grant(template_db: Any, tmp_path: Any, world: Any) -> None:
    import shutil

    from egov_client.auth import basic_authorization
    from egov_client.gbizid import simulator_one_time_code
    from egov_sim import Settings, create_app

    db = tmp_path / "rot.sqlite"
    shutil.copy(template_db, db)
    app = create_app(Settings(database_url=f"sqlite:///{db}", data_dir=tmp_path, gbizid_refresh_rotation=True))
    try:
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=BASE) as http:
            entry = next(a for a in world.gbizid["accounts"] if a["alias"] == "entry")
            c = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
            rp = GbizIdClient(simulator(BASE).with_credentials(c["client_id"], c["client_secret"],
                                                               c["redirect_uris"][0]), http=http)
            authorization = rp.authorization("openid offline_access")
            callback = login_with_gbizid_form(http, authorization, entry["account_id"], entry["password"],
                                              simulator_one_time_code(http, BASE, entry["account_id"]))
            tokens = rp.callback(callback, authorization)
            basic = {"Authorization": basic_authorization(c["client_id"], c["client_secret"])}

            def refresh(rt: str) -> httpx.Response:
                return http.post("/gbizid/oauth/token", data={"grant_type": "refresh_token", "refresh_token": rt},
                                 headers=basic)

            second = refresh(tokens.refresh_token)
            assert second.status_code == 200
            assert refresh(tokens.refresh_token).status_code == 400
            assert refresh(second.json()["refresh_token"]).status_code == 400
            r = http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {second.json()['access_token']}"})
            assert r.status_code == 401
    finally:
        app.extensions["egov_sim"].db.dispose()


# 6 ---------------------------------------------------------------------------------------------------

def test_6_zip_bomb_under_the_per_entry_threshold_is_refused(http: httpx.Client, egov: EgovClient, services: Any,
                                                            signer: Any) -> None:
    raw = sample_package(services.catalogue, PROC, signer).to_zip()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        zeros = bytes(1024 * 1024)
        for i in range(60):
            dst.writestr(f"{PROC}/pad{i:03}.bin", zeros)
    r = http.post("/shinsei/v2/apply", json=_body(out.getvalue()), headers=_bearer(egov))
    assert r.status_code in (400, 413), r.text
    assert _count(services) == 0


def test_6_zipsafe_caps_the_aggregate_ratio() -> None:
    from egov_format.errors import UnsafeZipError
    from egov_format.zipsafe import read_zip

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(40):
            z.writestr(f"f{i}.bin", bytes(1024 * 1024 - 1))  # each under the per-entry ratio threshold
    with pytest.raises(UnsafeZipError):
        read_zip(out.getvalue())


# 7 ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/shinsei/v2/apply", "/shinsei/v2/apply/check", "/shinsei/v2/apply/amend",
                                  "/shinsei/v2/preprint"])
def test_7_deep_json_is_a_spec_shaped_400(http: httpx.Client, egov: EgovClient, path: str) -> None:
    r = http.post(path, content=_deep(1000), headers=_bearer(egov) | {"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["detail"]


def test_7_deep_json_on_admin_is_a_json_400(http: httpx.Client) -> None:
    for path in ("/__admin/faults", "/__admin/maintenance", "/__admin/clock"):
        r = http.post(path, content=_deep(1000), headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.headers["Content-Type"].startswith("application/json")


# 8 ---------------------------------------------------------------------------------------------------

def test_8_issuer_never_follows_the_host_header(http: httpx.Client, world: Any, egov: EgovClient) -> None:
    r = _egov_token(http, world, {"grant_type": "refresh_token", "refresh_token": egov.tokens.refresh_token},
                    host="evil.example")
    assert r.status_code == 200
    assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["iss"] == f"{BASE}/auth"
    meta = http.get("/gbizid/oauth/.well-known/openid-configuration", headers={"Host": "evil.example"}).json()
    assert meta["issuer"].startswith(BASE)


def test_8_access_tokens_are_checked_for_aud_and_nbf(http: httpx.Client, services: Any, egov: EgovClient) -> None:
    from egov_sim.idp import egov_tokens

    claims = jwt.decode(_token(egov), options={"verify_signature": False})
    key = egov_tokens._signing_key(services)
    for change in ({"aud": "other"}, {"nbf": claims["exp"] - 1}):
        forged = jwt.encode(claims | change, key.private_key, algorithm="RS256", headers={"kid": key.kid})
        r = http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-01-01", "date_to": "2024-01-31"},
                     headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, change


def test_8_api_refuses_tokens_of_another_issuer(http: httpx.Client, services: Any, egov: EgovClient) -> None:
    from egov_sim.idp import egov_tokens

    claims = jwt.decode(_token(egov), options={"verify_signature": False})
    assert claims["iss"] == f"{BASE}/auth"
    key = egov_tokens._signing_key(services)
    lists = {"date_from": "2024-01-01", "date_to": "2024-01-31"}
    for iss in ("http://evil.example/auth", None):  # our key, our session: only the issuer is wrong (or absent)
        forged = jwt.encode({k: v for k, v in (claims | {"iss": iss}).items() if v is not None}, key.private_key,
                            algorithm="RS256", headers={"kid": key.kid})
        r = http.get("/shinsei/v2/apply/lists", params=lists, headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401, iss
        assert http.get(f"/shinsei/v2/apply/{'1' * 16}", headers={"Authorization": f"Bearer {forged}"}
                        ).status_code == 401, iss  # the status poll's own fast path too
    assert http.get("/shinsei/v2/apply/lists", params=lists, headers=_bearer(egov)).status_code == 200


def test_8_without_a_public_url_the_host_header_still_never_names_the_issuer(template_db: Any, tmp_path: Any) -> None:
    import shutil

    from egov_sim import Settings, create_app
    from egov_sim.world.demo import load_world

    shutil.copy(template_db, tmp_path / "h.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'h.sqlite'}", data_dir=tmp_path))
    try:
        w = load_world(app.extensions["egov_sim"])
        evil = "http://evil.example"
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url=evil) as http:
            r = _egov_token(http, w, {"grant_type": "authorization_code", "code": _egov_code(http, w),
                                      "redirect_uri": w.redirect_uris[0]})
            assert r.status_code == 200, r.text
            iss = jwt.decode(r.json()["access_token"], options={"verify_signature": False})["iss"]
            assert iss == "http://127.0.0.1:8080/auth"  # egov-sim serve's default address, not the Host
            for path in ("/auth/.well-known/openid-configuration", "/gbizid/oauth/.well-known/openid-configuration"):
                meta = http.get(path).json()
                assert meta["issuer"].startswith("http://127.0.0.1:8080/") and evil not in json.dumps(meta), meta
    finally:
        app.extensions["egov_sim"].db.dispose()


def test_8_gbizid_userinfo_checks_iss_and_azp(world: Any, http: httpx.Client, services: Any) -> None:
    from egov_client.gbizid import simulator_one_time_code
    from egov_sim.idp import gbizid_op

    user = next(a for a in world.gbizid["accounts"] if a["alias"] == "entry")
    c = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    other = next(o for o in world.gbizid["clients"] if o["client_id"] != c["client_id"])
    rp = GbizIdClient(simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0]),
                      http=http)
    authorization = rp.authorization("openid")
    callback = login_with_gbizid_form(http, authorization, user["account_id"], user["password"],
                                      simulator_one_time_code(http, BASE, user["account_id"]))
    access = rp.callback(callback, authorization).access_token
    assert http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    claims = jwt.decode(access, options={"verify_signature": False})
    key = services.keys.get(gbizid_op.KEY_PURPOSE)
    for change in ({"iss": "http://evil.example/gbizid/oauth/"}, {"azp": other["client_id"]}):
        forged = key.sign(claims | change)  # our key and a live grant: only the claim is wrong
        r = http.get("/gbizid/oauth/userinfo", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"], change


def test_8_serve_takes_its_issuer_from_the_public_url_never_the_host(tmp_path: Any) -> None:
    import sys
    from pathlib import Path

    from served import clean_env, served

    egov_sim = Path(sys.executable).parent / "egov-sim"
    with served(egov_sim, tmp_path / "sim", cwd=tmp_path) as url:  # no --public-url: http://HOST:PORT
        for path in ("/auth/.well-known/openid-configuration", "/gbizid/oauth/.well-known/openid-configuration"):
            meta = httpx.get(f"{url}{path}", headers={"Host": "evil.example"}).json()
            assert meta["issuer"].startswith(f"{url}/"), meta
    public = "https://sandbox.example.org"
    with served(egov_sim, tmp_path / "sim", cwd=tmp_path, env=clean_env(EGOV_SIM_PUBLIC_URL=public)) as url:
        meta = httpx.get(f"{url}/auth/.well-known/openid-configuration", headers={"Host": "evil.example"}).json()
        assert meta["issuer"] == f"{public}/auth", meta


# 9 ---------------------------------------------------------------------------------------------------

def test_9_host_relative_redirect_resolves_against_the_public_url_without_one_configured(
        template_db: Any, tmp_path: Any) -> None:
    import shutil

    from egov_sim import Settings, create_app
    from egov_sim.world.demo import load_world

    shutil.copy(template_db, tmp_path / "r.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'r.sqlite'}", data_dir=tmp_path))
    try:
        w = load_world(app.extensions["egov_sim"])
        relative = next(u for u in next(c for c in w.gbizid["clients"] if c["client_id"] == "e-gov")["redirect_uris"]
                        if u.startswith("/"))
        with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://evil.example:5000") as http:
            params = {"response_type": "code", "client_id": "e-gov", "scope": "openid", "state": "s",
                      "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"}
            evil = http.get("/gbizid/oauth/authorize", params=params | {"redirect_uri": f"http://evil.example:5000{relative}"})
            assert evil.status_code == 400 and "evil.example" not in evil.headers.get("location", ""), evil.headers
            ours = http.get("/gbizid/oauth/authorize", params=params | {"redirect_uri": f"http://127.0.0.1:8080{relative}"})
            assert ours.status_code in (200, 302), ours.text[:300]  # the login page (or its redirect), not a refusal
    finally:
        app.extensions["egov_sim"].db.dispose()


def test_9_host_relative_redirects_use_the_public_url(http: httpx.Client, world: Any) -> None:
    c = next(c for c in world.gbizid["clients"] if c["client_id"] == "e-gov")
    relative = next(u for u in c["redirect_uris"] if u.startswith("/"))
    params = {"response_type": "code", "client_id": "e-gov", "scope": "openid",
              "redirect_uri": f"http://evil.example:5000{relative}", "state": "s"}
    r = http.get("/gbizid/oauth/authorize", params=params, headers={"Host": "evil.example:5000"})
    assert r.status_code == 400 or "evil.example" not in r.headers.get("location", ""), r.headers


# 10 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["applicant_name", "corporation_name", "submission_destination"])
def test_10_case_fields_are_held_to_the_documents_max_length(field: str, http: httpx.Client, egov: EgovClient,
                                                             services: Any, signer: Any) -> None:
    from jsonschema import ValidationError
    from openapi_schemas import validate_response

    limit = 256  # checked below against the document itself: at the limit valid, one over not
    item = {"applicant_name": "申請者情報.氏名", "corporation_name": "申請者情報.法人団体名",
            "submission_destination": "提出先情報.提出先名称"}[field]
    proc = services.catalogue.procedures[PROC]

    def package(length: int) -> bytes:
        value = "亜" * length
        names = {"applicant_name": value} if field == "applicant_name" else \
            {"corporation_name": value} if field == "corporation_name" else {}
        p = sample_package(services.catalogue, PROC, None, **names)
        if field == "submission_destination":
            p.set_destination(proc.destination_id, value)
        return p.sign(signer).to_zip(validate=False)

    ok = http.post("/shinsei/v2/apply", json=_body(package(limit)), headers=_bearer(egov))
    assert ok.status_code == 200, ok.text  # at the limit: accepted, and answered within the document
    arrive_id = ok.json()["results"]["arrive_id"]
    shown = http.get(f"/shinsei/v2/apply/{arrive_id}", headers=_bearer(egov))  # validated against the document
    assert shown.status_code == 200 and len(shown.json()["results"][field]) == limit
    over = shown.json()
    over["results"][field] += "亜"
    with pytest.raises(ValidationError):
        validate_response(f"/shinsei/v2/apply/{arrive_id}", "get", 200, over)
    before = _count(services)
    for path in ("/shinsei/v2/apply/check", "/shinsei/v2/apply"):
        r = http.post(path, json=_body(package(limit + 1)), headers=_bearer(egov))
        assert r.status_code == (200 if path.endswith("/check") else 400), (path, r.text[:300])
        reports = r.json().get("report_list") or r.json()["results"]["report_list"]
        assert {"content": f"{limit}文字以内で入力してください。", "item": item, "file_name": "kousei.xml"}.items() \
            <= next(x for x in reports if x["item"] == item).items(), (path, r.text[:400])
    assert _count(services) == before


def test_10_a_form_item_without_a_check_rule_is_held_to_the_form_item_setting(http: httpx.Client, egov: EgovClient,
                                                                             services: Any, signer: Any) -> None:
    """事業所名称 of 資格取得届 has no rule in its check file (and the XSD gives no length): a 1 MB value was
    stored. Now the `form_item_max_chars` setting (4,000) holds it, with a report item, nothing stored."""
    limit = services.settings.form_item_max_chars
    form_id = services.catalogue.procedures[PROC].forms[0].form_id

    def package(value: str) -> bytes:
        p = sample_package(services.catalogue, PROC, None)
        p.set_form_value(form_id, "提出者記入欄/事業所名称", value)
        return p.sign(signer).to_zip(validate=False)

    at = http.post("/shinsei/v2/apply/check", json=_body(package("亜" * limit)), headers=_bearer(egov))
    assert at.status_code == 200 and not at.json()["results"].get("report_list"), at.text[:400]
    before = _count(services)
    for value in ("亜" * (limit + 1), secrets.token_hex(512 * 1024)):  # one over; 1 MiB (not a zip bomb)
        r = http.post("/shinsei/v2/apply", json=_body(package(value)), headers=_bearer(egov))
        assert r.status_code == 400, r.text[:300]
        assert {"content": f"{limit}文字以内で入力してください。", "item": "事業所名称"}.items() <= next(
            x for x in r.json()["report_list"] if x["item"] == "事業所名称").items()
    assert _count(services) == before


# 11 --------------------------------------------------------------------------------------------------

def _chunks(data: bytes, size: int = 65536) -> Any:
    for i in range(0, len(data), size):  # a generator body: httpx sends it chunked, with no Content-Length
        yield data[i:i + size]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_11_chunked_body_over_the_limit_is_413_on_every_face(live_server: str, sim: Flask, services: Any,
                                                               world: Any) -> None:
    from egov_sim.idp.egov_tokens import issue_tokens_for
    from egov_sim.store.models import Account

    sim.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    with services.db.session() as s:
        account_id = s.scalars(select(Account.id).where(Account.username == world.account("demo")["username"])).one()
    token = issue_tokens_for(services, account_id, world.client_id, f"{live_server}/auth")["access_token"]
    gbiz = world.gbizid["clients"][0]
    faces = {"/shinsei/v2/apply": ("application/json", f"Bearer {token}", "application/json"),
             "/auth/token": ("application/x-www-form-urlencoded",
                             _basic(world.client_id, world.client_secret), "application/json"),
             "/__admin/faults": ("application/json", "", "application/json"),
             "/shinsei/1/authentication/login": ("application/xml", "", "text/xml"),  # the body is its credential
             "/gbizid/oauth/token": ("application/x-www-form-urlencoded",
                                     _basic(gbiz["client_id"], gbiz["client_secret"]),
                                     "application/json")}
    with httpx.Client(base_url=live_server) as client:
        for path, (media, auth, answer_type) in faces.items():
            r = client.post(path, content=_chunks(b" " * (1024 * 1024 + 1)),
                            headers={"Content-Type": media, "Authorization": auth})
            assert "content-length" not in r.request.headers
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            assert r.headers["Content-Type"].startswith(answer_type), (path, r.headers["Content-Type"])
        rule = json.dumps({"match": {"path": "/shinsei/v2/apply/lists"}, "action": {"status": 503}}).encode()
        r = client.post("/__admin/faults", content=_chunks(rule + b" " * (1024 * 1024 - len(rule)), 4096),
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 201, r.text  # chunked at the limit: read whole, as before
    assert _count(services) == 0


# 12 --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["amend", "check", "withdraw"])
def test_12_wrong_method_on_apply_operations_is_405(sim: Flask, http: httpx.Client, egov: EgovClient,
                                                   name: str) -> None:
    client = sim.test_client()  # not the spec-validating client: these methods are not in the document
    for method in ("GET", "PUT", "DELETE"):
        r = client.open(f"/shinsei/v2/apply/{name}", method=method, headers=_bearer(egov))
        assert r.status_code == 405, (method, r.status_code, r.get_data(as_text=True))
        assert "GET" not in r.headers["Allow"] and "POST" in r.headers["Allow"]
        assert r.get_json()["title"] == "Method Not Allowed"
    r = client.options(f"/shinsei/v2/apply/{name}", headers=_bearer(egov))
    assert "GET" not in r.headers["Allow"] and "POST" in r.headers["Allow"]
    assert http.get("/shinsei/v2/apply/12345", headers=_bearer(egov)).status_code == 400  # a bad arrive_id


# 13 --------------------------------------------------------------------------------------------------

def test_13_strict_sandbox_and_trial_headers(http: httpx.Client, egov: EgovClient, services: Any, signer: Any) -> None:
    raw = sample_package(services.catalogue, PROC, signer).to_zip()
    for headers, word in (({"X-Sandbox-Scenario": "no-such-story"}, "X-Sandbox-Scenario"),
                          ({"X-Sandbox-Auto-Return": "no-such-case"}, "missing_salary"),
                          ({"X-eGovAPI-Trial": "yes"}, "X-eGovAPI-Trial")):
        r = http.post("/shinsei/v2/apply", json=_body(raw), headers=_bearer(egov) | headers)
        assert r.status_code == 400, (headers, r.text)
        assert word in json.dumps(r.json(), ensure_ascii=False), r.text
    assert _count(services) == 0
    r = http.post("/shinsei/v2/bulk-apply", json={"send_file": _body(raw)["send_file"]},
                  headers=_bearer(egov) | {"X-eGovAPI-Trial": "{}"})  # schemathesis' find: bulk-apply's shape
    assert r.status_code == 400 and r.json()["error_count"] == 1
    r = http.post("/shinsei/v2/apply", json=_body(raw), headers=_bearer(egov) | {"X-eGovAPI-Trial": "false"})
    assert r.status_code == 200, r.text


# 14 --------------------------------------------------------------------------------------------------

def test_14_journal_names_only_verified_accounts(http: httpx.Client) -> None:
    def b64(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    forged = f"{b64({'alg': 'none'})}.{b64({'preferred_username': 'victim@example.jp'})}."
    http.get("/shinsei/v2/apply/lists", params={"date_from": "2024-01-01", "date_to": "2024-01-31"},
             headers={"Authorization": f"Bearer {forged}"})
    entry = http.get("/__admin/requests", params={"path": "/shinsei/v2/apply/lists"}).json()["requests"][0]
    assert entry["account"] != "victim@example.jp"
    assert entry.get("claimed_account") == "victim@example.jp" and entry["account"] is None
