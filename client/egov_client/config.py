"""Endpoint presets: the simulator, e-Gov's 検証環境 (sandbox) and production."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Endpoint:
    name: str
    api_base: str  # .../shinsei/v2
    auth_base: str  # .../auth
    client_id: str = ""  # software ID
    client_secret: str = ""  # API key
    redirect_uri: str = ""
    scope: str = "openid offline_access"

    def with_credentials(self, client_id: str, client_secret: str, redirect_uri: str = "") -> Endpoint:
        return replace(self, client_id=client_id, client_secret=client_secret,
                       redirect_uri=redirect_uri or self.redirect_uri)

    @property
    def is_simulator(self) -> bool:
        return self.name == "simulator"


PRODUCTION = Endpoint("production", "https://api.e-gov.go.jp/shinsei/v2", "https://account.e-gov.go.jp/auth")
SANDBOX = Endpoint("sandbox", "https://api2.sbx.e-gov.go.jp/shinsei/v2", "https://account2.sbx.e-gov.go.jp/auth")


def simulator(base_url: str = "http://127.0.0.1:8080") -> Endpoint:
    base = base_url.rstrip("/")
    return Endpoint("simulator", f"{base}/shinsei/v2", f"{base}/auth")


PRESETS = {"production": PRODUCTION, "sandbox": SANDBOX}


def from_env(default: Endpoint | None = None) -> Endpoint:
    """Build an endpoint from EGOV_API_BASE / EGOV_AUTH_BASE / EGOV_CLIENT_ID / EGOV_CLIENT_SECRET."""
    env = os.environ
    base = default or simulator(env.get("EGOV_SIM_URL", "http://127.0.0.1:8080"))
    return replace(
        base,
        api_base=env.get("EGOV_API_BASE", base.api_base),
        auth_base=env.get("EGOV_AUTH_BASE", base.auth_base),
        client_id=env.get("EGOV_CLIENT_ID", base.client_id),
        client_secret=env.get("EGOV_CLIENT_SECRET", base.client_secret),
        redirect_uri=env.get("EGOV_REDIRECT_URI", base.redirect_uri),
    )
