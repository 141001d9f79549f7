"""One typed settings object, read from EGOV_SIM_* environment variables or CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from platformdirs import user_data_dir


def default_data_dir() -> Path:
    return Path(os.environ.get("EGOV_SIM_DATA_DIR") or user_data_dir("egov-sim", appauthor=False))


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"  # egov-sim serve's default --host and --port


@dataclass(frozen=True)
class Settings:
    # persistence: SQLite file in the data dir by default; "sqlite://" is in-memory (tests)
    database_url: str = ""
    data_dir: Path = field(default_factory=default_data_dir)
    # virtual clock: applied when the clock row is first created (or by --clock-speed at start)
    clock_speed: float | None = None
    # public base URL: issuers, discovery, links, host-relative redirects (`base_url`; never the Host header)
    public_url: str = ""
    # largest accepted request body (bytes); e-Gov refuses with 413 above it
    max_request_bytes: int = 200 * 1024 * 1024
    # per-file size limit inside a package (seed 001: 50 MB)
    max_file_bytes: int = 50 * 1024 * 1024
    # longest value of a form item no check file limits (characters). The document and the form XSDs
    # give none; a value over it is a report_list item, as a check file's limit would be. Chosen.
    form_item_max_chars: int = 4000
    # while the database is unreachable: the Retry-After of the 503 (seconds), and how long a process
    # starting up waits for it (0: fail at once, as in tests; `egov-sim serve` waits without end)
    database_retry_after: int = 5
    database_start_wait: float = 0.0
    # the HTTP server in front (egov-sim serve sets it): connection faults need one that hands over sockets
    server: str = ""
    # admin API token; required when the server is not bound to loopback
    admin_token: str = ""
    # create the demo world when the database is empty
    demo_world: bool = True
    # deterministic seed for Faker and scenario choices
    seed: int = 20240401
    # GビズID settings (uncertain real behaviour made configurable)
    gbizid_issuer_trailing_slash: bool = True
    gbizid_refresh_rotation: bool = False
    # ops: busy-season latency profile (off | calm | busy-season | always-busy), its time scale
    # (1.0 = the seeds' real seconds), and how many requests the journal keeps
    latency_profile: str = "off"
    latency_scale: float = 1.0
    journal_size: int = 1000
    # where the journal lives: "memory" (one process's) or "database" (shared by every process of the
    # deployment, ops/journal_store.py); empty: database on PostgreSQL, memory otherwise
    # (`egov-sim serve --workers N` with N > 1 sets database)
    journal_store: str = ""
    # worlds on PostgreSQL: spare schemas kept made ahead (worlds_pg.py), so a burst of creations stays fast
    world_spares: int = 6
    gbizid_refresh_format: str = "unsigned-jwt"  # observed: alg none JWT {exp, jti}; or "opaque"
    gbizid_refresh_lifetime: str = "P30D"  # inferred, about 30 days
    gbizid_omitted_scope: str = "all"  # no scope parameter: "all" base + approved scopes (deprecated), or "error"
    gbizid_review_period: str = "P14D"  # prime application by post: reviewed within about two weeks
    gbizid_deficiency_rate: float = 0.046  # seed 003: 4.6 % of prime applications were 不備
    gbizid_session_lifetime: str = "PT30M"  # the OP's single sign-on session
    gbizid_otp_lockout: str = "PT30M"  # after 5 wrong second-factor codes in a row (real length unknown)
    gbizid_totp_real_time: bool = True  # also accept authenticator codes for real time (phones live there)
    # the e-Gov form also takes a GビズID-backed account's password (a scripting shortcut; real e-Gov: no)
    egov_form_gbizid_password: bool = False
    # sandbox mode: behave as e-Gov's 検証環境 — no admin API, no X-Sandbox-* headers; the "staff" give
    # each account's n-th submission of a procedure the plan's n-th scenario ("proc=s1,s2;proc2=…") and
    # act on their own timer: scenario steps and bulk arrival take `staff_scale` × their catalogue time
    # (the default plan is what `egov final-test prepare` asks e-Gov's staff for, in its order)
    sandbox_mode: bool = False
    sandbox_staff_plan: str = "950A010700005000=resubmit,hosei_partial,default,hosei_partial"
    sandbox_staff_scale: float = 1.0

    @property
    def base_url(self) -> str:
        """The configured public URL, else `egov-sim serve`'s default address."""
        return (self.public_url or DEFAULT_PUBLIC_URL).rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'egov-sim.sqlite'}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {}
        if "EGOV_SIM_DATABASE_URL" in env:
            values["database_url"] = env["EGOV_SIM_DATABASE_URL"]
        if "EGOV_SIM_CLOCK_SPEED" in env:
            values["clock_speed"] = float(env["EGOV_SIM_CLOCK_SPEED"])
        if "EGOV_SIM_PUBLIC_URL" in env:
            values["public_url"] = env["EGOV_SIM_PUBLIC_URL"]
        if "EGOV_SIM_ADMIN_TOKEN" in env:
            values["admin_token"] = env["EGOV_SIM_ADMIN_TOKEN"]
        if "EGOV_SIM_SEED" in env:
            values["seed"] = int(env["EGOV_SIM_SEED"])
        if "EGOV_SIM_LATENCY_PROFILE" in env:
            values["latency_profile"] = env["EGOV_SIM_LATENCY_PROFILE"]
        if "EGOV_SIM_LATENCY_SCALE" in env:
            values["latency_scale"] = float(env["EGOV_SIM_LATENCY_SCALE"])
        if "EGOV_SIM_FORM_ITEM_MAX_CHARS" in env:
            values["form_item_max_chars"] = int(env["EGOV_SIM_FORM_ITEM_MAX_CHARS"])
        if "EGOV_SIM_DATABASE_RETRY_AFTER" in env:
            values["database_retry_after"] = int(env["EGOV_SIM_DATABASE_RETRY_AFTER"])
        if "EGOV_SIM_DATABASE_START_WAIT" in env:
            values["database_start_wait"] = float(env["EGOV_SIM_DATABASE_START_WAIT"])
        if "EGOV_SIM_SERVER" in env:
            values["server"] = env["EGOV_SIM_SERVER"]
        if "EGOV_SIM_JOURNAL_SIZE" in env:
            values["journal_size"] = int(env["EGOV_SIM_JOURNAL_SIZE"])
        if "EGOV_SIM_WORLD_SPARES" in env:
            values["world_spares"] = int(env["EGOV_SIM_WORLD_SPARES"])
        if "EGOV_SIM_JOURNAL_STORE" in env:
            values["journal_store"] = env["EGOV_SIM_JOURNAL_STORE"]
        if env.get("EGOV_SIM_DEMO_WORLD", "1") in ("0", "false", "no"):
            values["demo_world"] = False
        names = {f.name for f in fields(cls)}
        for f in fields(cls):  # EGOV_SIM_GBIZID_* for the GビズID settings
            raw = env.get(f"EGOV_SIM_{f.name.upper()}")
            if f.name.startswith(("gbizid_", "egov_form_", "sandbox_")) and raw is not None:
                values[f.name] = raw.lower() in ("1", "true", "yes") if f.type in ("bool", bool) else (
                    float(raw) if f.type in ("float", float) else raw)
        values.update({k: v for k, v in overrides.items() if k in names and v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
