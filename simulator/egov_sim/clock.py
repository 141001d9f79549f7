"""The virtual clock — the only source of "now" in the simulator.

Its state lives in the database (one row), so every server process agrees on the time:
virtual_now = anchor_virtual + (real_now - anchor_real) * speed, or anchor_virtual when frozen.
All times are naive datetimes in JST, as e-Gov writes them ("YYYY-MM-DD HH:MM:SS").
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import select

from .store.models import ClockRow

if TYPE_CHECKING:
    from .store.db import Database

JST = timezone(timedelta(hours=9), "JST")

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration without years/months (PT2H, P3D, P1DT30M, -PT5M)."""
    m = _DURATION.match(text.strip().upper())
    if not m or text.strip().upper() in ("P", "PT", "-P"):
        raise ValueError(f"not an ISO-8601 duration (days, hours, minutes, seconds): {text!r}")
    parts = {k: float(v) for k, v in m.groupdict().items() if v and k != "sign"}
    delta = timedelta(**parts)
    return -delta if m.group("sign") else delta


def format_datetime(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def format_date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d")


def real_now_jst() -> datetime:
    return datetime.now(JST).replace(tzinfo=None)


@dataclass(frozen=True)
class ClockState:
    anchor_real: float  # time.time() at the anchor
    anchor_virtual: datetime  # virtual JST time at the anchor
    speed: float = 1.0
    frozen: bool = False

    def now(self, real: float | None = None) -> datetime:
        if self.frozen:
            return self.anchor_virtual
        elapsed = (time.time() if real is None else real) - self.anchor_real
        return self.anchor_virtual + timedelta(seconds=elapsed * self.speed)

    def rebased(self, **changes: object) -> ClockState:
        """A new state anchored at this instant, with changes applied (speed, frozen, anchor_virtual)."""
        real = time.time()
        values = {"anchor_real": real, "anchor_virtual": self.now(real), "speed": self.speed, "frozen": self.frozen}
        values.update(changes)
        return ClockState(**values)  # type: ignore[arg-type]

    def describe(self) -> dict[str, object]:
        now = self.now()
        return {
            "now": format_datetime(now),
            "now_iso": now.replace(tzinfo=JST).isoformat(),
            "speed": self.speed,
            "frozen": self.frozen,
            "offset_seconds": round((now - real_now_jst()).total_seconds(), 3),
        }


# Prebuilt once: reading the clock is on every request's path (a Core read, no ORM identity map).
_STATE = select(ClockRow.anchor_real, ClockRow.anchor_virtual, ClockRow.speed, ClockRow.frozen).where(ClockRow.id == 1)


class Clock:
    """The virtual clock backed by the database row, so all server processes share it."""

    def __init__(self, db: Database, speed: float | None = None) -> None:
        self._db = db
        with db.session() as s:
            row = s.get(ClockRow, 1)
            if row is None:
                state = ClockState(anchor_real=time.time(), anchor_virtual=real_now_jst(), speed=speed or 1.0)
                s.add(self._to_row(state))
            elif speed is not None and speed != row.speed:
                state = self._from_row(row).rebased(speed=speed)
                self._apply(row, state)

    @staticmethod
    def _from_row(row: ClockRow) -> ClockState:
        return ClockState(row.anchor_real, row.anchor_virtual, row.speed, row.frozen)

    @staticmethod
    def _to_row(state: ClockState) -> ClockRow:
        return ClockRow(id=1, anchor_real=state.anchor_real, anchor_virtual=state.anchor_virtual,
                        speed=state.speed, frozen=state.frozen)

    @staticmethod
    def _apply(row: ClockRow, state: ClockState) -> None:
        row.anchor_real, row.anchor_virtual = state.anchor_real, state.anchor_virtual
        row.speed, row.frozen = state.speed, state.frozen

    def state(self) -> ClockState:
        with self._db.reads.connection() as conn:
            (row,) = self._db.prepared(_STATE).rows(conn, {})
        return ClockState(*row)

    def now(self) -> datetime:
        return self.state().now()

    def update(self, *, advance: timedelta | None = None, set_to: datetime | None = None,
               speed: float | None = None, frozen: bool | None = None) -> ClockState:
        """Change the clock atomically: jump to a time, advance, change speed, freeze or unfreeze."""
        if speed is not None and not (0 < speed <= 1_000_000):
            raise ValueError("speed must be > 0 and ≤ 1000000")
        with self._db.session() as s:
            row = s.get(ClockRow, 1, with_for_update=True)
            assert row is not None
            state = self._from_row(row)
            changes: dict[str, object] = {}
            if speed is not None:
                changes["speed"] = speed
            if frozen is not None:
                changes["frozen"] = frozen
            state = state.rebased(**changes)
            if set_to is not None:
                state = state.rebased(anchor_virtual=set_to)
            if advance is not None:
                state = state.rebased(anchor_virtual=state.anchor_virtual + advance)
            self._apply(row, state)
            return state

    def reset(self, speed: float = 1.0) -> ClockState:
        with self._db.session() as s:
            row = s.get(ClockRow, 1, with_for_update=True)
            assert row is not None
            state = ClockState(anchor_real=time.time(), anchor_virtual=real_now_jst(), speed=speed)
            self._apply(row, state)
            return state
