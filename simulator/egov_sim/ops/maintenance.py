"""The maintenance calendar (JST): one-off and recurring windows, and what they do to the world.

Rules only (no Flask). A window is stored as data (store/ops_tables.MaintenanceWindow); its
occurrences are computed from the virtual clock, so every server process agrees on them.

Options per window (seed 000's notice and the vendor manuals):
- auth_down: the auth server (/auth) is down too, not only /shinsei/v2.
- expire_tokens: access tokens issued before the window are refused after it ("Token expired");
  a refresh gets a new one (the manuals' 「トークン再取得」).
- end_sessions: login sessions started before the window end with it; a new login is needed.
- lose_before: submissions accepted this long before the window never show up in inquiries
  (「メンテナンス中に申請されたデータは、e-Gov側に到達していない可能性があります」).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..clock import JST, format_datetime, parse_duration
from ..store.models import Application, AuthSession
from ..store.ops_tables import ApplicationHold, MaintenanceSettlement, MaintenanceWindow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_JA = "月火水木金土日"
# Effects of a past occurrence are settled when the clock has passed its start within this span.
SETTLE_LOOKBACK = timedelta(days=40)
LOST_REASON = "メンテナンス直前に送信されたデータは、e-Gov側に到達していません。"
DETAIL = "サービス利用不可(サーバがメンテナンス中等)"


class CalendarError(ValueError):
    """A window definition the admin API refuses (message for the 400 body)."""


@dataclass(frozen=True)
class Recurrence:
    """Every listed weekday at `start` (JST) for `duration`, between optional first/last dates."""

    weekdays: frozenset[int]
    start: time
    duration: timedelta
    first: date | None = None
    last: date | None = None

    def occurrences(self, begin: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Occurrences overlapping [begin, end)."""
        day = (begin - self.duration).date()
        while day <= end.date():
            if day.weekday() in self.weekdays and (self.first is None or day >= self.first) \
                    and (self.last is None or day <= self.last):
                s = datetime.combine(day, self.start)
                e = s + self.duration
                if e > begin and s < end:
                    yield s, e
            day += timedelta(days=1)

    def as_dict(self) -> dict[str, Any]:
        return {"weekdays": [WEEKDAYS[d] for d in sorted(self.weekdays)], "start": self.start.strftime("%H:%M"),
                "duration": _iso_duration(self.duration),
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None}


@dataclass(frozen=True)
class Window:
    id: int
    title: str
    start: datetime | None
    end: datetime | None
    recurrence: Recurrence | None
    auth_down: bool = False
    expire_tokens: bool = False
    end_sessions: bool = False
    lose_before: timedelta = timedelta(0)
    announce: bool = True

    def occurrences(self, begin: datetime, end: datetime) -> Iterator[Occurrence]:
        if self.recurrence is not None:
            for s, e in self.recurrence.occurrences(begin, end):
                yield Occurrence(self, s, e)
        elif self.start is not None and self.end is not None and self.end > begin and self.start < end:
            yield Occurrence(self, self.start, self.end)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.recurrence is not None:
            body["recurrence"] = self.recurrence.as_dict()
        else:
            body["start"] = _iso(self.start)
            body["end"] = _iso(self.end)
        body.update(auth_down=self.auth_down, expire_tokens=self.expire_tokens, end_sessions=self.end_sessions,
                    lose_before=_iso_duration(self.lose_before), announce=self.announce)
        return body


@dataclass(frozen=True)
class Occurrence:
    window: Window
    start: datetime
    end: datetime

    def contains(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def as_dict(self) -> dict[str, Any]:
        return {"window_id": self.window.id, "title": self.window.title, "start": _iso(self.start),
                "end": _iso(self.end), "start_text": japanese_datetime(self.start),
                "end_text": japanese_datetime(self.end), "auth_down": self.window.auth_down}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") + "+09:00" if dt else None


def _iso_duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    if seconds == 0:
        return "PT0S"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    if hours or minutes or secs:
        out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return out


def japanese_datetime(dt: datetime) -> str:
    """「2023年12月06日(水) 18時00分」 as e-Gov's notice writes it."""
    return f"{dt:%Y年%m月%d日}({WEEKDAY_JA[dt.weekday()]}) {dt:%H時%M分}"


# ---------------------------------------------------------------------------- parsing (admin API input)

def _parse_jst(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise CalendarError(f"{name} は日時 (例: 2024-12-29T06:00:00) で指定してください。")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise CalendarError(f"{name} は日時 (例: 2024-12-29T06:00:00) で指定してください。") from None
    if dt.tzinfo is not None:  # convert to JST, then drop the zone (the simulator's convention)
        dt = dt.astimezone(JST).replace(tzinfo=None)
    return dt


def _duration(value: Any, name: str) -> timedelta:
    if not isinstance(value, str):
        raise CalendarError(f"{name} は ISO-8601 の期間 (例: PT6H) で指定してください。")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise CalendarError(f"{name}: {exc}") from None


def _weekdays(value: Any) -> frozenset[int]:
    if value in (None, "daily", "every day"):
        return frozenset(range(7))
    if value == "weekdays":
        return frozenset(range(5))
    if not isinstance(value, list) or not value:
        raise CalendarError("weekdays は曜日の一覧 (例: [\"mon\", \"wed\"]) か \"weekdays\" / \"daily\" です。")
    days = set()
    for v in value:
        if isinstance(v, int) and 0 <= v <= 6:
            days.add(v)
        elif isinstance(v, str) and v.lower()[:3] in WEEKDAYS:
            days.add(WEEKDAYS.index(v.lower()[:3]))
        else:
            raise CalendarError(f"曜日を解釈できません: {v!r}")
    return frozenset(days)


def parse_window(body: Any) -> dict[str, Any]:
    """Validate an admin request body; returns column values for MaintenanceWindow."""
    if not isinstance(body, dict):
        raise CalendarError("JSONオブジェクトで指定してください。")
    values: dict[str, Any] = {"title": str(body.get("title") or "e-Gov電子申請システムメンテナンス")[:256]}
    if "recurrence" in body:
        r = body["recurrence"]
        if not isinstance(r, dict):
            raise CalendarError("recurrence はオブジェクトで指定してください。")
        try:
            start = time.fromisoformat(str(r.get("start", "")))
        except ValueError:
            raise CalendarError("recurrence.start は HH:MM で指定してください。") from None
        duration = _duration(r.get("duration"), "recurrence.duration")
        if not timedelta(minutes=1) <= duration <= timedelta(days=7):
            raise CalendarError("recurrence.duration は1分以上7日以内です。")
        rec = Recurrence(_weekdays(r.get("weekdays")), start, duration,
                         date.fromisoformat(r["first"]) if r.get("first") else None,
                         date.fromisoformat(r["last"]) if r.get("last") else None)
        values["recurrence"] = rec.as_dict()
    else:
        start = _parse_jst(body.get("start"), "start")
        end = _parse_jst(body["end"], "end") if "end" in body else start + _duration(body.get("duration"), "duration")
        if end <= start:
            raise CalendarError("end は start より後の日時を指定してください。")
        values.update(start=start, end=end)
    values["lose_before_seconds"] = _duration(body.get("lose_before", "PT0S"), "lose_before").total_seconds()
    for flag in ("auth_down", "expire_tokens", "end_sessions"):
        values[flag] = bool(body.get(flag, False))
    values["announce"] = bool(body.get("announce", True))
    return values


def _recurrence(data: dict[str, Any] | None) -> Recurrence | None:
    if not data:
        return None
    return Recurrence(_weekdays(data["weekdays"]), time.fromisoformat(data["start"]), parse_duration(data["duration"]),
                      date.fromisoformat(data["first"]) if data.get("first") else None,
                      date.fromisoformat(data["last"]) if data.get("last") else None)


def to_window(row: MaintenanceWindow) -> Window:
    return Window(id=row.id, title=row.title, start=row.start, end=row.end, recurrence=_recurrence(row.recurrence),
                  auth_down=row.auth_down, expire_tokens=row.expire_tokens, end_sessions=row.end_sessions,
                  lose_before=timedelta(seconds=row.lose_before_seconds or 0), announce=row.announce)


# ---------------------------------------------------------------------------- the calendar

class Calendar:
    """The windows stored in the database, evaluated at a virtual instant."""

    def __init__(self, windows: Iterable[Window]) -> None:
        self.windows = list(windows)

    @classmethod
    def load(cls, session: Any) -> Calendar:
        return cls(to_window(row) for row in session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.id)))

    def __bool__(self) -> bool:
        return bool(self.windows)

    def current(self, now: datetime) -> Occurrence | None:
        """The occurrence in force at `now` (the one ending last when windows overlap)."""
        found = [o for w in self.windows for o in w.occurrences(now, now + timedelta(microseconds=1))
                 if o.contains(now)]
        if not found:
            return None
        # back-to-back occurrences merge: report the end of the whole stretch
        best = max(found, key=lambda o: o.end)
        end = best.end
        for _ in range(60):
            nxt = [o for w in self.windows for o in w.occurrences(end, end + timedelta(microseconds=1))
                   if o.contains(end)]
            if not nxt:
                break
            best = max(nxt, key=lambda o: o.end)
            if best.end <= end:
                break
            end = best.end
        return Occurrence(best.window, min(o.start for o in found), end)

    def upcoming(self, now: datetime, days: int = 90, *, announced_only: bool = True) -> list[Occurrence]:
        """Occurrences in force now or starting within `days`, in time order (the published notice)."""
        out = [o for w in self.windows if w.announce or not announced_only
               for o in w.occurrences(now, now + timedelta(days=days))]
        return sorted(out, key=lambda o: (o.start, o.end))

    def expired_token(self, issued_at: datetime, now: datetime) -> Occurrence | None:
        """The window that ended between a token's issue and now and invalidates such tokens."""
        if issued_at >= now:
            return None
        for w in self.windows:
            if not w.expire_tokens:
                continue
            for o in w.occurrences(issued_at, now):
                if issued_at < o.start and o.end <= now:
                    return o
        return None

    def to_settle(self, now: datetime) -> list[Occurrence]:
        """Started occurrences with lasting effects (lost arrivals, ended sessions)."""
        return [o for w in self.windows if w.lose_before or w.end_sessions
                for o in w.occurrences(now - SETTLE_LOOKBACK, now) if o.start <= now]


def settle(db: Any, calendar: Calendar, now: datetime) -> int:
    """Apply the lasting effects of occurrences that have started, once each (any process may do it)."""
    pending = calendar.to_settle(now)
    if not pending:
        return 0
    with db.session() as s:
        done = set(s.execute(select(MaintenanceSettlement.window_id, MaintenanceSettlement.start)).all())
    applied = 0
    for occ in pending:
        if (occ.window.id, occ.start) in done:
            continue
        try:
            with db.session() as s:
                s.add(MaintenanceSettlement(window_id=occ.window.id, start=occ.start))
                s.flush()
                _apply_effects(s, occ)
            applied += 1
        except IntegrityError:
            continue  # another process settled it
    return applied


def _apply_effects(s: Any, occ: Occurrence) -> None:
    w = occ.window
    if w.lose_before:
        held = select(ApplicationHold.application_id)
        lost = s.scalars(select(Application.id).where(Application.arrive_at >= occ.start - w.lose_before,
                                                      Application.arrive_at < occ.start,
                                                      Application.id.not_in(held))).all()
        for app_id in lost:
            s.add(ApplicationHold(application_id=app_id, lost_reason=f"{LOST_REASON} ({format_datetime(occ.start)})"))
    if w.end_sessions:
        s.execute(update(AuthSession).where(AuthSession.auth_time < occ.start, AuthSession.revoked_at.is_(None))
                  .values(revoked_at=occ.start))


def retry_after_seconds(occ: Occurrence, now: datetime, speed: float, frozen: bool) -> int:
    """Real seconds until the window ends (virtual seconds when the clock is frozen), at least 1."""
    virtual = max((occ.end - now).total_seconds(), 0.0)
    real = virtual if frozen or speed <= 0 else virtual / speed
    return max(int(real + 0.999), 1)
