"""Sending with a ledger: one package at a time (`Sender.send`) or the send list in order
(`Sender.run_batch`: at most 20 per run, stop at the first error or time-out, resumable).

Never twice: a package (SHA-256 of its zip) already recorded as sent is not sent again; one whose
previous send has no known outcome (time-out, crash) is first looked for in the server's lists
(`GET /apply/lists`, with the rule of arrivals.py that safe_submit uses too) and only resent when it
is not there. Sends the lists could not tell apart go one at a time and every arrival is claimed
(claims.py, shared with safe_submit by every process using the same `egov` home), so two runs, or
a run and a library send, never take each other's arrival. Knows nothing of click or rich: the
command reports progress through the `on_event` callback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from egov_format.package import parse_package

from .api import EgovClient
from .arrivals import Identity, decide, listing_steps, run_sync
from .auth import AuthError
from .claims import Claims, SendBusyError
from .errors import (
    ApiError,
    CommunicationError,
    EgovError,
    MaintenanceError,
    NotFoundError,
    OutcomeUnknownError,
    PackageError,
    UnauthorizedError,
)
from .ledger import Ledger, PackageFacts, SendRow, digest_of, jst_now
from .models import Application

MAX_PER_RUN = 20  # seed 000: 一度に送信できる申請データの件数は 20 件まで
RECONCILE_DAYS_AHEAD = 2  # server clocks (and the simulator's virtual clock) may run ahead of ours

SENT_MESSAGE = "送信しました。"
UNKNOWN_MESSAGE = ("e-Gov からの応答がありませんでした。送信結果が不明なため、次回の送信前に e-Gov 側の到達状況を"
                   "確認します。")
NOT_SENT_MESSAGE = "e-Gov に接続できませんでした。申請データは送信されていません。"
LOGIN_MESSAGE = "アクセストークンが無効です。`egov login` で再度ログインしてください。"
CHECK_FAILED_MESSAGE = "前回の送信結果が不明で、e-Gov 側の到達状況を確認できなかったため送信していません。"
STOPPED_NOTE = "項番{position}（ID:{item_id}）のエラーで中断したため未送信です。"


def package_facts(data: bytes, file_name: str = "") -> PackageFacts:
    """Read what the ledger needs from a package zip (raises PackageError for a broken package)."""
    parsed = parse_package(data)
    return PackageFacts(
        digest=digest_of(data), proc_id=parsed.proc_id or parsed.folder, proc_name=parsed.proc_name,
        apply_type=parsed.apply_type, applicant_name=parsed.applicant.get("氏名", ""),
        corporation_name=parsed.applicant.get("法人団体名", ""), file_name=file_name or f"{parsed.folder}.zip")


@dataclass
class SendResult:
    """What happened to one package."""

    outcome: str  # sent | already | refused | unknown | not_sent
    send_id: int | None = None
    arrive_id: str | None = None
    message: str = ""
    report_list: list[dict[str, Any]] = field(default_factory=list)
    found_on_server: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome in ("sent", "already")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BatchEvent:
    kind: str  # start | item | stop | done
    position: int = 0
    total: int = 0
    item_id: int | None = None
    label: str = ""
    result: SendResult | None = None
    message: str = ""


@dataclass
class BatchReport:
    results: list[tuple[int, SendResult]] = field(default_factory=list)  # (queue item id, result)
    stopped_at: int | None = None  # queue item id
    remaining: int = 0

    @property
    def sent(self) -> int:
        return sum(1 for _, r in self.results if r.outcome == "sent")

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "stopped_at": self.stopped_at, "remaining": self.remaining,
                "results": [{"queue_id": i, **r.to_json()} for i, r in self.results]}


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """One batch run at a time per ledger (an advisory file lock; a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EgovError("別の `egov batch send` が実行中です。終了してから再度実行してください。") from None
        yield
    finally:
        os.close(fd)


def _short(exc: BaseException) -> str:
    return str(getattr(exc, "message", "") or exc)


class Sender:
    def __init__(self, client: EgovClient, ledger: Ledger, profile: str, *,
                 clock: Callable[[], datetime] = jst_now, claims: Claims | None = None,
                 busy_wait: float = 600.0) -> None:
        self.client = client
        self.ledger = ledger
        self.profile = profile
        self.clock = clock
        self.claims = claims or Claims(ledger.path.parent / "claims")  # beside the ledger: the egov home
        self.scope = str(client.endpoint.api_base)
        self.busy_wait = busy_wait

    # --- reconciliation ----------------------------------------------------------------------------------

    def _server_window(self, row: SendRow) -> tuple[date, date, datetime | None]:
        lower = self.ledger.last_arrival_before(self.profile, row.id)
        sent_at = datetime.strptime(row.sent_at, "%Y-%m-%d %H:%M:%S")
        start = min(sent_at.date(), lower.date() if lower else sent_at.date()) - timedelta(days=1)
        latest = max(filter(None, [self.ledger.latest_arrival(self.profile), self.clock()]))
        return start, latest.date() + timedelta(days=RECONCILE_DAYS_AHEAD), lower

    def find_on_server(self, row: SendRow) -> Application | None:
        """The arrival of a send whose outcome is unknown: the earliest unclaimed arrival of the same
        procedure and applicant after the previous recorded arrival (arrivals.py). None when it did not arrive."""
        date_from, date_to, lower = self._server_window(row)
        who = Identity(row.applicant_name, row.corporation_name, row.proc_name)
        arrivals = run_sync(self.client, listing_steps(self.client, date_from, date_to), sleep=lambda s: None)
        claimed = self.ledger.claimed_arrive_ids(self.profile) | self.claims.excluded(self.scope, arrivals)
        return decide(arrivals, who, exclude=claimed, after=lower)

    def reconcile(self, row: SendRow) -> SendResult | None:
        """For a send without a known outcome: link it to its arrival, or None if it never arrived
        (OutcomeUnknownError when the lists cannot decide or another send claimed it meanwhile)."""
        with self.claims.hold(self.scope, self._who(row).lock_key, self.busy_wait):
            return self._reconcile(row)

    @staticmethod
    def _who(row: SendRow | PackageFacts) -> Identity:
        return Identity(row.applicant_name, row.corporation_name, row.proc_name)

    def _claim(self, send_id: int, arrive_id: str, arrived: datetime | None) -> bool:
        return self.claims.claim(self.scope, arrive_id, owner=f"{self.ledger.path}#{send_id}", arrived=arrived)

    def _reconcile(self, row: SendRow) -> SendResult | None:
        app = self.find_on_server(row)
        if app is None:
            return None
        if not self._claim(row.id, app.arrive_id, app.arrive_date):
            raise OutcomeUnknownError(f"{app.arrive_id} was claimed by another send", maybe_delivered=True,
                                      operation="submit")
        self.ledger.record_arrival(row.id, app.arrive_id, app.arrive_date, app.proc_name, app.status)
        return SendResult("already", row.id, app.arrive_id, "e-Gov 側で到達を確認しました（再送信していません）。",
                          found_on_server=True)

    # --- one package -------------------------------------------------------------------------------------

    def send(self, data: bytes, file_name: str = "", *, facts: PackageFacts | None = None,
             queue_id: int | None = None) -> SendResult:
        facts = facts or package_facts(data, file_name)
        try:
            with self.claims.hold(self.scope, self._who(facts).lock_key, self.busy_wait):
                return self._send(data, facts, queue_id)
        except SendBusyError as exc:
            return SendResult("not_sent", None, message=exc.message)

    def _send(self, data: bytes, facts: PackageFacts, queue_id: int | None) -> SendResult:
        reuse: int | None = None
        for row in self.ledger.sends_for_digest(self.profile, facts.digest):
            if row.outcome == "sent":
                if queue_id is not None:
                    self.ledger.mark_queue(queue_id, state="sent", note="", send_id=row.id)
                return SendResult("already", row.id, row.arrive_id,
                                  f"この申請データは送信済みです（ID {row.id}、到達番号 {row.arrive_id}）。")
            if row.outcome in ("sending", "unknown"):
                try:
                    found = self._reconcile(row)
                except (EgovError, AuthError) as exc:  # cannot look: do not send blindly
                    return SendResult("unknown", row.id, message=f"{CHECK_FAILED_MESSAGE}（{_short(exc)}）")
                if found is not None:
                    if queue_id is not None:
                        self.ledger.mark_queue(queue_id, state="sent", note="", send_id=row.id)
                    return found
                reuse = row.id  # it never arrived: send again under the same ledger ID
        send_id = self.ledger.begin_send(self.profile, facts, self.clock(), reuse=reuse, queue_id=queue_id)
        try:
            result = self.client.submit(facts.proc_id, data, facts.file_name)
        except MaintenanceError as exc:
            self.ledger.record_unknown(send_id, f"{exc.title}: {exc.detail}".strip(": ") or UNKNOWN_MESSAGE)
            return SendResult("unknown", send_id, message=f"e-Gov はメンテナンス中または混雑しています。{UNKNOWN_MESSAGE}")
        except ApiError as exc:
            if exc.status >= 500:
                self.ledger.record_unknown(send_id, UNKNOWN_MESSAGE)
                return SendResult("unknown", send_id, message=f"{exc.status} {exc.title}: {UNKNOWN_MESSAGE}")
            error = {"status": exc.status, "title": exc.title, "detail": exc.detail, "report_list": exc.report_list}
            self.ledger.record_refusal(send_id, error)
            return SendResult("refused", send_id, message=exc.detail or exc.title, report_list=exc.report_list)
        except (UnauthorizedError, AuthError):
            self.ledger.forget_send(send_id, LOGIN_MESSAGE)
            return SendResult("not_sent", None, message=LOGIN_MESSAGE)
        except NotFoundError:
            error = {"status": 404, "title": "Not Found", "detail": f"手続 {facts.proc_id} が見つかりません。"}
            self.ledger.record_refusal(send_id, error)
            return SendResult("refused", send_id, message=error["detail"])
        except CommunicationError as exc:
            if not exc.maybe_delivered:  # no connection: the request never left
                self.ledger.forget_send(send_id, NOT_SENT_MESSAGE)
                return SendResult("not_sent", None, message=NOT_SENT_MESSAGE)
            self.ledger.record_unknown(send_id, UNKNOWN_MESSAGE)
            return SendResult("unknown", send_id, message=f"{UNKNOWN_MESSAGE} ({type(exc).__name__})")
        except EgovError as exc:
            self.ledger.record_unknown(send_id, UNKNOWN_MESSAGE)
            return SendResult("unknown", send_id, message=f"{UNKNOWN_MESSAGE} ({type(exc).__name__})")
        self._claim(send_id, result.arrive_id, result.arrive_date)
        self.ledger.record_arrival(send_id, result.arrive_id, result.arrive_date, result.proc_name, "到達")
        return SendResult("sent", send_id, result.arrive_id, SENT_MESSAGE)

    # --- the send list -----------------------------------------------------------------------------------

    def run_batch(self, limit: int = MAX_PER_RUN, on_event: Callable[[BatchEvent], None] | None = None) -> BatchReport:
        """Send waiting items in order, at most `limit` (≤ 20); stop at the first error or time-out."""
        emit = on_event or (lambda event: None)
        limit = max(1, min(limit, MAX_PER_RUN))
        items = self.ledger.waiting(self.profile)[:limit]
        report = BatchReport()
        emit(BatchEvent("start", total=len(items)))
        for position, item in enumerate(items, 1):
            label = f"{(item.proc_name or item.proc_id).split('／')[0]} {item.applicant_name}".strip()
            try:
                data = Path(item.path).read_bytes()
                if digest_of(data) != item.digest:
                    raise PackageError("申請リストに保存された申請データが変更されています。",
                                       detail="stored package does not match its digest")
                facts = PackageFacts(item.digest, item.proc_id, item.proc_name, item.apply_type, item.applicant_name,
                                     item.corporation_name, Path(item.source or item.path).name)
                result = self.send(data, facts=facts, queue_id=item.id)
            except (OSError, PackageError) as exc:
                self.ledger.mark_queue(item.id, state="failed", note=str(exc))
                result = SendResult("refused", None, message=str(exc))
            report.results.append((item.id, result))
            emit(BatchEvent("item", position, len(items), item.id, label, result))
            if not result.ok:
                report.stopped_at = item.id
                note = STOPPED_NOTE.format(position=position, item_id=item.id)
                self.ledger.mark_waiting(self.profile, item.id, note)
                emit(BatchEvent("stop", position, len(items), item.id, label, result, note))
                break
        report.remaining = len(self.ledger.waiting(self.profile))
        emit(BatchEvent("done", len(report.results), len(items), message=f"残り {report.remaining} 件"))
        return report
