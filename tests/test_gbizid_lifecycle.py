"""GビズID account lifecycle through the admin API, and what each state means at login."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import BASE, advance
from egov_client.auth import AuthError
from egov_client.gbizid import GbizIdClient, login_with_gbizid_form, simulator, simulator_one_time_code
from egov_sim.clock import JST
from egov_sim.idp.gbizid_accounts import _review_draw
from egov_sim.services import Services
from egov_sim.world.demo import DemoWorld
from egov_sim.world.people import PeopleFactory

ADMIN = "/__admin/gbizid"


def account(world: DemoWorld, alias: str) -> dict[str, Any]:
    return next(a for a in world.gbizid["accounts"] if a["alias"] == alias)


@pytest.fixture
def rp(world: DemoWorld, http: httpx.Client, services: Services) -> Iterator[GbizIdClient]:
    c = next(c for c in world.gbizid["clients"] if c["client_id"] == "gbizid-demo-rp")
    provider = simulator(BASE).with_credentials(c["client_id"], c["client_secret"], c["redirect_uris"][0])
    yield GbizIdClient(provider, http=http, clock=lambda: services.clock.now().replace(tzinfo=JST))


def log_in(rp: GbizIdClient, account_id: str, password: str, scope: str = "openid profile user email") -> Any:
    authorization = rp.authorization(scope, prompt="login")
    callback = login_with_gbizid_form(rp.http, authorization, account_id, password,
                                      simulator_one_time_code(rp.http, BASE, account_id))
    return rp.callback(callback, authorization)


def login_error(rp: GbizIdClient, account_id: str, password: str) -> str:
    with pytest.raises(AuthError) as caught:
        log_in(rp, account_id, password)
    return caught.value.error_description


def application(people: PeopleFactory, account_id: str = "new.prime@example.co.jp", **changes: Any) -> dict[str, Any]:
    company, person = people.company(), people.person()
    body = {"account_id": account_id, "password": "prime-password-1", "corp_type": "1",
            "sms_number": people.mobile_number(), "corporate_number": company.corporate_number,
            "name": company.name, "prefecture_name": company.prefecture_code, "address1": company.city,
            "address2": company.street, "rep_last_nm": company.representative.last_name,
            "rep_first_nm": company.representative.first_name,
            "rep_last_nm_kana": company.representative.last_name_kana,
            "rep_first_nm_kana": company.representative.first_name_kana, "user_last_nm": person.last_name,
            "user_first_nm": person.first_name, "user_last_nm_kana": person.last_name_kana,
            "user_first_nm_kana": person.first_name_kana, "user_birthday_ymd": person.birthday.replace("-", ""),
            "user_post_code": company.postal_code, "user_prefecture_name": company.prefecture_code}
    body.update(changes)
    return body


@pytest.fixture
def people() -> PeopleFactory:
    return PeopleFactory(7)


def test_prime_application_is_reviewed_on_the_virtual_clock(rp: GbizIdClient, http: httpx.Client,
                                                            services: Services, people: PeopleFactory) -> None:
    body = application(people)
    number = _first_approved_number(services)
    submitted = http.post(f"{ADMIN}/applications", json=body)
    assert submitted.status_code == 201
    app = submitted.json()
    assert app["number"] == number and app["status"] == "審査中" and app["deficiencies"] == []
    assert "審査中" in login_error(rp, body["account_id"], body["password"])
    advance(services, "P14D")
    assert http.get(f"{ADMIN}/applications/{number}").json()["status"] == "承認"
    info = rp.userinfo(log_in(rp, body["account_id"], body["password"]).access_token)
    assert (info["account_type"], info["corporate_number"]) == ("2", body["corporate_number"])


def _first_approved_number(services: Services) -> str:
    """The next application number; the seeded draw for it must approve (checked, not assumed)."""
    from egov_sim.clock import format_date

    number = f"P{format_date(services.clock.now()).replace('-', '')}000002"  # the demo world holds 000001
    assert _review_draw(services.settings.seed, number, services.settings.gbizid_deficiency_rate) is None
    return number


@pytest.mark.parametrize(("documents", "changes", "code"), [
    ([{"kind": "申請書", "original": True}], {}, "missing_certificate"),
    ([{"kind": "申請書"}, {"kind": "印鑑証明書", "original": False}], {}, "copied_certificate"),
    ([{"kind": "申請書"}, {"kind": "印鑑証明書", "issued_on": "2001-01-01"}], {}, "expired_certificate"),
    ([{"kind": "申請書"}, {"kind": "印鑑証明書", "matches": False}], {}, "mismatch_public_records"),
    ([{"kind": "申請書", "edited": True}, {"kind": "印鑑証明書"}], {}, "edited_application"),
    (None, {"corporate_number": "1234567890123"}, "mismatch_public_records"),  # wrong check digit
    (None, {"account_id": "entry@gbiz.example.jp"}, "duplicate_account_id"),
])
def test_deficient_applications_carry_the_operators_reasons(rp: GbizIdClient, http: httpx.Client,
                                                            services: Services, people: PeopleFactory,
                                                            documents: Any, changes: dict[str, Any],
                                                            code: str) -> None:
    body = application(people, **changes)
    if documents is not None:
        body["documents"] = documents
    number = http.post(f"{ADMIN}/applications", json=body).json()["number"]
    advance(services, "P14D")
    app = http.get(f"{ADMIN}/applications/{number}").json()
    assert app["status"] == "不備"
    assert code in [d["code"] for d in app["deficiencies"]] and all(d["reason"] for d in app["deficiencies"])
    if code != "duplicate_account_id":
        assert "不備" in login_error(rp, body["account_id"], body["password"])


def test_the_deficiency_rate_is_a_setting(template_db: Any, tmp_path: Any, people: PeopleFactory) -> None:
    import shutil

    from egov_sim import Settings, create_app

    shutil.copy(template_db, tmp_path / "d.sqlite")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'd.sqlite'}", data_dir=tmp_path,
                              gbizid_deficiency_rate=1.0, gbizid_review_period="PT1H"))
    client = app.test_client()
    outcomes = [client.post(f"{ADMIN}/applications", json=application(people, f"p{i}@example.jp")).json
                for i in range(3)]
    app.extensions["egov_sim"].clock.update(advance=__import__("datetime").timedelta(hours=1))
    for submitted in outcomes:
        reviewed = client.get(f"{ADMIN}/applications/{submitted['number']}").json
        assert reviewed["status"] == "不備" and len(reviewed["deficiencies"]) == 1
    app.extensions["egov_sim"].db.dispose()


def test_seeded_rate_is_near_the_configured_one() -> None:
    drawn = [_review_draw(20240401, f"P20240401{i:06d}", 0.046) for i in range(20000)]
    share = sum(d is not None for d in drawn) / len(drawn)
    assert 0.035 < share < 0.057
    assert max(set(drawn) - {None}, key=drawn.count) == "edited_application"  # the commonest cause in seed 003


def test_operator_decides_a_review_now(http: httpx.Client, people: PeopleFactory) -> None:
    number = http.post(f"{ADMIN}/applications", json=application(people)).json()["number"]
    decided = http.post(f"{ADMIN}/applications/{number}/review",
                        json={"decision": "不備", "reasons": ["copied_certificate", "edited_application"]}).json()
    assert decided["status"] == "不備" and decided["decided_by"] == "operator"
    assert [d["code"] for d in decided["deficiencies"]] == ["copied_certificate", "edited_application"]
    again = http.post(f"{ADMIN}/applications/{number}/review", json={"decision": "承認"})
    assert again.status_code == 409
    bad = http.post(f"{ADMIN}/applications/{number}/review", json={"decision": "maybe"})
    assert bad.status_code == 400


def test_bad_application_input_changes_nothing(http: httpx.Client, people: PeopleFactory) -> None:
    before = http.get(f"{ADMIN}/applications").json()["applications"]
    for changes in ({"account_id": "not-an-email"}, {"sms_number": "0312345678"}, {"password": "short"},
                    {"user_first_nm_kana": "たろう"}, {"user_post_code": "100-0013"}, {"prefecture_name": "48"},
                    {"corp_type": "9"}, {"user_birthday_ymd": "1990-01-01"}):
        response = http.post(f"{ADMIN}/applications", json=application(people, **changes))
        assert response.status_code == 400 and response.json()["detail"]
    assert http.get(f"{ADMIN}/applications").json()["applications"] == before


def test_suspended_accounts_and_their_members_cannot_log_in(rp: GbizIdClient, world: DemoWorld,
                                                            http: httpx.Client) -> None:
    prime, member = account(world, "prime"), account(world, "member")
    tokens = log_in(rp, member["account_id"], member["password"], "openid offline_access")
    assert http.post(f"{ADMIN}/accounts/{prime['account_id']}/suspend", json={"reason": "不正利用の疑い"}).status_code == 200
    assert "利用停止中" in login_error(rp, prime["account_id"], prime["password"])
    assert "利用停止中" in login_error(rp, member["account_id"], member["password"])
    with pytest.raises(AuthError) as caught:
        rp.userinfo(tokens.access_token)
    assert caught.value.status == 401
    with pytest.raises(AuthError) as caught:
        rp.refresh(tokens.refresh_token)
    assert caught.value.error == "invalid_grant"
    assert http.post(f"{ADMIN}/accounts/{prime['account_id']}/suspend").status_code == 409
    view = http.post(f"{ADMIN}/accounts/{prime['account_id']}/resume").json()
    assert view["standing"] == "active" and [e["kind"] for e in view["events"]][-2:] == ["suspended", "resumed"]
    assert log_in(rp, member["account_id"], member["password"]).sub == member["sub"]


def test_demo_deficient_account_cannot_log_in(rp: GbizIdClient, world: DemoWorld) -> None:
    deficient = account(world, "deficient")
    assert "不備" in login_error(rp, deficient["account_id"], deficient["password"])


def test_entry_self_registration_and_duplicates(rp: GbizIdClient, http: httpx.Client) -> None:
    body = {"account_id": "Self.Made@Example.JP", "password": "entry-password", "corp_type": "2",
            "user_last_nm": "山田", "user_first_nm": "花子", "user_last_nm_kana": "ヤマダ",
            "user_first_nm_kana": "ハナコ", "name": "山田商店"}
    created = http.post(f"{ADMIN}/entry", json=body)
    assert created.status_code == 201 and created.json()["second_factor"] == "none"
    assert http.post(f"{ADMIN}/entry", json=body).status_code == 409
    info = rp.userinfo(log_in(rp, "self.made@example.jp", "entry-password").access_token)
    assert (info["account_type"], info["corp_type"], info["name"]) == ("1", "2", "山田商店")


def test_prime_creates_a_member(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    prime = account(world, "prime")
    created = http.post(f"{ADMIN}/accounts/{prime['sub']}/members", json={
        "account_id": "new.member@example.jp", "sms_number": "090-1234-5678", "user_last_nm": "鈴木",
        "user_first_nm": "一郎", "role": "administrator"})
    assert created.status_code == 201
    member = created.json()
    assert member["parent_id"] == prime["sub"] and member["sms_number"] == "09012345678"
    info = rp.userinfo(log_in(rp, "new.member@example.jp", member["password"], "openid profile user").access_token)
    assert (info["account_type"], info["parent_id"], info["name"]) == ("3", prime["sub"], prime["organisation"])
    entry = account(world, "entry")
    refused = http.post(f"{ADMIN}/accounts/{entry['account_id']}/members",
                        json={"account_id": "x@example.jp", "sms_number": "09011112222", "user_last_nm": "a",
                              "user_first_nm": "b"})
    assert refused.status_code == 409


def test_representative_change_shows_in_userinfo(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    prime = account(world, "prime")
    changed = http.post(f"{ADMIN}/accounts/{prime['account_id']}/representative", json={
        "rep_last_nm": "新田", "rep_first_nm": "次郎", "rep_last_nm_kana": "ニッタ", "rep_first_nm_kana": "ジロウ"})
    assert changed.status_code == 200 and changed.json()["events"][-1]["kind"] == "representative_changed"
    info = rp.userinfo(log_in(rp, prime["account_id"], prime["password"]).access_token)
    assert (info["rep_last_nm"], info["rep_first_nm_kana"]) == ("新田", "ジロウ")


def test_sms_number_change_and_authenticator_app(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    prime = account(world, "prime")
    http.post(f"{ADMIN}/accounts/{prime['account_id']}/sms", json={"sms_number": "08099998888"})
    log_in(rp, prime["account_id"], prime["password"])
    latest = http.get("/__admin/outbox", params={"account": prime["account_id"], "limit": 1}).json()["messages"][0]
    assert latest["to"] == "08099998888"
    registered = http.post(f"{ADMIN}/accounts/{prime['account_id']}/app")
    assert registered.status_code == 201 and registered.json()["otpauth_uri"].startswith("otpauth://totp/")
    sent = len(http.get("/__admin/outbox").json()["messages"])
    log_in(rp, prime["account_id"], prime["password"])
    assert len(http.get("/__admin/outbox").json()["messages"]) == sent  # the app's code, no SMS
    assert http.delete(f"{ADMIN}/accounts/{prime['account_id']}/app").json()["second_factor"] == "sms"
    log_in(rp, prime["account_id"], prime["password"])
    assert len(http.get("/__admin/outbox").json()["messages"]) == sent + 1


def test_wrong_password_and_wrong_or_expired_one_time_codes(rp: GbizIdClient, world: DemoWorld, http: httpx.Client,
                                                            services: Services) -> None:
    prime = account(world, "prime")
    assert login_error(rp, prime["account_id"], "wrong") == "アカウントIDまたはパスワードが正しくありません。"
    authorization = rp.authorization("openid", prompt="login")
    with pytest.raises(AuthError) as caught:
        login_with_gbizid_form(http, authorization, prime["account_id"], prime["password"], lambda factor: "000000"
                               if factor == "sms" else "")
    assert caught.value.error_description in ("ワンタイムパスワードが正しくありません。",)
    reader = simulator_one_time_code(http, BASE, prime["account_id"])

    def late(factor: str) -> str:
        code = reader(factor)
        advance(services, "PT6M")
        return code
    with pytest.raises(AuthError) as caught:
        login_with_gbizid_form(http, rp.authorization("openid", prompt="login"), prime["account_id"],
                               prime["password"], late)
    assert "有効期限" in caught.value.error_description


def test_delegation_and_mandates(rp: GbizIdClient, world: DemoWorld, http: httpx.Client) -> None:
    prime, sole, member = account(world, "prime"), account(world, "sole"), account(world, "member")
    made = http.post(f"{ADMIN}/accounts/{sole['account_id']}/delegations", json={
        "delegate": prime["account_id"], "client_id": "gbizid-demo-rp", "categories": ["社会保険"]})
    assert made.status_code == 201
    info = rp.userinfo(log_in(rp, prime["account_id"], prime["password"], "openid delegation_info").access_token)
    assert [d["delegation_no"] for d in info["delegation_info"]] == [made.json()["delegation_no"]]
    assert info["delegation_info"][0]["firm_nm"] == sole["organisation"]
    assert http.delete(f"{ADMIN}/delegations/{made.json()['delegation_no']}").status_code == 204
    info = rp.userinfo(log_in(rp, prime["account_id"], prime["password"], "openid delegation_info").access_token)
    assert info["delegation_info"] == []
    refused = http.post(f"{ADMIN}/accounts/{member['account_id']}/delegations",
                        json={"delegate": prime["account_id"], "client_id": "gbizid-demo-rp"})
    assert refused.status_code == 409
    mandates = http.put(f"{ADMIN}/accounts/{member['account_id']}/mandates",
                        json={"client_ids": ["gbizid-demo-rp", "e-gov"]})
    assert mandates.json()["mandates"] == ["gbizid-demo-rp", "e-gov"]
    assert http.put(f"{ADMIN}/accounts/{member['account_id']}/mandates",
                    json={"client_ids": ["nope"]}).status_code == 400


def test_rp_registration(http: httpx.Client) -> None:
    created = http.post(f"{ADMIN}/clients", json={"name": "jGrants風", "redirect_uris": ["https://rp.example/cb"],
                                                  "approved_scopes": ["role"]})
    assert created.status_code == 201
    rp = created.json()
    assert rp["client_id"].startswith("rp-") and len(rp["client_secret"]) >= 32
    assert http.post(f"{ADMIN}/clients", json={"redirect_uris": ["ftp://x"]}).status_code == 400
    assert http.post(f"{ADMIN}/clients", json={"redirect_uris": ["https://a/cb"],
                                               "approved_scopes": ["openid"]}).status_code == 400
    listed = [c["client_id"] for c in http.get(f"{ADMIN}/clients").json()["clients"]]
    assert rp["client_id"] in listed and "e-gov" in listed
    assert http.get(f"{ADMIN}/accounts/nobody@example.jp").status_code == 404


def test_authenticator_codes_are_accepted_once(rp: GbizIdClient, world: DemoWorld, http: httpx.Client,
                                               services: Services) -> None:
    import pyotp

    sole = account(world, "sole")
    services.clock.update(frozen=True)  # one 30 s step for the whole test
    used = http.get(f"{ADMIN}/accounts/{sole['account_id']}/app/code").json()["code"]
    assert used == pyotp.TOTP(sole["totp_secret"]).at(services.clock.now().replace(tzinfo=JST).timestamp())
    log_in(rp, sole["account_id"], sole["password"])
    authorization = rp.authorization("openid", prompt="login")
    with pytest.raises(AuthError) as caught:  # the same code again: refused (RFC 6238 §5.2)
        login_with_gbizid_form(http, authorization, sole["account_id"], sole["password"], lambda _f: used)
    assert caught.value.error_description == "ワンタイムパスワードが正しくありません。"
    log_in(rp, sole["account_id"], sole["password"])  # the next step's code is still accepted
    assert http.get(f"{ADMIN}/accounts/{sole['account_id']}/app/code").status_code == 409
    advance(services, "PT30S")
    log_in(rp, sole["account_id"], sole["password"])


def _at_once(n: int, job: Any) -> list[Any]:
    """`job()` in `n` threads released together: what each returned, or the exception it raised."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    start = Barrier(n)

    def run(_: int) -> Any:
        start.wait()
        try:
            return job()
        except Exception as exc:  # kept for the assertions
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _account_ref(services: Services, account_id: str) -> int:
    from egov_sim.store.models import GbizAccount
    from sqlalchemy import select

    with services.db.session() as s:
        return s.scalars(select(GbizAccount.id).where(GbizAccount.account_id == account_id)).one()


def test_an_authenticator_code_sent_by_logins_in_parallel_is_accepted_once(world: DemoWorld,
                                                                         services: Services) -> None:
    import pyotp
    from egov_sim.idp import gbizid_op

    sole = account(world, "sole")
    services.clock.update(frozen=True)
    code = pyotp.TOTP(sole["totp_secret"]).at(services.clock.now().replace(tzinfo=JST).timestamp())
    ref = _account_ref(services, sole["account_id"])
    outcomes = _at_once(4, lambda: gbizid_op.verify_app_code(services, ref, code))
    assert outcomes.count(None) == 1, outcomes
    assert all(isinstance(o, gbizid_op.LoginError) for o in outcomes if o is not None)


def test_wrong_sms_codes_sent_in_parallel_each_count_and_lock_the_second_factor(world: DemoWorld,
                                                                              services: Services) -> None:
    """MAX_OTP_ATTEMPTS wrong codes at once count as that many in a row: the second factor is locked, so
    the right code is refused afterwards and the message stays unused."""
    from egov_sim.idp import gbizid_op
    from egov_sim.store.models import GbizSmsMessage

    ref = _account_ref(services, account(world, "prime")["account_id"])
    message_id, _ = gbizid_op.send_sms_code(services, ref)
    with services.db.session() as s:
        right = s.get(GbizSmsMessage, message_id).code
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    outcomes = _at_once(gbizid_op.MAX_OTP_ATTEMPTS, lambda: gbizid_op.verify_sms_code(services, ref, message_id,
                                                                                    wrong))
    assert all(isinstance(o, gbizid_op.LoginError) for o in outcomes), outcomes
    with pytest.raises(gbizid_op.LoginError) as caught:
        gbizid_op.verify_sms_code(services, ref, message_id, right)
    assert caught.value.args[0] == gbizid_op.MSG_OTP_LOCKED
    with services.db.session() as s:
        assert s.get(GbizSmsMessage, message_id).used_at is None
