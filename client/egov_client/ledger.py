"""The progress ledger (申請データ進捗管理) and the send list (申請リスト), in a local SQLite file.

Every send is recorded *before* the request goes out (outcome ``sending``), so a crash or a
time-out leaves a trace that is reconciled with the server's lists before anything is resent.
One row per package (identified by the SHA-256 of its zip): the same package is never sent twice.

Outcomes: sending (request under way), unknown (no answer: time-out, cut connection), sent
(arrive_id known), refused (e-Gov answered 400/413 with report_list; nothing was stored).

A simulator's state can be replaced under the ledger (`POST /__admin/reset`, another data
directory): arrive_ids then start again. Each send row records the server's world identity
(``world``; empty for e-Gov itself), the ledger remembers the current one per profile, and every
query sees only the current world's cases, so old cases stay in the file, apart, instead of colliding.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from egov_format.statuses import STATUS_GROUPS
from egov_format.statuses import status_group as _status_group

from .models import Application

JST = timezone(timedelta(hours=9), "JST")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

CHECKING = "到達状況確認中"  # what the seed's client shows before the arrival is known
REFUSED = "エラー（未到達）"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,
    proc_id TEXT NOT NULL,
    proc_name TEXT NOT NULL DEFAULT '',
    apply_type TEXT NOT NULL DEFAULT '',
    applicant_name TEXT NOT NULL DEFAULT '',
    corporation_name TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL DEFAULT '',
    sent_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    arrive_id TEXT,
    arrive_date TEXT,
    send_number TEXT,
    status TEXT NOT NULL DEFAULT '',
    withdraw_flag INTEGER NOT NULL DEFAULT 0,
    pay_status TEXT NOT NULL DEFAULT '',
    notices TEXT NOT NULL DEFAULT '[]',
    documents TEXT NOT NULL DEFAULT '[]',
    payments TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    checked_at TEXT,
    memo TEXT NOT NULL DEFAULT '',
    hidden INTEGER NOT NULL DEFAULT 0,
    world TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS worlds (
    profile TEXT PRIMARY KEY,
    world_id TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_digest ON sends (profile, digest);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT NOT NULL,
    digest TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    proc_id TEXT NOT NULL,
    proc_name TEXT NOT NULL DEFAULT '',
    applicant_name TEXT NOT NULL DEFAULT '',
    corporation_name TEXT NOT NULL DEFAULT '',
    apply_type TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    send_id INTEGER REFERENCES sends (id),
    sent_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_state ON queue (profile, state, id);
CREATE TABLE IF NOT EXISTS fetched (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    send_id INTEGER NOT NULL REFERENCES sends (id),
    kind TEXT NOT NULL,
    notice_sub_id INTEGER NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    fetched_at TEXT NOT NULL,
    folder TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL DEFAULT '[]',
    verified INTEGER,
    verify_message TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS fetched_send ON fetched (send_id, kind, notice_sub_id);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    send_id INTEGER NOT NULL REFERENCES sends (id),
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS actions_send ON actions (send_id, id);
"""

# Ledgers made before worlds were recorded: add the column, key arrive_ids per world.
MIGRATIONS = (
    ("world", "ALTER TABLE sends ADD COLUMN world TEXT NOT NULL DEFAULT ''"),
)
INDEXES = """
DROP INDEX IF EXISTS sends_arrive;
CREATE UNIQUE INDEX IF NOT EXISTS sends_world_arrive ON sends (profile, world, arrive_id) WHERE arrive_id IS NOT NULL;
"""


@dataclass(frozen=True)
class WorldChange:
    """The server's world is not the one the ledger last saw for this profile."""

    previous: str
    current: str
    previous_cases: int  # cases of the previous world, kept apart

    @property
    def message(self) -> str:
        return (f"シミュレーターの環境が変わりました（リセット、または別のデータディレクトリ）。"
                f"以前の環境の {self.previous_cases} 件は台帳に保管したまま一覧から外し、"
                f"新しい環境の申請とは別に扱います（以前の環境 {self.previous[:8]} → 現在 {self.current[:8]}）。")


def jst_now() -> datetime:
    return datetime.now(JST).replace(tzinfo=None, microsecond=0)


def fmt(dt: datetime) -> str:
    return dt.strftime(TIME_FORMAT)


def parse_time(text: str | None) -> datetime | None:
    return datetime.strptime(text, TIME_FORMAT) if text else None


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def months_before(day: date, months: int) -> date:
    """The same day `months` months earlier (clamped to the month's end): the seed's 3-month default."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    month = m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, month, min(d, day.day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PackageFacts:
    """What the ledger remembers of a package (read from its kousei.xml)."""

    digest: str
    proc_id: str
    proc_name: str = ""
    apply_type: str = ""
    applicant_name: str = ""
    corporation_name: str = ""
    file_name: str = ""


@dataclass(frozen=True)
class SendRow:
    id: int
    profile: str
    digest: str
    proc_id: str
    proc_name: str
    apply_type: str
    applicant_name: str
    corporation_name: str
    file_name: str
    sent_at: str
    outcome: str
    arrive_id: str | None
    arrive_date: str | None
    send_number: str | None
    status: str
    withdraw_flag: bool
    pay_status: str
    notices: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    error: dict[str, Any] | None
    checked_at: str | None
    memo: str
    hidden: bool
    world: str = ""  # the simulator world the case belongs to ('' for e-Gov)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> SendRow:
        d = dict(r)
        for key in ("notices", "documents", "payments"):
            d[key] = json.loads(d[key] or "[]")
        d["error"] = json.loads(d["error"]) if d["error"] else None
        d["withdraw_flag"], d["hidden"] = bool(d["withdraw_flag"]), bool(d["hidden"])
        return cls(**d)

    @property
    def display_status(self) -> str:
        if self.outcome == "refused":
            return REFUSED
        if self.outcome in ("sending", "unknown") or not self.status:
            return CHECKING
        return self.status

    @property
    def group(self) -> str:
        return status_group(self.outcome, self.status)

    @property
    def is_open(self) -> bool:
        """Worth a 確認: not refused and not finished."""
        return self.outcome != "refused" and self.group != "終了"

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["display_status"] = self.display_status
        d["status_group"] = self.group
        return d


def status_group(outcome: str, status: str) -> str:
    """Which filter of the progress screen a case belongs to (egov_format.statuses)."""
    return _status_group(status, refused=outcome == "refused")


@dataclass(frozen=True)
class QueueRow:
    id: int
    profile: str
    digest: str
    path: str
    source: str
    proc_id: str
    proc_name: str
    applicant_name: str
    corporation_name: str
    apply_type: str
    added_at: str
    state: str  # queued | sending | sent | failed
    send_id: int | None
    sent_at: str | None
    note: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> QueueRow:
        return cls(**dict(r))

    @property
    def state_label(self) -> str:
        return {"queued": "未送信", "sending": "送信中", "sent": "済", "failed": "エラー"}.get(self.state, self.state)

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "state_label": self.state_label}


@dataclass(frozen=True)
class FetchRow:
    """A notice or an official document saved on this computer (取得 / 公文書の取得)."""

    id: int
    send_id: int
    kind: str  # notice | document
    notice_sub_id: int
    title: str
    fetched_at: str
    folder: str
    files: list[str]
    verified: bool | None  # signature check: True valid, False invalid, None not checked (unsigned)
    verify_message: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> FetchRow:
        d = dict(r)
        d["files"], d["detail"] = json.loads(d["files"] or "[]"), json.loads(d["detail"] or "{}")
        d["verified"] = None if d["verified"] is None else bool(d["verified"])
        return cls(**d)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ActionRow:
    """Something done to a case after sending: withdraw | amend | resubmit | complete."""

    id: int
    send_id: int
    kind: str
    at: str
    detail: dict[str, Any]

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> ActionRow:
        d = dict(r)
        d["detail"] = json.loads(d["detail"] or "{}")
        return cls(**d)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Ledger:
    """The ledger file. Each method is one transaction; safe to use from several processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(sends)")}
        for column, ddl in MIGRATIONS:
            if column not in columns:
                self._db.execute(ddl)
        self._db.executescript(INDEXES)
        self.path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- the server's world ------------------------------------------------------------------------------

    def world(self, profile: str) -> str:
        """The world identity the profile's cases belong to ('' for e-Gov, or before any was seen)."""
        r = self._db.execute("SELECT world_id FROM worlds WHERE profile = ?", (profile,)).fetchone()
        return str(r[0]) if r else ""

    def observe_world(self, profile: str, world_id: str, now: datetime) -> WorldChange | None:
        """Record the server's current world. The first one seen adopts the profile's unassigned cases;
        a different one starts a new, empty view (the old cases stay in the file under their world)."""
        with self.transaction() as db:
            r = db.execute("SELECT world_id FROM worlds WHERE profile = ?", (profile,)).fetchone()
            if r is None:
                db.execute("INSERT INTO worlds (profile, world_id, seen_at) VALUES (?,?,?)", (profile, world_id, fmt(now)))
                db.execute("UPDATE sends SET world = ? WHERE profile = ? AND world = ''", (world_id, profile))
                return None
            if r[0] == world_id:
                return None
            db.execute("UPDATE worlds SET world_id = ?, seen_at = ? WHERE profile = ?", (world_id, fmt(now), profile))
            old = db.execute("SELECT COUNT(*) FROM sends WHERE profile = ? AND world = ?", (profile, r[0])).fetchone()[0]
            # a queued package whose send belonged to the old world is waiting again in the new one
            db.execute("UPDATE queue SET state = 'queued', send_id = NULL, note = '' WHERE profile = ?"
                       " AND state IN ('queued', 'sending') AND send_id IN (SELECT id FROM sends WHERE world = ?)", (profile, r[0]))
            return WorldChange(str(r[0]), world_id, int(old))

    def _scope(self, profile: str) -> tuple[str, list[Any]]:
        """The WHERE clause of one profile's cases in its current world."""
        return "profile = ? AND world = ?", [profile, self.world(profile)]

    # --- sends -------------------------------------------------------------------------------------------

    def send(self, send_id: int) -> SendRow | None:
        r = self._db.execute("SELECT * FROM sends WHERE id = ?", (send_id,)).fetchone()
        return SendRow.from_row(r) if r else None

    def find(self, profile: str, key: str) -> SendRow | None:
        """A send by local ID (small number) or by arrive_id."""
        where, args = self._scope(profile)
        if key.isdigit() and len(key) < 16:
            r = self._db.execute(f"SELECT * FROM sends WHERE {where} AND id = ?", (*args, int(key))).fetchone()
        else:
            r = self._db.execute(f"SELECT * FROM sends WHERE {where} AND arrive_id = ?", (*args, key)).fetchone()
        return SendRow.from_row(r) if r else None

    def sends_for_digest(self, profile: str, digest: str) -> list[SendRow]:
        where, args = self._scope(profile)
        rows = self._db.execute(f"SELECT * FROM sends WHERE {where} AND digest = ? ORDER BY id", (*args, digest))
        return [SendRow.from_row(r) for r in rows]

    def begin_send(self, profile: str, facts: PackageFacts, now: datetime, *, reuse: int | None = None,
                   queue_id: int | None = None) -> int:
        """Record that a send is starting (before the request), optionally claiming a queue item."""
        with self.transaction() as db:
            if queue_id is not None:
                claimed = db.execute("UPDATE queue SET state = 'sending' WHERE id = ? AND state IN ('queued', 'sending')",
                                     (queue_id,)).rowcount
                if not claimed:
                    raise LookupError(f"queue item {queue_id} is no longer waiting")
            if reuse is not None:
                db.execute("UPDATE sends SET outcome = 'sending', sent_at = ?, error = NULL WHERE id = ?",
                           (fmt(now), reuse))
                send_id = reuse
            else:
                cur = db.execute(
                    "INSERT INTO sends (profile, digest, proc_id, proc_name, apply_type, applicant_name,"
                    " corporation_name, file_name, sent_at, outcome, world) VALUES (?,?,?,?,?,?,?,?,?, 'sending', ?)",
                    (profile, facts.digest, facts.proc_id, facts.proc_name, facts.apply_type, facts.applicant_name,
                     facts.corporation_name, facts.file_name, fmt(now), self.world(profile)))
                send_id = int(cur.lastrowid or 0)
            if queue_id is not None:
                db.execute("UPDATE queue SET send_id = ? WHERE id = ?", (send_id, queue_id))
            return send_id

    def record_arrival(self, send_id: int, arrive_id: str, arrive_date: datetime | None, proc_name: str = "",
                       status: str = "") -> None:
        with self.transaction() as db:
            db.execute("UPDATE sends SET outcome = 'sent', arrive_id = ?, arrive_date = ?, error = NULL,"
                       " proc_name = CASE WHEN ? <> '' THEN ? ELSE proc_name END,"
                       " status = CASE WHEN ? <> '' THEN ? ELSE status END WHERE id = ?",
                       (arrive_id, fmt(arrive_date) if arrive_date else None, proc_name, proc_name, status, status,
                        send_id))
            db.execute("UPDATE queue SET state = 'sent', sent_at = (SELECT sent_at FROM sends WHERE id = ?), note = ''"
                       " WHERE send_id = ? AND state <> 'sent'", (send_id, send_id))

    def record_refusal(self, send_id: int, error: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sends SET outcome = 'refused', error = ? WHERE id = ?",
                       (json.dumps(error, ensure_ascii=False), send_id))
            db.execute("UPDATE queue SET state = 'failed', note = ? WHERE send_id = ?",
                       (_first_message(error), send_id))

    def record_unknown(self, send_id: int, message: str) -> None:
        """No answer: the package may or may not have arrived; the queue item waits for reconciliation."""
        with self.transaction() as db:
            db.execute("UPDATE sends SET outcome = 'unknown', error = ? WHERE id = ?",
                       (json.dumps({"detail": message}, ensure_ascii=False), send_id))
            db.execute("UPDATE queue SET state = 'queued', note = ? WHERE send_id = ? AND state = 'sending'",
                       (message, send_id))

    def forget_send(self, send_id: int, message: str) -> None:
        """The request certainly did not reach e-Gov (no connection, 401): drop the attempt."""
        with self.transaction() as db:
            db.execute("UPDATE queue SET state = 'queued', send_id = NULL, note = ? WHERE send_id = ?",
                       (message, send_id))
            db.execute("DELETE FROM sends WHERE id = ? AND outcome IN ('sending', 'unknown')", (send_id,))

    def record_detail(self, send_id: int, app: Application, now: datetime) -> None:
        """確認: what `GET /apply/{arrive_id}` said (status, withdraw flag, notices, documents, payments)."""
        raw = app.raw
        current = self.send(send_id)
        payments = _merge_payments(current.payments if current else [], raw.get("apply_pay_list") or [])
        with self.transaction() as db:
            db.execute(
                "UPDATE sends SET status = ?, withdraw_flag = ?, pay_status = ?, notices = ?, documents = ?,"
                " payments = ?, checked_at = ?, proc_name = CASE WHEN ? <> '' THEN ? ELSE proc_name END,"
                " send_number = COALESCE(?, send_number), arrive_date = COALESCE(?, arrive_date) WHERE id = ?",
                (app.status, int(app.withdraw_flag), app.pay_status,
                 json.dumps(raw.get("notice_list") or [], ensure_ascii=False),
                 json.dumps(raw.get("official_list") or [], ensure_ascii=False),
                 json.dumps(payments, ensure_ascii=False), fmt(now),
                 app.proc_name, app.proc_name, app.send_number,
                 fmt(app.arrive_date) if app.arrive_date else None, send_id))

    def record_payments(self, send_id: int, payments: list[dict[str, Any]]) -> None:
        """取得: the payment details of `GET /payment/{arrive_id}` (pay_status and pay_date per payment)."""
        current = self.send(send_id)
        merged = _merge_payments(current.payments if current else [], payments)
        with self.transaction() as db:
            db.execute("UPDATE sends SET payments = ? WHERE id = ?", (json.dumps(merged, ensure_ascii=False), send_id))

    def set_memo(self, send_id: int, memo: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sends SET memo = ? WHERE id = ?", (memo, send_id))

    def set_hidden(self, send_id: int, hidden: bool) -> None:
        with self.transaction() as db:
            db.execute("UPDATE sends SET hidden = ? WHERE id = ?", (int(hidden), send_id))

    def claimed_arrive_ids(self, profile: str) -> set[str]:
        where, args = self._scope(profile)
        rows = self._db.execute(f"SELECT arrive_id FROM sends WHERE {where} AND arrive_id IS NOT NULL", args)
        return {r[0] for r in rows}

    def last_arrival_before(self, profile: str, send_id: int) -> datetime | None:
        """The arrival of the latest earlier send: a clock-independent lower bound for reconciliation."""
        where, args = self._scope(profile)
        r = self._db.execute(f"SELECT MAX(arrive_date) FROM sends WHERE {where} AND id < ? AND arrive_date IS NOT NULL",
                             (*args, send_id)).fetchone()
        return parse_time(r[0]) if r and r[0] else None

    def latest_arrival(self, profile: str) -> datetime | None:
        where, args = self._scope(profile)
        r = self._db.execute(f"SELECT MAX(arrive_date) FROM sends WHERE {where}", args).fetchone()
        return parse_time(r[0]) if r and r[0] else None

    def sends(self, profile: str, *, date_from: date | None = None, date_to: date | None = None,
              group: str = "全て", include_hidden: bool = False) -> list[SendRow]:
        """The progress screen: by send date (inclusive), status group, hidden rows only on request."""
        where, args = self._scope(profile)
        sql = f"SELECT * FROM sends WHERE {where}"
        if date_from:
            sql += " AND sent_at >= ?"
            args.append(f"{date_from.isoformat()} 00:00:00")
        if date_to:
            sql += " AND sent_at <= ?"
            args.append(f"{date_to.isoformat()} 23:59:59")
        if not include_hidden:
            sql += " AND hidden = 0"
        rows = [SendRow.from_row(r) for r in self._db.execute(sql + " ORDER BY id DESC", args)]
        if group not in STATUS_GROUPS:
            raise ValueError(f"到達状況は {'/'.join(STATUS_GROUPS)} のいずれかで指定してください。")
        return rows if group == "全て" else [r for r in rows if r.group == group]

    def open_sends(self, profile: str) -> list[SendRow]:
        where, args = self._scope(profile)
        rows = self._db.execute(f"SELECT * FROM sends WHERE {where} ORDER BY id", args)
        return [s for s in (SendRow.from_row(r) for r in rows) if s.is_open]

    def sends_to_get(self, profile: str) -> list[SendRow]:
        """取得 without IDs: the open cases, and finished ones with a notice or an official document
        that has not been saved here yet (a 審査終了 case usually has its document waiting)."""
        where, args = self._scope(profile)
        rows = [SendRow.from_row(r) for r in self._db.execute(f"SELECT * FROM sends WHERE {where} ORDER BY id", args)]
        return [s for s in rows if s.is_open or (s.outcome == "sent" and self._has_unfetched(s))]

    def _has_unfetched(self, row: SendRow) -> bool:
        saved = {(f.kind, f.notice_sub_id) for f in self.fetches(row.id)}
        return (any(("notice", n.get("notice_sub_id")) not in saved for n in row.notices if isinstance(n, dict))
                or any(("document", d.get("notice_sub_id")) not in saved for d in row.documents if isinstance(d, dict)))

    # --- what was fetched, what was done -------------------------------------------------------------

    def record_fetch(self, send_id: int, kind: str, notice_sub_id: int, now: datetime, *, title: str = "",
                     folder: str | Path = "", files: Iterable[str] = (), verified: bool | None = None,
                     verify_message: str = "", detail: dict[str, Any] | None = None) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO fetched (send_id, kind, notice_sub_id, title, fetched_at, folder, files, verified,"
                " verify_message, detail) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (send_id, kind, notice_sub_id, title, fmt(now), str(folder), json.dumps(list(files), ensure_ascii=False),
                 None if verified is None else int(verified), verify_message,
                 json.dumps(detail or {}, ensure_ascii=False, default=str)))
            return int(cur.lastrowid or 0)

    def fetches(self, send_id: int, kind: str | None = None) -> list[FetchRow]:
        sql, args = "SELECT * FROM fetched WHERE send_id = ?", [send_id]
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        return [FetchRow.from_row(r) for r in self._db.execute(sql + " ORDER BY notice_sub_id, id", args)]

    def add_action(self, send_id: int, kind: str, now: datetime, detail: dict[str, Any] | None = None) -> int:
        with self.transaction() as db:
            cur = db.execute("INSERT INTO actions (send_id, kind, at, detail) VALUES (?,?,?,?)",
                             (send_id, kind, fmt(now), json.dumps(detail or {}, ensure_ascii=False, default=str)))
            return int(cur.lastrowid or 0)

    def actions(self, send_id: int) -> list[ActionRow]:
        rows = self._db.execute("SELECT * FROM actions WHERE send_id = ? ORDER BY id", (send_id,))
        return [ActionRow.from_row(r) for r in rows]

    # --- the send list -----------------------------------------------------------------------------------

    def enqueue(self, profile: str, facts: PackageFacts, path: Path, source: str, now: datetime) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO queue (profile, digest, path, source, proc_id, proc_name, applicant_name,"
                " corporation_name, apply_type, added_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (profile, facts.digest, str(path), source, facts.proc_id, facts.proc_name, facts.applicant_name,
                 facts.corporation_name, facts.apply_type, fmt(now)))
            return int(cur.lastrowid or 0)

    def queue_item(self, item_id: int) -> QueueRow | None:
        r = self._db.execute("SELECT * FROM queue WHERE id = ?", (item_id,)).fetchone()
        return QueueRow.from_row(r) if r else None

    def queued_with_digest(self, profile: str, digest: str) -> QueueRow | None:
        r = self._db.execute("SELECT * FROM queue WHERE profile = ? AND digest = ? AND state <> 'sent'",
                             (profile, digest)).fetchone()
        return QueueRow.from_row(r) if r else None

    def queue(self, profile: str, *, states: Iterable[str] | None = None) -> list[QueueRow]:
        sql, args = "SELECT * FROM queue WHERE profile = ?", [profile]
        if states is not None:
            states = list(states)
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += states
        return [QueueRow.from_row(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def waiting(self, profile: str) -> list[QueueRow]:
        """Items a batch run should handle, in order (sending = interrupted mid-send: reconcile first)."""
        return self.queue(profile, states=("queued", "sending"))

    def mark_queue(self, item_id: int, *, state: str | None = None, note: str | None = None,
                   send_id: int | None = None) -> None:
        with self.transaction() as db:
            if state is not None:
                db.execute("UPDATE queue SET state = ? WHERE id = ?", (state, item_id))
            if note is not None:
                db.execute("UPDATE queue SET note = ? WHERE id = ?", (note, item_id))
            if send_id is not None:
                db.execute("UPDATE queue SET send_id = ?, sent_at = (SELECT sent_at FROM sends WHERE id = ?)"
                           " WHERE id = ?", (send_id, send_id, item_id))

    def mark_waiting(self, profile: str, after_id: int, note: str) -> int:
        """Mark every item still waiting after `after_id` (the batch stopped there)."""
        with self.transaction() as db:
            return db.execute("UPDATE queue SET note = ? WHERE profile = ? AND state = 'queued' AND id > ?",
                              (note, profile, after_id)).rowcount

    def requeue(self, item_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE queue SET state = 'queued', note = '' WHERE id = ? AND state = 'failed'", (item_id,))

    def dequeue(self, item_id: int) -> QueueRow | None:
        item = self.queue_item(item_id)
        if item is None:
            return None
        with self.transaction() as db:
            db.execute("DELETE FROM queue WHERE id = ?", (item_id,))
        return item


def _merge_payments(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new list, keeping what only the other endpoint gives (pay_status / pay_date per payment)."""
    known = {p.get("pay_number"): p for p in old if isinstance(p, dict)}
    return [{**known.get(p.get("pay_number"), {}), **p} for p in new if isinstance(p, dict)]


def _first_message(error: dict[str, Any]) -> str:
    for r in error.get("report_list") or []:
        if isinstance(r, dict) and r.get("content"):
            return str(r["content"])
    return str(error.get("detail") or error.get("title") or "")
