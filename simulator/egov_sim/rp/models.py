"""The tables of 経営革新計画電子申請システム (the RP): users, login sessions, applications, mails, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base


class KkUser(Base):
    """A GビズID user who logged in here (by sub); `profile` is the ユーザ情報登録 (None until registered)."""

    __tablename__ = "kk_users"
    sub: Mapped[str] = mapped_column(String(64), primary_key=True)
    gbizid_email: Mapped[str] = mapped_column(String(256))
    account_type: Mapped[str] = mapped_column(String(2))
    userinfo: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_login_at: Mapped[datetime] = mapped_column(DateTime)
    last_login_at: Mapped[datetime] = mapped_column(DateTime)


class KkSession(Base):
    """A browser session (cookie = id): the pending GビズID authorization, then the logged-in user."""

    __tablename__ = "kk_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # state, nonce, verifier, next
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class KkApplication(Base):
    """One 経営革新計画 application: its five pages (draft and registered values), status and review."""

    __tablename__ = "kk_applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)  # APL-… once applied
    owner_sub: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    pages: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # page → {"values", "state"}
    remarks: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # page → [{"comment", "files"}] (指摘)
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class KkFile(Base):
    """An uploaded file: an applicant's 添付書類 or a reviewer's コメントファイル."""

    __tablename__ = "kk_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # attachment | comment
    name: Mapped[str] = mapped_column(String(256))
    content_type: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class KkMail(Base):
    """A mail "sent" by the RP; listed under "mails" in GET /__admin/outbox beside the SMS codes."""

    __tablename__ = "kk_mails"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    to: Mapped[str] = mapped_column(String(256), index=True)
    subject: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    application_number: Mapped[str] = mapped_column(String(32), default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime)


class KkSetting(Base):
    """The RP's settings changed through /__admin/keieikakushin/settings (one JSON row, id=1)."""

    __tablename__ = "kk_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KkReviewerSession(Base):
    """A prefecture reviewer's browser session under /keieikakushin/shinsa (cookie = id); `login_id` once logged in."""

    __tablename__ = "kk_reviewer_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64))
    login_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class KkReviewerLock(Base):
    """Consecutive failed password logins of a reviewer account, and until when it is locked (virtual clock)."""

    __tablename__ = "kk_reviewer_locks"
    login_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class KkInquiry(Base):
    """An お問い合わせ to the help desk (seed 004: the menu's お問い合わせフォーム; a receipt mail is sent)."""

    __tablename__ = "kk_inquiries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(256))
    tel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    sub: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
