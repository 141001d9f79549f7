"""Profiles of the `egov` command: which e-Gov (simulator, 検証環境, production), with which software
ID and API key, and where its tokens live.

Everything is kept under one home: `EGOV_HOME` when set, else the platform's user config and data
directories (platformdirs). Files holding secrets (profiles.json with API keys, token files) are
written atomically and readable by the owner only (0600).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from . import config
from .auth import FileTokenStore
from .config import Endpoint

APP_NAME = "egov"
KINDS = ("simulator", "sandbox", "production")
KIND_LABELS = {"simulator": "シミュレーター", "sandbox": "検証環境", "production": "本番環境"}
PROFILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class ProfileError(Exception):
    """A profile is missing or malformed (shown to the user as is)."""


@dataclass(frozen=True)
class Home:
    """Where the command keeps its files."""

    config_dir: Path
    data_dir: Path

    @classmethod
    def default(cls) -> Home:
        root = os.environ.get("EGOV_HOME")
        if root:
            return cls(Path(root), Path(root))
        return cls(Path(platformdirs.user_config_dir(APP_NAME)), Path(platformdirs.user_data_dir(APP_NAME)))

    @property
    def profiles_file(self) -> Path:
        return self.config_dir / "profiles.json"

    @property
    def ledger_file(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def token_file(self, profile: str) -> Path:
        return self.data_dir / "tokens" / f"{profile}.json"

    def token_store(self, profile: str) -> FileTokenStore:
        return FileTokenStore(self.token_file(profile))


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # simulator | sandbox | production
    api_base: str
    auth_base: str
    client_id: str = ""
    client_secret: str = ""  # the API key
    redirect_uri: str = ""
    username: str = ""  # remembered login ID (never the password)
    certificate: str = ""  # path of the PKCS#12 used to sign
    certificate_info: dict[str, str] = field(default_factory=dict)  # subject, not_before, not_after (cached)
    maintenance_url: str = ""  # where maintenance windows are announced (default: see maintenance.py)
    trust_anchors: str = ""  # PEM file of government CA certificates for checking documents locally

    @property
    def endpoint(self) -> Endpoint:
        name = "simulator" if self.kind == "simulator" else self.kind
        return Endpoint(name, self.api_base, self.auth_base, self.client_id, self.client_secret, self.redirect_uri)

    @property
    def maintenance_source(self) -> str:
        from .maintenance import default_source

        return self.maintenance_url or default_source(self.kind, self.api_base)

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def public_dict(self) -> dict[str, Any]:
        """For display: the API key masked."""
        d = asdict(self)
        if d["client_secret"]:
            d["client_secret"] = d["client_secret"][:3] + "…" + f"({len(self.client_secret)}文字)"
        return d


def new_profile(name: str, kind: str, *, base_url: str = "", api_base: str = "", auth_base: str = "",
                **fields: Any) -> Profile:
    """A profile from a preset: the simulator at `base_url`, or 検証環境 / production (bases overridable)."""
    if not PROFILE_NAME.match(name):
        raise ProfileError(f"プロファイル名 {name!r} は半角英数字と _ . - で40文字以内にしてください。")
    if kind not in KINDS:
        raise ProfileError(f"種類は {', '.join(KINDS)} のいずれかです。")
    preset = config.simulator(base_url or "http://127.0.0.1:8080") if kind == "simulator" else config.PRESETS[kind]
    return Profile(name=name, kind=kind, api_base=(api_base or preset.api_base).rstrip("/"),
                   auth_base=(auth_base or preset.auth_base).rstrip("/"), **fields)


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with a file readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class ProfileStore:
    """profiles.json: {"current": name, "profiles": {name: {...}}}."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.path = home.profiles_file

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"current": "", "profiles": {}}
        except ValueError as exc:
            raise ProfileError(f"{self.path} を読めません: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            raise ProfileError(f"{self.path} の形式に誤りがあります。")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        _write_private(self.path, json.dumps(data, ensure_ascii=False, indent=2))

    def all(self) -> list[Profile]:
        return [Profile(**p) for p in self._read()["profiles"].values()]

    @property
    def current_name(self) -> str:
        return str(self._read().get("current") or "")

    def get(self, name: str | None = None) -> Profile:
        """The named profile, the current one, or (with no profiles at all) one from EGOV_* variables."""
        data = self._read()
        name = name or os.environ.get("EGOV_PROFILE") or data.get("current") or ""
        if name and name in data["profiles"]:
            return Profile(**data["profiles"][name])
        if name:
            raise ProfileError(f"プロファイル {name!r} がありません。`egov profile add` で作成してください。")
        if os.environ.get("EGOV_CLIENT_ID"):
            ep = config.from_env()
            return Profile("env", "simulator" if ep.is_simulator else ep.name, ep.api_base, ep.auth_base,
                           ep.client_id, ep.client_secret, ep.redirect_uri)
        raise ProfileError("プロファイルがありません。`egov profile add NAME --simulator URL` などで作成してください。")

    def save(self, profile: Profile, *, make_current: bool = False) -> None:
        data = self._read()
        data["profiles"][profile.name] = asdict(profile)
        if make_current or not data.get("current"):
            data["current"] = profile.name
        self._write(data)

    def update(self, name: str, **fields: Any) -> Profile:
        profile = replace(self.get(name), **fields)
        if profile.name != "env":
            self.save(profile)
        return profile

    def use(self, name: str) -> None:
        data = self._read()
        if name not in data["profiles"]:
            raise ProfileError(f"プロファイル {name!r} がありません。")
        data["current"] = name
        self._write(data)

    def remove(self, name: str) -> None:
        data = self._read()
        if data["profiles"].pop(name, None) is None:
            raise ProfileError(f"プロファイル {name!r} がありません。")
        if data.get("current") == name:
            data["current"] = next(iter(data["profiles"]), "")
        self._write(data)
        self.home.token_store(name).clear()
