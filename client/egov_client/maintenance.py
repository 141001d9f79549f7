"""`egov maintenance`: the announced maintenance windows (e-Gov電子申請システムメンテナンスのお知らせ).

e-Gov announces its windows on its web site; there is no API for them. The simulator publishes the
same notice as JSON at /maintenance.json. A profile's source is that JSON for the simulator, and
e-Gov's site for 検証環境 / production, which is only pointed at (nothing is scraped). A profile may
name another JSON source in the simulator's format (e.g. a mirror kept by the office).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .errors import EgovError

EGOV_NOTICE_PAGE = "https://shinsei.e-gov.go.jp/"  # e-Gov 電子申請: お知らせ (maintenance announcements)
TITLE = "e-Gov電子申請システムメンテナンスのお知らせ"
ADVICE = ("メンテナンス中はAPIによるすべての申請機能をご利用いただけません。メンテナンス中に申請されたデータは、"
          "e-Gov側に到達していない可能性があります。")


def default_source(kind: str, api_base: str) -> str:
    """The simulator's /maintenance.json, or e-Gov's page for real endpoints."""
    if kind == "simulator":
        root = api_base.rstrip("/").removesuffix("/shinsei/v2")
        return f"{root}/maintenance.json"
    return EGOV_NOTICE_PAGE


def is_json_source(url: str) -> bool:
    return urlsplit(url).path.endswith(".json")


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    start_text: str
    end_text: str
    title: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Window:
        return cls(str(d.get("start") or ""), str(d.get("end") or ""), str(d.get("start_text") or d.get("start") or ""),
                   str(d.get("end_text") or d.get("end") or ""), str(d.get("title") or ""))


@dataclass(frozen=True)
class Notice:
    source: str
    title: str = TITLE
    in_maintenance: bool = False
    current: Window | None = None
    schedule: list[Window] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "title": self.title, "in_maintenance": self.in_maintenance,
                "current": self.current.__dict__ if self.current else None,
                "schedule": [w.__dict__ for w in self.schedule]}


def read_notice(http: httpx.Client, url: str) -> Notice:
    """Read a JSON notice ({title, in_maintenance, current, schedule: [{start, end, start_text, …}]})."""
    try:
        resp = http.get(url, timeout=15.0)
    except httpx.HTTPError as exc:
        raise EgovError(f"メンテナンス情報を取得できません: {url}（{type(exc).__name__}）") from None
    if resp.status_code != 200:
        raise EgovError(f"メンテナンス情報を取得できません: {url}（{resp.status_code}）")
    try:
        body = resp.json()
        current = body.get("current")
        return Notice(url, str(body.get("title") or TITLE), bool(body.get("in_maintenance")),
                      Window.from_json(current) if isinstance(current, dict) else None,
                      [Window.from_json(w) for w in body.get("schedule") or [] if isinstance(w, dict)])
    except (ValueError, AttributeError, TypeError):
        raise EgovError(f"メンテナンス情報の形式に誤りがあります: {url}") from None
