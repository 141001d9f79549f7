"""What the kit runs against: a simulator it controls (admin API), or a real endpoint — e-Gov's
検証環境, or a simulator in sandbox mode — with the user's software ID, API key, login and certificate.

A real endpoint's settings come from the environment (the same names as the Gherkin harness):
EGOV_CLIENT_ID, EGOV_CLIENT_SECRET, EGOV_REDIRECT_URI, EGOV_USERNAME, EGOV_PASSWORD, EGOV_P12,
EGOV_P12_PASSWORD; for the アカウント間情報共有 items two GビズID logins: EGOV_GBIZID_OWNER_ID /
_PASSWORD / _TOTP_SECRET and EGOV_GBIZID_GRANTEE_ID / _PASSWORD / _TOTP_SECRET (the authenticator app's
secret; without one the one-time code is asked for).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from ..admin import AdminError, SimulatorAdmin
from ..config import SANDBOX, Endpoint, simulator

REQUIRED_ENV = ("EGOV_CLIENT_ID", "EGOV_CLIENT_SECRET", "EGOV_REDIRECT_URI", "EGOV_USERNAME", "EGOV_PASSWORD",
                "EGOV_P12")
GBIZID_ROLES = ("owner", "grantee")


class TargetNotReady(Exception):
    """The target cannot be tested at all (settings missing); the message says what is needed."""


@dataclass(frozen=True)
class GbizLogin:
    account_id: str
    password: str
    totp_secret: str = ""


@dataclass
class KitTarget:
    name: str
    endpoint: Endpoint
    username: str
    password: str
    p12: bytes
    p12_password: str
    admin: SimulatorAdmin | None = None
    gbizid: dict[str, GbizLogin] = field(default_factory=dict)
    ask_code: Callable[[str], str] | None = None  # asks a person for a GビズID one-time code

    @property
    def controlled(self) -> bool:
        return self.admin is not None

    def one_time_code(self, role: str) -> Callable[[str], str]:
        """The second factor of a GビズID login: the simulator's SMS outbox, the authenticator secret, or a person."""
        login = self.gbizid[role]

        def code(factor: str) -> str:
            if login.totp_secret:
                import pyotp

                return str(pyotp.TOTP(login.totp_secret).now())
            if self.admin is not None:
                if factor == "app":
                    return str(self.admin.call("GET", f"/gbizid/accounts/{quote(login.account_id)}/app/code")["code"])
                messages = self.admin.outbox(login.account_id, limit=1)
                if messages:
                    return str(messages[0]["code"])
            if self.ask_code is not None:
                return self.ask_code(f"GビズID {login.account_id} の確認コード ({factor})")
            raise TargetNotReady(f"GビズID {login.account_id}: set EGOV_GBIZID_{role.upper()}_TOTP_SECRET "
                                 "or run interactively to type the one-time code")
        return code


def controlled_simulator(base_url: str, admin: SimulatorAdmin) -> KitTarget:
    """A simulator with its admin API: credentials, accounts and the certificate from its demo world."""
    world = admin.world()
    endpoint = simulator(base_url).with_credentials(world["client_id"], world["client_secret"],
                                                     world["redirect_uris"][0])
    demo = next(a for a in world["accounts"] if a["alias"] == "demo")
    cert = admin.certificate("valid")
    gbiz = {a["alias"]: a for a in (world.get("gbizid") or {}).get("accounts", [])}
    logins = {role: GbizLogin(gbiz[alias]["account_id"], gbiz[alias]["password"])
              for role, alias in (("owner", "prime"), ("grantee", "member")) if alias in gbiz}
    return KitTarget(f"egov-sandbox シミュレーター ({base_url})", endpoint, demo["username"], demo["password"],
                     cert.p12, cert.password, admin, logins)


def real_endpoint(name: str, endpoint: Endpoint, env: Mapping[str, str]) -> KitTarget:
    """e-Gov's 検証環境 (or a simulator in sandbox mode) with the user's settings; TargetNotReady names what is missing."""
    missing = [key for key in REQUIRED_ENV if not env.get(key)]
    if missing:
        raise TargetNotReady(
            f"{name}: the 最終確認試験 needs your software ID and API key, a registered redirect URI, an e-Gov "
            f"account and a test signing certificate. Set {', '.join(missing)} (and EGOV_P12_PASSWORD; for items "
            "32-1–36-1 two GビズID logins: EGOV_GBIZID_OWNER_ID/_PASSWORD and EGOV_GBIZID_GRANTEE_ID/_PASSWORD).")
    gbizid = {role: GbizLogin(env[f"EGOV_GBIZID_{role.upper()}_ID"], env.get(f"EGOV_GBIZID_{role.upper()}_PASSWORD", ""),
                              env.get(f"EGOV_GBIZID_{role.upper()}_TOTP_SECRET", ""))
              for role in GBIZID_ROLES if env.get(f"EGOV_GBIZID_{role.upper()}_ID")}
    endpoint = endpoint.with_credentials(env["EGOV_CLIENT_ID"], env["EGOV_CLIENT_SECRET"], env["EGOV_REDIRECT_URI"])
    return KitTarget(name, endpoint, env["EGOV_USERNAME"], env["EGOV_PASSWORD"], Path(env["EGOV_P12"]).read_bytes(),
                     env.get("EGOV_P12_PASSWORD", ""), None, gbizid)


def resolve(target: str, env: Mapping[str, str] | None = None, *, admin_token: str = "") -> KitTarget:
    """"sandbox" → e-Gov's 検証環境; a URL → a simulator: controlled when its admin API answers, else
    treated as a real endpoint (a simulator in sandbox mode)."""
    env = os.environ if env is None else env
    if target == "production":
        raise TargetNotReady("the 最終確認試験 kit does not run against production")
    if target == "sandbox":
        endpoint = Endpoint(SANDBOX.name, env.get("EGOV_API_BASE", SANDBOX.api_base),
                            env.get("EGOV_AUTH_BASE", SANDBOX.auth_base))
        return real_endpoint("e-Gov 検証環境", endpoint, env)
    base = target.rstrip("/")
    admin = SimulatorAdmin(base, token=admin_token or env.get("EGOV_SIM_ADMIN_TOKEN", ""))
    try:
        return controlled_simulator(base, admin)
    except (AdminError, httpx.HTTPError, KeyError):
        admin.close()
    return real_endpoint(f"{base} (sandbox mode: no admin API)", simulator(base), env)
