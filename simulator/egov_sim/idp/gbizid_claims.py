"""GビズID UserInfo claims per scope and account type (flat, as the real UserInfo returns them).

- profile: the organisation — a member sees its prime's company data and `parent_id` (the prime's sub).
- user: the person logged in. email: the account ID. mandate: mandate_info [{client_id}].
- jp_gbizid_v1_ida (OIDC4IDA verified_claims), role and delegation_info: only for RPs approved for them
  (checked when the authorization request is made).
Unknown values are empty strings, as the real service writes unset items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import JST
from ..store.models import GbizAccount, GbizDelegation, GbizRelyingParty
from .gbizid_accounts import COMPANY_FIELDS, ENTRY, MEMBER, PRIME, USER_FIELDS, delegation_view

ROLE_NAMES = {PRIME: "jp_gbizid_prime", "administrator": "jp_gbizid_administrator", "member": "jp_gbizid_member"}


def _organisation(s: Session, account: GbizAccount) -> GbizAccount:
    if account.account_type == MEMBER and account.parent_ref is not None:
        parent = s.get(GbizAccount, account.parent_ref)
        if parent is not None:
            return parent
    return account


def _iso_date(ymd: str) -> str:
    return f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}" if len(ymd) == 8 else ""


def _verified_claims(account: GbizAccount, organisation: GbizAccount) -> dict[str, Any]:
    user = account.user
    verified = account.account_type == PRIME
    claims: dict[str, Any] = {"family_name": user.get("user_last_nm", ""), "given_name": user.get("user_first_nm", ""),
                              "family_name_kana": user.get("user_last_nm_kana", ""),
                              "given_name_kana": user.get("user_first_nm_kana", "")}
    if verified:
        claims["birthdate"] = _iso_date(user.get("user_birthday_ymd", ""))
        if organisation.company.get("corporate_number"):
            claims["corporate_number"] = organisation.company["corporate_number"]
    verified_at = account.created_at.replace(tzinfo=JST).isoformat(timespec="seconds")
    return {
        "verification": {"trust_framework": "jp_gbizid_v1",
                         "assurance_level": "ial2" if verified else "ial1",
                         "time": verified_at},
        "claims": claims,
    }


def _role(account: GbizAccount, organisation: GbizAccount) -> dict[str, Any]:
    name = ROLE_NAMES.get(account.account_type if account.account_type == PRIME else account.member_role or "member",
                          "jp_gbizid_member")
    if account.account_type == ENTRY:
        return {"applies_to": account.sub, "permission": []}
    return {"applies_to": organisation.sub, "permission": [{"role": name}]}


def _delegations(s: Session, account: GbizAccount, now: datetime) -> list[dict[str, Any]]:
    rows = s.scalars(select(GbizDelegation).where(
        GbizDelegation.delegate_ref == account.id, GbizDelegation.revoked_at.is_(None),
        GbizDelegation.period_from <= now, GbizDelegation.period_to > now).order_by(GbizDelegation.id)).all()
    result = []
    for row in rows:
        delegator = s.get(GbizAccount, row.delegator_ref)
        if delegator is not None and delegator.status == "active":
            result.append(delegation_view(row, delegator, account, s.get(GbizRelyingParty, row.client_id)))
    return result


def userinfo_claims(s: Session, account: GbizAccount, scopes: set[str], now: datetime) -> dict[str, Any]:
    """The UserInfo response for an account and the scopes of its grant."""
    organisation = _organisation(s, account)
    claims: dict[str, Any] = {"sub": account.sub}
    if "profile" in scopes:
        claims["account_type"] = account.account_type
        claims["corp_type"] = organisation.corp_type
        if account.account_type == MEMBER:
            claims["parent_id"] = organisation.sub
        claims.update({name: organisation.company.get(name, "") for name in COMPANY_FIELDS})
    if "user" in scopes:
        claims.update({name: account.user.get(name, "") for name in USER_FIELDS})
    if "mandate" in scopes:
        claims["mandate_info"] = [{"client_id": c} for c in account.mandates or []]
    if "email" in scopes:
        claims["email"] = account.account_id
        claims["user_email"] = account.account_id  # deprecated duplicate, still sent
    if "jp_gbizid_v1_ida" in scopes:
        claims["verified_claims"] = _verified_claims(account, organisation)
    if "role" in scopes:
        claims["role"] = _role(account, organisation)
    if "delegation_info" in scopes:
        claims["delegation_info"] = _delegations(s, account, now)
    return claims
