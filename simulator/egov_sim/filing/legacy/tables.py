"""Tables of the legacy 外部連携API: 利用者ID with its certificate, and access keys. State only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...store.models import Base


class LegacyUser(Base):
    """A 利用者ID (seed 001: one certificate per ID). Its cases belong to `account_id`, an account made
    for it, so they live in the same applications table under the same rules as v2's."""

    __tablename__ = "legacy_users"
    user_id: Mapped[str] = mapped_column(String(12), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    software_id: Mapped[str] = mapped_column(String(64))
    certificate_pem: Mapped[str] = mapped_column(Text)
    previous_certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)  # before a switch
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    last_authenticated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class LegacyAccessKey(Base):
    """The access key of a 利用者ID (one at a time: a new login replaces it); only its hash is kept."""

    __tablename__ = "legacy_access_keys"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("legacy_users.user_id"), unique=True)
    software_id: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
