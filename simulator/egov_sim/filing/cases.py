"""Filing state and rules: accepting submissions and answering inquiries. Knows nothing of Flask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from egov_format import reports
from egov_format.reports import ReportItem
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from ..catalogue import Catalogue
from ..clock import format_datetime
from ..store import ids
from ..store.models import Application, ApplicationAction
from ..store.ops_tables import ApplicationHold
from . import lifecycle
from .errors import NotFound
from .submission import CheckedPackage


@dataclass(frozen=True)
class Caller:
    """Who is calling and how: the account behind the token, trial mode, and where the account logs in."""

    account_id: int
    username: str
    trial: bool = False
    idp: str = ""  # "gbizid" for GビズID logins (アカウント間情報共有 needs one)


def _corporation(c: CheckedPackage) -> str:
    return (c.package.applicant.get("法人団体名") or "").strip() or "-"


def _applicant(c: CheckedPackage) -> str:
    name = (c.package.applicant.get("氏名") or "").strip()
    return name if len(name) >= 3 else (name + "　" * 3)[:3]


# Prebuilt reads for the status poll (the hottest path): Core rows, no ORM identity map, and
# the stored package blob is not loaded. Rows read like Application/ApplicationAction objects.


def _held(now: Any):  # type: ignore[no-untyped-def]
    """Ids of applications ops holds back at `now` (arrival still being checked, lost in a maintenance window)."""
    return select(ApplicationHold.application_id).where(
        (ApplicationHold.lost_reason.is_not(None)) | (ApplicationHold.hidden_until > now))


_CASE = (select(*[c for c in Application.__table__.c if c.key != "package"])
         .where(Application.arrive_id == bindparam("arrive_id"), Application.account_id == bindparam("account_id"),
                Application.trial == bindparam("trial"), Application.arrive_at <= bindparam("now"),
                Application.id.not_in(_held(bindparam("now")))))
_ACTIONS = (select(ApplicationAction.__table__)
            .where(ApplicationAction.application_id == bindparam("application_id"))
            .order_by(ApplicationAction.at, ApplicationAction.id))


_APPLICATIONS = Application.__table__
_INSERT = insert(_APPLICATIONS)
_INSERT_RETURNING_ID = insert(_APPLICATIONS).returning(_APPLICATIONS.c.id)
_SET_NUMBERS = (update(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("row_id"))
                .values(arrive_id=bindparam("arrive_id"), send_number=bindparam("send_number")))


class FilingService:
    def __init__(self, session: Session | None, catalogue: Catalogue, now: datetime) -> None:
        """`session` is the unit of work; None presents rows read already (the status poll's)."""
        self.session = session  # type: ignore[assignment]
        self.catalogue = catalogue
        self.now = now

    # --- submission -------------------------------------------------------------------------------

    def check_first_arrive_id(self, caller: Caller, checked: CheckedPackage) -> None:
        """再提出 must name the original arrival of the same account and procedure."""
        if checked.package.apply_type != "再提出":
            return
        first = (checked.package.first_arrive_id or "").strip()
        original = self._find(caller, first) if first else None
        if original is None or original.proc_id != checked.proc.proc_id:
            checked.report.append(ReportItem(content=reports.WRONG_FIRST_ARRIVE_ID, file_name="kousei.xml",
                                             item="初回受付番号"))

    def accept(self, caller: Caller, checked: CheckedPackage, *, scenario: str | None = None,
               send_number: str | None = None, arrive_at: datetime | None = None,
               time_scale: float = 1.0) -> Application:
        """Store an application whose checks passed (an empty report); returns it with arrive_id and
        send_number. `arrive_at` (default now) lets bulk sending arrive later than it was sent."""
        proc = checked.proc
        scenario_def = proc.scenario(scenario)
        p = checked.package
        arrived = arrive_at or self.now
        allocated = ids.next_id(self.session, Application.__table__)  # PostgreSQL: the numbers go in the INSERT
        values: dict[str, Any] = dict(
            account_id=caller.account_id, trial=caller.trial,
            proc_id=proc.proc_id, apply_type=p.apply_type or "新規申請",
            first_arrive_id=(p.first_arrive_id or "").strip() or None,
            send_at=self.now, arrive_at=arrived, proc_name=proc.name, ministry_name=proc.ministry_name,
            submission_destination=(p.destination.get("提出先名称") or proc.destination_name).split(",")[-1],
            corporation_name=_corporation(checked), applicant_name=_applicant(checked),
            forms=[{"form_id": f["form_id"], "form_name": f.get("name") or "-", "file_name": f["file_name"]}
                   for f in p.forms],
            attachments=[{"name": a.get("name") or a.get("file_name"), "file_name": a.get("file_name")}
                         for a in p.attachments],
            scenario=scenario_def.name, timeline=lifecycle.build_timeline(scenario_def, arrived, time_scale),
            signer_serial=checked.signer_serial, package=checked.raw,
        )
        # Core statements on the session's transaction (the ORM's unit of work costs a millisecond here);
        # the application returned is transient: its attributes are the row's, as stored.
        conn = self.session.connection()
        if allocated is not None:
            values.update(id=allocated, **self._numbers(proc.arrive_prefix, arrived, allocated, send_number))
            conn.execute(_INSERT, values)
        else:  # SQLite: the id from the INSERT, the numbers written next (under a placeholder unique to the row)
            values["id"] = conn.execute(_INSERT_RETURNING_ID, {**values, "arrive_id": ids.placeholder(),
                                                                "send_number": ""}).scalar_one()
            numbers = self._numbers(proc.arrive_prefix, arrived, values["id"], send_number)
            conn.execute(_SET_NUMBERS, {"row_id": values["id"], **numbers})
            values.update(numbers)
        return Application(**values)

    def _numbers(self, prefix: str, arrived: datetime, row_id: int, send_number: str | None) -> dict[str, str]:
        """到達番号 (prefix, year, the row id in 9 digits) and 送信番号 (send time and the id's last 4 digits)."""
        return {"arrive_id": f"{prefix}{arrived.year}{row_id:09d}",
                "send_number": send_number or f"{self.now:%Y%m%d%H%M%S}{row_id % 10000:04d}"}

    # --- inquiry ----------------------------------------------------------------------------------

    def visible(self, account_ids: list[int], trial: bool):  # type: ignore[no-untyped-def]
        """Cases of these accounts that have arrived by now, less those ops holds back (arrival still
        being checked, lost in a maintenance window) — the one definition of what an inquiry can see."""
        return select(Application).where(Application.account_id.in_(account_ids), Application.trial == trial,
                                         Application.arrive_at <= self.now, Application.id.not_in(_held(self.now)))

    def _visible(self, caller: Caller):  # type: ignore[no-untyped-def]
        return self.visible([caller.account_id], caller.trial)

    def _find(self, caller: Caller, arrive_id: str) -> Application | None:
        return self.session.scalars(self._visible(caller).where(Application.arrive_id == arrive_id)).first()

    def get(self, caller: Caller, arrive_id: str) -> Application:
        app = self._find(caller, arrive_id)
        if app is None:
            raise NotFound(arrive_id)
        return app

    def read(self, caller: Caller, arrive_id: str) -> Row[Any]:
        """A read-only snapshot of a visible case (no package blob), for presenting it."""
        row = self._connection().execute(_CASE, {"arrive_id": arrive_id, "account_id": caller.account_id,
                                           "trial": caller.trial, "now": self.now}).first()
        if row is None:
            raise NotFound(arrive_id)
        return row

    def lock(self, app: Application) -> None:
        """One change of a case at a time: its row is locked until this unit of work ends (PostgreSQL:
        SELECT … FOR UPDATE; SQLite: a write to the row, which takes the database's write lock), and
        re-read, so a change decided next sees what a change made in parallel committed before it. It
        is ordered after that change, so it happens no earlier: `now` moves up to the case's latest action
        (each request read the clock when it began, and the other may have begun later)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(Application.id).where(Application.id == app.id).with_for_update())
        else:
            self.session.execute(update(Application).where(Application.id == app.id).values(id=Application.id)
                                 .execution_options(synchronize_session=False))
        self.session.refresh(app)
        latest = self.session.scalar(select(func.max(ApplicationAction.at))
                                     .where(ApplicationAction.application_id == app.id))
        if latest is not None and latest > self.now:
            self.now = latest

    def actions(self, app: Application | Row[Any]) -> list[ApplicationAction]:
        """The case's actions in order (read-only rows with ApplicationAction's attributes)."""
        return list(self._connection().execute(_ACTIONS, {"application_id": app.id}))  # type: ignore[arg-type]

    def _connection(self):  # type: ignore[no-untyped-def]
        """The session's connection for Core reads (pending ORM changes flushed first)."""
        if self.session.new or self.session.dirty or self.session.deleted:
            self.session.flush()
        return self.session.connection()

    def view(self, app: Application | Row[Any], actions: list[Any] | None = None) -> lifecycle.CaseView:
        """The case at now; `actions` when they were read already (the status poll reads them with the case)."""
        return lifecycle.view(app, self.actions(app) if actions is None else actions,
                              self.catalogue.get(app.proc_id), self.now)

    def list_by_send_number(self, caller: Caller, send_number: str) -> list[Application]:
        q = self._visible(caller).where(Application.send_number == send_number).order_by(Application.id)
        return list(self.session.scalars(q))

    def list_by_dates(self, caller: Caller, date_from: date, date_to: date, limit: int,
                      offset: int) -> tuple[int, list[Application]]:
        start = datetime.combine(date_from, datetime.min.time())
        end = datetime.combine(date_to, datetime.min.time()) + timedelta(days=1)
        q = self._visible(caller).where(Application.arrive_at >= start, Application.arrive_at < end)
        total = self.session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = self.session.scalars(q.order_by(Application.arrive_at.desc(), Application.id.desc())
                                    .limit(limit).offset(offset))
        return total, list(rows)

    # --- presentation (spec field names) ---------------------------------------------------------------

    def detail(self, app: Application | Row[Any], caller: Caller, actions: list[Any] | None = None) -> dict[str, Any]:
        v = self.view(app, actions)
        result: dict[str, Any] = {
            "status": v.status,
            "arrive_id": app.arrive_id,
            "arrive_date": format_datetime(app.arrive_at),
            "corporation_name": app.corporation_name,
            "applicant_name": app.applicant_name,
            "proc_name": app.proc_name,
            "submission_destination": app.submission_destination,
            "withdraw_flag": v.withdraw_flag,
            "pay_status": v.pay_status,
            "notice_count": len(v.notice_list),
            "doc_count": len(v.official_list),
            "apply_pay_count": len(v.apply_pay_list),
        }
        if v.notice_list:
            result["notice_list"] = v.notice_list
        if v.official_list:
            result["official_list"] = v.official_list
        if v.apply_pay_list:
            result["apply_pay_list"] = v.apply_pay_list
        result["applied_account"] = caller.username
        return result

    def list_item(self, no: int, app: Application, caller: Caller, actions: list[Any] | None = None) -> dict[str, Any]:
        d = self.detail(app, caller, actions)
        return {"no": no, "send_number": app.send_number, "send_date": format_datetime(app.send_at), **d}

    def apply_result(self, app: Application) -> dict[str, Any]:
        """The answer to a submission just stored (by `accept`: it has no actions yet)."""
        v = self.view(app, [])
        result: dict[str, Any] = {
            "arrive_id": app.arrive_id,
            "arrive_date": format_datetime(app.arrive_at),
            "corporation_name": app.corporation_name,
            "applicant_name": app.applicant_name,
            "apply_type": app.apply_type,
            "proc_name": app.proc_name,
            "ministry_name": app.ministry_name[:12],
            "submission_destination": app.submission_destination,
            "apply_form": {
                "form": [{"form_name": f["form_name"]} for f in app.forms],
                **({"attached_file": [{"attached_file_name": a["name"]} for a in app.attachments]}
                   if app.attachments else {}),
            },
        }
        if v.apply_pay_list:
            result["apply_pay_list"] = v.apply_pay_list
        return result
