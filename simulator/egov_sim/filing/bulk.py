"""申請データbulk送信 (`POST /bulk-apply`) and its エラーレポート (`GET /apply/report`).

The upload holds one folder per application. Every folder is checked when it is sent (the same
checks as `POST /apply`); the good ones are stored at once with an arrival time later on the
virtual clock (ingestion is asynchronous at e-Gov), so lists by send_number show nothing until
then, and the report appears at the same moment. Nothing is pushed by a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from egov_format.errors import PackageError
from egov_format.reports import ReportItem
from egov_format.safexml import parse_xml
from egov_format.zipsafe import read_zip, write_zip
from sqlalchemy import func, select

from ..clock import format_datetime
from ..store import ids
from ..store.models import Application, BulkSubmission
from .cases import Caller, FilingService
from .errors import FilingError
from .submission import CheckedPackage, PackageChecker

INGEST_DELAY = timedelta(minutes=2)  # from 送信 to 到達 of bulk folders
MAX_FOLDERS = 9999


class BulkError(FilingError):
    """A bulk upload refused as a whole: 400 with error_count and error[{errorFolder, errorFile, content}]."""

    def __init__(self, detail: str, errors: list[dict[str, str]], *, status: int = 400) -> None:
        super().__init__(status, detail)
        self.errors = errors


def _folders(raw: bytes, max_file_bytes: int) -> dict[str, dict[str, bytes]]:
    try:
        entries = read_zip(raw, max_file_bytes=max_file_bytes, max_entries=20000)
    except PackageError as exc:
        raise BulkError("一括申請データの形式に誤りがあります。", [{"errorFolder": "-", "errorFile": "-",
                                                              "content": exc.message[:256]}]) from None
    folders: dict[str, dict[str, bytes]] = {}
    loose = [name for name in entries if "/" not in name]
    for name, data in entries.items():
        if "/" in name:
            folder, rest = name.split("/", 1)
            folders.setdefault(folder, {})[rest] = data
    if loose or not folders:
        raise BulkError("一括申請データの形式に誤りがあります。申請フォルダ単位で格納してください。",
                        [{"errorFolder": "-", "errorFile": (loose or ["-"])[0][:256],
                          "content": "申請フォルダに格納されていないファイルがあります" if loose
                          else "申請フォルダが存在しません"}])
    if len(folders) > MAX_FOLDERS:
        raise BulkError("一括申請データの申請件数が上限を超えています。", [])
    return folders


def _proc_id(files: dict[str, bytes]) -> str:
    kousei = files.get("kousei.xml")
    if kousei is None:
        raise PackageError("構成管理XMLファイルが存在しません", file_name="kousei.xml")
    root = parse_xml(kousei, what="構成管理XML", file_name="kousei.xml")
    return (root.findtext("構成情報/管理情報/手続番号/手続ID") or "").strip()


def _report(items: list[ReportItem]) -> list[dict[str, str]]:
    return [i.as_dict() for i in items]


Accept = Callable[[CheckedPackage, str, datetime], Application]
"""The filing backend's one submit path: (checked folder, send_number, arrive_at) → the stored case."""


def _check(f: FilingService, checker: PackageChecker, folder: str,
           files: dict[str, bytes]) -> tuple[dict[str, Any], CheckedPackage | None]:
    """A folder's list entry, and its checked package when it may be accepted (else the entry's report)."""
    entry: dict[str, Any] = {"folder_name": folder}
    try:
        proc_id = _proc_id(files)
        proc = f.catalogue.get(proc_id)
        entry["proc_name"] = proc.name if proc else (proc_id or "-")
        sub_zip = write_zip({f"{proc_id}/{name}": data for name, data in files.items()})
        checked = checker.check(proc_id, f"{folder}.zip", sub_zip)
        if checked.package.apply_type != "再提出":
            return entry, checked
        checked.report.append(ReportItem(content="再提出は申請データ送信で行ってください。",  # bulk sends new ones only
                                         file_name="kousei.xml", item="申請種別"))
        entry["report_list"] = _report(checked.report)
    except (PackageError, FilingError) as exc:
        _refused(entry, exc)
    return entry, None


def _refused(entry: dict[str, Any], exc: PackageError | FilingError) -> None:
    if isinstance(exc, PackageError):
        entry["report_list"] = [ReportItem(content=exc.message, form_name=exc.form_name,
                                           attached_file_name=exc.attached_file_name, file_name=exc.file_name,
                                           item=exc.item).as_dict()]
    else:
        entry["report_list"] = _report(exc.report) or [ReportItem(content=exc.detail).as_dict()]


def send(f: FilingService, caller: Caller, file_name: str, raw: bytes, checker: PackageChecker,
         accept: Accept, ingest_delay: timedelta = INGEST_DELAY,
         prepare: Callable[[list[CheckedPackage]], None] | None = None) -> BulkSubmission:
    """Every folder checked, then `prepare` (the ops hooks fire before anything is written: SQLite has
    one writer), then the send stored and the good folders accepted."""
    folders = _folders(raw, checker.max_file_bytes)
    checks = [_check(f, checker, folder, folders[folder]) for folder in sorted(folders)]
    if prepare is not None:
        prepare([checked for _entry, checked in checks if checked is not None])
    allocated = ids.next_id(f.session, BulkSubmission.__table__)  # see store/ids.py
    bulk = BulkSubmission(send_number=ids.placeholder(), account_id=caller.account_id, trial=caller.trial,
                          file_name=file_name, send_at=f.now, ingest_at=f.now + ingest_delay,
                          apply_count=len(folders), results=[], package=raw)
    if allocated is not None:
        bulk.id = allocated
    else:
        f.session.add(bulk)
        f.session.flush()
    bulk.send_number = f"{f.now:%Y%m%d%H%M%S}{9000 + bulk.id % 1000:04d}"
    f.session.add(bulk)
    results = []
    for entry, checked in checks:
        if checked is not None:
            try:
                app = accept(checked, bulk.send_number, bulk.ingest_at)  # raises with the report's items
                entry.update(arrive_id=app.arrive_id, arrive_date=format_datetime(app.arrive_at))
            except (PackageError, FilingError) as exc:
                _refused(entry, exc)
        results.append(entry)
    bulk.results = results
    return bulk


def _visible(f: FilingService, caller: Caller):  # type: ignore[no-untyped-def]
    return select(BulkSubmission).where(BulkSubmission.account_id == caller.account_id,
                                        BulkSubmission.trial == caller.trial, BulkSubmission.ingest_at <= f.now)


def report_item(b: BulkSubmission) -> dict[str, Any]:
    arrived = sum(1 for r in b.results if "arrive_id" in r)
    item: dict[str, Any] = {"send_number": b.send_number, "send_date": format_datetime(b.send_at),
                            "file_name": b.file_name, "apply_count": b.apply_count}
    if arrived:  # the document's minimum is 1; an all-failed upload leaves it out
        item["arrive_count"] = arrived
    item["error_count"] = b.apply_count - arrived
    item["result"] = [{k: v for k, v in r.items() if k in ("arrive_id", "arrive_date", "proc_name", "folder_name",
                                                           "report_list")} for r in b.results]
    return item


def by_send_number(f: FilingService, caller: Caller, send_number: str) -> list[BulkSubmission]:
    return list(f.session.scalars(_visible(f, caller).where(BulkSubmission.send_number == send_number)))


def by_dates(f: FilingService, caller: Caller, date_from: date, date_to: date, limit: int,
             offset: int) -> tuple[int, list[BulkSubmission]]:
    start = datetime.combine(date_from, datetime.min.time())
    end = datetime.combine(date_to, datetime.min.time()) + timedelta(days=1)
    q = _visible(f, caller).where(BulkSubmission.send_at >= start, BulkSubmission.send_at < end)
    total = f.session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = f.session.scalars(q.order_by(BulkSubmission.send_at.desc(), BulkSubmission.id.desc())
                             .limit(limit).offset(offset))
    return total, list(rows)


@dataclass(frozen=True)
class Send:
    """One send as its sender sees it now: still being processed (`pending`), or its results and the
    applications that arrived from it (list items, each with the folder it came in)."""

    send_number: str
    send_at: datetime
    file_name: str
    apply_count: int
    pending: bool
    errors: list[dict[str, Any]]  # the folders refused: {folder_name, proc_name, report_list}
    applications: list[dict[str, Any]]


def sends(f: FilingService, caller: Caller, *, send_number: str | None = None,
          sent_from: date | None = None, sent_to: date | None = None) -> list[BulkSubmission]:
    """The caller's sends by number or by send date, those still being processed included."""
    q = select(BulkSubmission).where(BulkSubmission.account_id == caller.account_id,
                                     BulkSubmission.trial == caller.trial, BulkSubmission.send_at <= f.now)
    if send_number is not None:
        q = q.where(BulkSubmission.send_number == send_number)
    if sent_from is not None and sent_to is not None:
        q = q.where(BulkSubmission.send_at >= datetime.combine(sent_from, datetime.min.time()),
                    BulkSubmission.send_at < datetime.combine(sent_to, datetime.min.time()) + timedelta(days=1))
    return list(f.session.scalars(q.order_by(BulkSubmission.send_at, BulkSubmission.id)))
