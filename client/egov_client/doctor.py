"""`egov doctor`: is everything in place to file? Token validity, certificate expiry (warned 30 days
ahead), and whether the API and auth servers answer. Each check returns a `Check`; nothing here
prints."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509

from .auth import AuthClient, AuthError, TokenSet, TokenStore
from .config import Endpoint

CERT_WARN_DAYS = 30
REFRESH_WARN_DAYS = 30
OK, WARN, FAIL = "ok", "warn", "fail"
LEVEL_LABELS = {OK: "OK", WARN: "注意", FAIL: "エラー"}


@dataclass
class Check:
    name: str
    level: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "message": self.message, **self.data}


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _jst_text(dt: datetime) -> str:
    return (_utc(dt) + timedelta(hours=9)).strftime("%Y/%m/%d %H:%M")


def check_reachable(name: str, url: str, http: httpx.Client) -> Check:
    """Any HTTP answer means the server is reachable (401/404 included); 503 means maintenance."""
    started = time.perf_counter()
    try:
        resp = http.get(url, timeout=10.0)
    except httpx.HTTPError as exc:
        return Check(name, FAIL, f"{url} に接続できません ({type(exc).__name__}: {exc})", {"url": url})
    ms = round((time.perf_counter() - started) * 1000)
    data = {"url": url, "status": resp.status_code, "ms": ms}
    if resp.status_code == 503:
        return Check(name, WARN, f"{url} はメンテナンス中または混雑しています (503, {ms} ms)", data)
    return Check(name, OK, f"{url} 応答あり ({resp.status_code}, {ms} ms)", data)


def check_tokens(store: TokenStore, endpoint: Endpoint, http: httpx.Client, now: datetime | None = None) -> Check:
    """Stored tokens: present, refreshable, and active according to the auth server's introspection."""
    now = now or datetime.now(UTC)
    tokens = store.load()
    if tokens is None:
        return Check("アクセストークン", FAIL, "ログインしていません。`egov login` でログインしてください。")
    auth = AuthClient(endpoint, http, clock=lambda: now)
    if tokens.refresh_expired(now) and tokens.needs_refresh(now):
        return Check("アクセストークン", FAIL, "トークンの有効期限が切れています。`egov login` で再度ログインしてください。",
                     {"refresh_expires_at": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None})
    try:
        tokens = auth.valid_tokens(store)  # refreshes (and saves) when the access token is about to expire
        info = auth.introspect(tokens.access_token, "access_token")
    except (AuthError, httpx.HTTPError) as exc:
        return Check("アクセストークン", FAIL, f"トークンを確認できません: {exc}。`egov login` で再度ログインしてください。")
    if not info.get("active") and tokens.refresh_token:
        # the server's clock or a maintenance window may have ended it early: refresh as every command would
        try:
            tokens = auth.refresh(tokens.refresh_token)
            store.save(tokens)
            info = auth.introspect(tokens.access_token, "access_token")
        except (AuthError, httpx.HTTPError):
            info = {"active": False}
    if not info.get("active"):
        return Check("アクセストークン", FAIL, "アクセストークンが無効です。`egov login` で再度ログインしてください。")
    data = _token_data(tokens, info)
    if tokens.refresh_expires_at and tokens.refresh_expires_at - now <= timedelta(days=REFRESH_WARN_DAYS):
        return Check("アクセストークン", WARN, f"有効です。ただしリフレッシュトークンは {_jst_text(tokens.refresh_expires_at)} "
                     "に期限切れになります。期限前に `egov login` してください。", data)
    return Check("アクセストークン", OK, f"有効です（{info.get('username') or ''}、アクセストークン期限 "
                 f"{_jst_text(tokens.expires_at)}）", data)


def _token_data(tokens: TokenSet, info: dict[str, Any]) -> dict[str, Any]:
    return {"username": info.get("username"), "expires_at": tokens.expires_at.isoformat(),
            "refresh_expires_at": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None}


def check_certificate(cert: x509.Certificate, now: datetime | None = None, label: str = "電子証明書") -> Check:
    now = now or datetime.now(UTC)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    data = {"subject": cert.subject.rfc4514_string(), "not_before": not_before.isoformat(),
            "not_after": not_after.isoformat()}
    return certificate_dates(label, not_before, not_after, now, data)


def certificate_dates(label: str, not_before: datetime, not_after: datetime, now: datetime,
                      data: dict[str, Any]) -> Check:
    not_before, not_after, now = _utc(not_before), _utc(not_after), _utc(now)
    if now >= not_after:
        return Check(label, FAIL, f"証明書の有効期限が切れています（{_jst_text(not_after)} まで）", data)
    if now < not_before:
        return Check(label, WARN, f"証明書はまだ有効期間前です（{_jst_text(not_before)} から）", data)
    left = not_after - now
    if left <= timedelta(days=CERT_WARN_DAYS):
        return Check(label, WARN, f"証明書の有効期限が近づいています（あと {left.days} 日、{_jst_text(not_after)} まで）。"
                     "有効期限が切れる前に新しい電子証明書に切り替えてください。", data)
    return Check(label, OK, f"有効です（{_jst_text(not_after)} まで、あと {left.days} 日）", data)
