"""Settings of the legacy face where the references are silent (EGOV_SIM_LEGACY_* variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from datetime import timedelta

from ...clock import parse_duration


@dataclass(frozen=True)
class LegacySettings:
    # access-key lifetime: not in the recordings (seed 001 only shows that keys expire); a choice
    access_key_lifetime: str = "PT24H"
    # 送信案件一覧: most PackageApply per answer (seed 001: 30; the v1.2 spec added a 取得件数の上限値)
    list_limit: int = 30
    # HTTP status of the over-limit refusal (seed 001 saw a 「サーバー通信エラー」; the code is unknown)
    list_limit_status: int = 400

    @property
    def access_key_timedelta(self) -> timedelta:
        return parse_duration(self.access_key_lifetime)

    @classmethod
    def from_env(cls) -> LegacySettings:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"EGOV_SIM_LEGACY_{f.name.upper()}")
            if raw is not None:
                values[f.name] = int(raw) if f.type in ("int", int) else raw
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> LegacySettings:
        return replace(self, **changes)  # type: ignore[arg-type]
