"""The GビズID part of the demo world: prime (法人 and 個人事業主), entry and member accounts, a
deficient prime application, a delegation, and RP registrations for e-Gov and for a demo RP.

The demo e-Gov account "gbiz" is the e-Gov side of the prime 法人 account: same login ID, linked
by the GビズID sub, so 「GビズIDでログイン」 on e-Gov lands in it.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..idp.egov_federation import CALLBACK_PATH, EGOV_RP_CLIENT_ID
from ..idp.gbizid_accounts import (
    APPLICATION_FORM,
    CORPORATION,
    DEFICIENCY_REASONS,
    DEFICIENT,
    ENTRY,
    MEMBER,
    PRIME,
    SEAL_CERTIFICATE,
    SOLE_PROPRIETOR,
)
from ..rp import config as keieikakushin
from ..store.models import Account, GbizAccount, GbizDelegation, GbizPrimeApplication, GbizRelyingParty
from .people import PREFECTURES, Company, PeopleFactory, Person

DEMO_RP_CLIENT_ID = "gbizid-demo-rp"
DEMO_RP_REDIRECT_URIS = ["http://127.0.0.1:8766/callback", "http://localhost:8766/callback"]


def _ymd(iso: str) -> str:
    return iso.replace("-", "")


def company_claims(company: Company, representative: Person | None = None) -> dict[str, str]:
    rep = representative or company.representative
    return {"corporate_number": company.corporate_number, "name": company.name, "en_name": company.en_name,
            "prefecture_name": company.prefecture_code, "address1": company.city, "address2": company.street,
            "rep_last_nm": rep.last_name, "rep_first_nm": rep.first_name, "rep_last_nm_kana": rep.last_name_kana,
            "rep_first_nm_kana": rep.first_name_kana, "birthday_ymd": ""}


def user_claims(person: Person, people: PeopleFactory, *, department: str = "", birthday: bool = True) -> dict[str, str]:
    f = people.faker
    prefecture = f.prefecture()
    return {"user_last_nm": person.last_name, "user_first_nm": person.first_name,
            "user_last_nm_kana": person.last_name_kana, "user_first_nm_kana": person.first_name_kana,
            "user_post_code": f.zipcode().replace("-", ""), "user_prefecture_name": PREFECTURES.get(prefecture, "13"),
            "user_address1": f.city(), "user_address2": f.town() + f.chome() + f.ban(),
            "user_address3": f"{f.building_name()}{people.rng.randint(1, 9)}0{people.rng.randint(1, 9)}号室",
            "user_department": department, "user_tel_no_contact": person.phone.replace("-", ""),
            "user_birthday_ymd": _ymd(person.birthday) if birthday else ""}


def _account(s: Session, now: datetime, **values: Any) -> GbizAccount:
    account = GbizAccount(sub=values.pop("sub", None) or str(uuid.uuid4()), created_at=now, **values)
    s.add(account)
    s.flush()
    return account


def create_gbizid_world(s: Session, people: PeopleFactory, now: datetime, egov_gbiz: Account,
                        egov_password: str) -> dict[str, Any]:
    """Add the GビズID demo data in the demo world's transaction; returns what `serve` prints."""
    listed: list[dict[str, Any]] = []
    prime_company: dict[str, Any] = {}

    def remember(alias: str, account: GbizAccount, password: str, role: str) -> None:
        listed.append({"alias": alias, "account_id": account.account_id, "password": password, "role": role,
                       "account_type": account.account_type, "corp_type": account.corp_type, "sub": account.sub,
                       "second_factor": "none" if account.account_type == ENTRY else
                       ("app" if account.totp_secret else "sms"),
                       "sms_number": account.sms_number, "totp_secret": account.totp_secret,
                       "name": f"{account.user.get('user_last_nm', '')}　{account.user.get('user_first_nm', '')}",
                       "organisation": (account.company or prime_company).get("name", ""),
                       "corporate_number": account.company.get("corporate_number", "")})

    # prime 法人: the GビズID identity behind e-Gov's "gbiz" account
    profile = egov_gbiz.profile
    person = Person(**profile["person"])
    company_data = dict(profile["company"])
    company_data.pop("address", None)
    company = Company(**{**company_data, "representative": Person(**company_data["representative"])})
    prime = _account(s, now, account_id=egov_gbiz.username, password_hash=generate_password_hash(egov_password),
                     account_type=PRIME, corp_type=CORPORATION, status="active", company=company_claims(company),
                     user=user_claims(person, people, department="総務部"), sms_number=people.mobile_number())
    prime_company.update(prime.company)
    egov_gbiz.profile = {**profile, "gbizid_sub": prime.sub}
    egov_gbiz.password_hash = prime.password_hash  # only used when egov_form_gbizid_password is on
    remember("prime", prime, egov_password, "gBizIDプライム（法人）— e-Gov の gbiz アカウントと連携")

    # prime 個人事業主 (a 社会保険労務士 office) logging in with an authenticator app
    owner = people.person()
    sole_company = people.company()
    sole_claims = {**company_claims(sole_company, owner), "corporate_number": "", "en_name": "",
                   "name": f"{owner.last_name}社会保険労務士事務所", "birthday_ymd": _ymd(owner.birthday)}
    password = secrets.token_urlsafe(12)
    sole = _account(s, now, account_id="sole@gbiz.example.jp", password_hash=generate_password_hash(password),
                    account_type=PRIME, corp_type=SOLE_PROPRIETOR, status="active", company=sole_claims,
                    user=user_claims(owner, people), sms_number=people.mobile_number(),
                    totp_secret=pyotp.random_base32())
    remember("sole", sole, password, "gBizIDプライム（個人事業主）— 認証アプリでログイン")

    # entry: self-registered, ID + password only
    entry_person = people.person()
    entry_company = people.company()
    password = secrets.token_urlsafe(12)
    entry = _account(s, now, account_id="entry@gbiz.example.jp", password_hash=generate_password_hash(password),
                     account_type=ENTRY, corp_type=CORPORATION, status="active",
                     company={**company_claims(entry_company), "birthday_ymd": ""},
                     user=user_claims(entry_person, people, birthday=False), sms_number="")
    remember("entry", entry, password, "gBizIDエントリー")

    # member of the prime 法人
    member_person = people.person()
    password = secrets.token_urlsafe(12)
    member = _account(s, now, account_id="member@gbiz.example.jp", password_hash=generate_password_hash(password),
                      account_type=MEMBER, corp_type=CORPORATION, status="active", parent_ref=prime.id,
                      member_role="member", company={}, user=user_claims(member_person, people, department="人事部"),
                      sms_number=people.mobile_number(), mandates=[EGOV_RP_CLIENT_ID])
    remember("member", member, password, "gBizIDメンバー（プライム法人の従業員）")

    # a prime application found deficient (印鑑証明書 was a copy): cannot log in
    applicant = people.person()
    applicant_company = people.company()
    password = secrets.token_urlsafe(12)
    app = GbizPrimeApplication(number=f"P{now:%Y%m%d}000001", account_id="deficient@gbiz.example.jp",
                               corp_type=CORPORATION, data={}, submitted_at=now - timedelta(days=14),
                               review_due_at=now - timedelta(days=1), outcome=DEFICIENT,
                               documents=[{"kind": APPLICATION_FORM, "original": True},
                                          {"kind": SEAL_CERTIFICATE, "original": False}],
                               deficiencies=[{"code": "copied_certificate",
                                              "reason": DEFICIENCY_REASONS["copied_certificate"]}])
    s.add(app)
    s.flush()
    deficient = _account(s, now, account_id=app.account_id, password_hash=generate_password_hash(password),
                         account_type=PRIME, corp_type=CORPORATION, status="applied",
                         company=company_claims(applicant_company), user=user_claims(applicant, people),
                         sms_number=people.mobile_number(), application_ref=app.id)
    app.account_ref = deficient.id
    remember("deficient", deficient, password, "gBizIDプライム申請が不備（ログイン不可）")

    # RPs: e-Gov (its broker endpoint on this origin), the 経営革新計画 RP (/keieikakushin, registered here so
    # that a world gets a fresh client id for it) and a demo RP approved for every optional scope
    clients = [
        GbizRelyingParty(client_id=EGOV_RP_CLIENT_ID, client_secret=secrets.token_urlsafe(32), name="e-Gov電子申請",
                         redirect_uris=[CALLBACK_PATH], approved_scopes=[], system_cd="EGOV"),
        GbizRelyingParty(client_id=keieikakushin.RP_CLIENT_ID, client_secret=secrets.token_urlsafe(32),
                         name=keieikakushin.RP_NAME, redirect_uris=[keieikakushin.CALLBACK_PATH], approved_scopes=[],
                         system_cd=keieikakushin.SYSTEM_CD),
        GbizRelyingParty(client_id=DEMO_RP_CLIENT_ID, client_secret=secrets.token_urlsafe(32),
                         name="デモ用行政サービス（経営革新計画電子申請システム風）", redirect_uris=list(DEMO_RP_REDIRECT_URIS),
                         approved_scopes=["jp_gbizid_v1_ida", "role", "delegation_info"], system_cd="DEMORP"),
    ]
    s.add_all(clients)
    s.flush()
    s.add(GbizDelegation(delegation_no=f"D{now:%Y%m%d}000001", delegator_ref=prime.id, delegate_ref=sole.id,
                         client_id=DEMO_RP_CLIENT_ID, categories=["全て"], period_from=now - timedelta(days=1),
                         period_to=now + timedelta(days=365)))
    return {
        "issuer_path": "/gbizid/oauth",
        "accounts": listed,
        "clients": [{"client_id": c.client_id, "client_secret": c.client_secret, "name": c.name,
                     "redirect_uris": list(c.redirect_uris), "approved_scopes": list(c.approved_scopes)}
                    for c in clients],
    }
