"""Tables of the ops rooms: maintenance calendar, fault rules, held/lost arrivals. State only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class MaintenanceWindow(Base):
    """A maintenance window in JST: one-off (start/end) or recurring (a rule, see ops/maintenance.py)."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    start: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # one-off
    end: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    recurrence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # recurring
    auth_down: Mapped[bool] = mapped_column(Boolean, default=False)
    expire_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    end_sessions: Mapped[bool] = mapped_column(Boolean, default=False)
    lose_before_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    announce: Mapped[bool] = mapped_column(Boolean, default=True)


class MaintenanceSettlement(Base):
    """One occurrence of a window whose effects (lost arrivals, ended sessions) have been applied."""

    __tablename__ = "maintenance_settlements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("window_id", "start", name="uq_settlement_occurrence"),)


class FaultRule(Base):
    """An injected failure: what it matches, what it does, and when it fires (ops/faults.py)."""

    __tablename__ = "fault_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rule as posted (validated)
    fired: Mapped[int] = mapped_column(Integer, default=0)
    limit: Mapped[int | None] = mapped_column(Integer, nullable=True)  # fire on the first N matches
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApplicationHold(Base):
    """An accepted application that inquiries do not show: arrival still being checked until
    `hidden_until`, or lost in a maintenance window (`lost_reason`). The row itself is kept."""

    __tablename__ = "application_holds"
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                primary_key=True)
    hidden_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lost_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
