"""Targets the scenarios run against: a simulator (with its admin API) or e-Gov's 検証環境.

A Target answers three questions for the steps: where (the endpoint), who (accounts by alias)
and with which certificate (PKCS#12 by label). What a target cannot offer raises
TargetUnavailable, which the steps turn into a skip with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from egov_client.admin import SimulatorAdmin
from egov_client.config import SANDBOX, Endpoint, simulator
from egov_format.signing import Signer, load_pkcs12

# e-Gov's 検証環境 settings read from the environment (see sandbox_target)
SANDBOX_ENV = ("EGOV_CLIENT_ID", "EGOV_CLIENT_SECRET", "EGOV_REDIRECT_URI", "EGOV_USERNAME", "EGOV_PASSWORD")
DEFAULT_ACCOUNT = "demo"
DEFAULT_CERTIFICATE = "valid"


class TargetUnavailable(Exception):
    """The target cannot do what a step needs (no clock control, no such account or certificate)."""


@dataclass(frozen=True)
class Account:
    alias: str
    username: str
    password: str


@dataclass
class Target:
    """Where the scenarios run. `admin` is set only for simulators (clock, world, reset)."""

    name: str
    endpoint: Endpoint
    accounts: dict[str, Account] = field(default_factory=dict)
    admin: SimulatorAdmin | None = None
    certificates: Mapping[str, tuple[bytes, str]] | Callable[[str], tuple[bytes, str]] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # settings that are not there (the target cannot run at all)
    gbizid_accounts: dict[str, Account] = field(default_factory=dict)  # GビズID accounts by alias (username = ID)

    @property
    def is_simulator(self) -> bool:
        return self.admin is not None

    def require_usable(self) -> None:
        if self.missing:
            raise TargetUnavailable(f"{self.name}: set {', '.join(self.missing)} to run against it")

    def require_simulator(self, what: str = "this step") -> SimulatorAdmin:
        if self.admin is None:
            raise TargetUnavailable(f"{what} needs control of a simulator; {self.name} offers none")
        return self.admin

    def account(self, alias: str = DEFAULT_ACCOUNT) -> Account:
        try:
            return self.accounts[alias]
        except KeyError:
            known = ", ".join(self.accounts) or "none"
            raise TargetUnavailable(f"{self.name} has no account {alias!r} (known: {known})") from None

    def gbizid_account(self, alias: str) -> Account:
        try:
            return self.gbizid_accounts[alias]
        except KeyError:
            known = ", ".join(self.gbizid_accounts) or "none"
            raise TargetUnavailable(f"{self.name} has no GビズID account {alias!r} (known: {known})") from None

    def certificate(self, label: str = DEFAULT_CERTIFICATE) -> tuple[bytes, str]:
        """(PKCS#12 bytes, password) of a signing certificate by label."""
        source = self.certificates
        try:
            return source(label) if callable(source) else source[label]
        except KeyError:
            raise TargetUnavailable(f"{self.name} has no {label!r} certificate") from None

    def signer(self, label: str = DEFAULT_CERTIFICATE) -> Signer:
        p12, password = self.certificate(label)
        return load_pkcs12(p12, password)


def simulator_target(base_url: str, *, admin_token: str = "", http: httpx.Client | None = None,
                     name: str = "", reset: bool = False, world: str | None = None) -> Target:
    """A simulator at `base_url`: credentials, accounts and certificates come from its demo world
    (of world `world` of that server when given: the admin API addresses it, its credentials route to it)."""
    admin = SimulatorAdmin(base_url, token=admin_token, http=http, world=world)
    world = admin.reset() if reset else admin.world()
    endpoint = simulator(base_url).with_credentials(world["client_id"], world["client_secret"],
                                                     world["redirect_uris"][0])
    accounts = {a["alias"]: Account(a["alias"], a["username"], a["password"]) for a in world["accounts"]}

    def certificate(label: str) -> tuple[bytes, str]:
        if not any(c["label"] == label for c in world["certificates"]):
            raise KeyError(label)
        cert = admin.certificate(label)
        return cert.p12, cert.password

    gbizid = {a["alias"]: Account(a["alias"], a["account_id"], a["password"])
              for a in (world.get("gbizid") or {}).get("accounts", [])}
    return Target(name or f"simulator {base_url}", endpoint, accounts, admin, certificate, gbizid_accounts=gbizid)


def sandbox_target(env: Mapping[str, str] | None = None) -> Target:
    """e-Gov's 検証環境 with the software and account given in the environment.

    EGOV_CLIENT_ID / EGOV_CLIENT_SECRET (software ID, API key), EGOV_REDIRECT_URI (registered),
    EGOV_USERNAME / EGOV_PASSWORD (the e-Gov account, alias "demo"), EGOV_P12 / EGOV_P12_PASSWORD
    (a signing certificate, label "valid"); EGOV_API_BASE / EGOV_AUTH_BASE override the hosts.
    """
    env = os.environ if env is None else env
    endpoint = Endpoint(SANDBOX.name, env.get("EGOV_API_BASE", SANDBOX.api_base),
                        env.get("EGOV_AUTH_BASE", SANDBOX.auth_base)).with_credentials(
        env.get("EGOV_CLIENT_ID", ""), env.get("EGOV_CLIENT_SECRET", ""), env.get("EGOV_REDIRECT_URI", ""))
    accounts = {}
    if env.get("EGOV_USERNAME") and env.get("EGOV_PASSWORD"):
        accounts[DEFAULT_ACCOUNT] = Account(DEFAULT_ACCOUNT, env["EGOV_USERNAME"], env["EGOV_PASSWORD"])
    certificates: dict[str, tuple[bytes, str]] = {}
    if env.get("EGOV_P12"):
        certificates[DEFAULT_CERTIFICATE] = (Path(env["EGOV_P12"]).read_bytes(), env.get("EGOV_P12_PASSWORD", ""))
    missing = tuple(name for name in SANDBOX_ENV if not env.get(name))
    return Target("e-Gov 検証環境", endpoint, accounts, None, certificates, missing)
