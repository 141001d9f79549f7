"""FilingBackend: e-Gov 電子申請API v2 as one typed method per operation, apart from HTTP.

Built per unit of work — a database session, the catalogue, the virtual "now" of the request and
the ops hooks — and called by a face (filing/v2/ for /shinsei/v2; a test or script directly). Every
method takes already-parsed arguments and returns the spec's `results` (or a Page of them); errors
are FilingError / NotFound (filing/errors.py). The rule modules beside this one are its helpers;
each takes the unit of work (`FilingService`, cases.py) first. No Flask here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from egov_format.reports import ReportItem
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from ..catalogue import Catalogue, Procedure
from ..catalogue.skeleton import skeleton_zip
from ..clock import format_datetime
from ..ops import auto_return
from ..settings import Settings
from ..store.models import Application, ApplicationAction
from ..store.ops_tables import ApplicationHold
from . import (
    amendment,
    bulk,
    messages,
    notices,
    official,
    payments,
    posts,
    preprint,
    scenarios,
    sharing,
    withdrawal,
    withdrawal_application,
)
from .access import find_case, owner_of
from .cases import Caller, FilingService
from .documents import government_authorities, verify_document
from .errors import FilingError, NotFound, bad_request
from .hooks import NO_HOOKS, FilingHooks, Submission
from .staff import SandboxStaff
from .submission import UNKNOWN_PROCEDURE, CheckedPackage, PackageChecker
from .timeline import PAY_WAITING

NOT_APPLY_PROCEDURE = UNKNOWN_PROCEDURE  # a 電子送達 利用申込み is not an application: POST /post-apply
REPORTED = "申請データに誤りがあります。"
NOTICE_READ = "notice-read"  # an action of the case: a notice fetched to the end (取得完了)


@dataclass(frozen=True)
class Period:
    """A list's 取得対象期間 and page."""

    date_from: date
    date_to: date
    limit: int
    offset: int


@dataclass(frozen=True)
class Page:
    """One page of a list: the items and how many there are in all."""

    total: int
    items: list[dict[str, Any]]


class FilingBackend:
    def __init__(self, session: Session | None, catalogue: Catalogue, now: datetime, *,
                 hooks: FilingHooks = NO_HOOKS, max_file_bytes: int = Settings.max_file_bytes,
                 staff: SandboxStaff | None = None, form_item_max_chars: int = Settings.form_item_max_chars) -> None:
        """`session` is the unit of work (the caller commits it); None only for `present_own_case`.
        `staff` (sandbox mode) decides scenarios and timing instead of headers and admin overrides."""
        self._f = FilingService(session, catalogue, now)
        self._hooks = hooks
        self._staff = staff
        self._max_file_bytes = max_file_bytes
        self._form_item_max_chars = form_item_max_chars

    # --- 手続選択 / プレ印字 ------------------------------------------------------------------------------

    def get_procedure(self, proc_id: str) -> dict[str, Any]:
        proc = self._f.catalogue.get(proc_id)
        if proc is None:
            raise NotFound(proc_id)
        return {
            "file_data": base64.b64encode(skeleton_zip(self._f.catalogue, proc)).decode(),
            "configuration_file_name": ["kousei.xml", *(c.file_name for c in proc.configuration_files)],
            "file_info": [
                {
                    "form_id": f.form_id,
                    "form_version": f.version,
                    "form_name": f.name,
                    "apply_file_name": f.file_name,
                    "xsl_file_name": f.xsl_file_name,
                    "server_check_file_name": f.check_file_name,  # {form_id}check.xml
                    "schema_file_name": f.schema_file_name,
                }
                for f in proc.forms
            ],
        }

    def preprint(self, request: preprint.PreprintRequest) -> dict[str, Any]:
        return preprint.preprint(self._f, request)

    # --- 申請データ送信 and its kin: one submit path ------------------------------------------------------

    def apply(self, caller: Caller, proc_id: str, file_name: str, raw: bytes, *, scenario: str | None = None,
              auto_return_case: str | None = None) -> dict[str, Any]:
        """申請データ送信. `scenario` / `auto_return_case` name a catalogue scenario / 自動返戻 case for
        this submission (the sandbox's X-Sandbox-Scenario / X-Sandbox-Auto-Return headers)."""
        proc = self._f.catalogue.get(proc_id)
        if proc is not None and proc.post_apply:
            raise bad_request(NOT_APPLY_PROCEDURE, [ReportItem(content=f"手続識別子({proc_id})に誤りがあります",
                                                               item="proc_id")])
        checked = self._checker().check(proc_id, file_name, raw)
        app = self._submit("apply", caller, checked, scenario=scenario, auto_return_case=auto_return_case)
        return self._f.apply_result(app)

    def post_apply(self, caller: Caller, proc_id: str, file_name: str, raw: bytes, *,
                   scenario: str | None = None) -> dict[str, Any]:
        """電子送達利用申込み: a submission of a `post_apply` procedure (trial mode does not apply)."""
        caller = replace(caller, trial=False)
        if self._f.catalogue.get(proc_id) is not None and not posts.is_post_procedure(self._f, proc_id):
            raise bad_request(posts.NOT_POST_PROCEDURE)
        checked = self._checker().check(proc_id, file_name, raw)
        app = self._submit("post-apply", caller, checked, scenario=scenario)
        results = self._f.apply_result(app)
        results.setdefault("apply_pay_list", [])
        return results

    def bulk_apply(self, caller: Caller, file_name: str, raw: bytes, *, scenario: str | None = None) -> dict[str, Any]:
        """申請データbulk送信: every folder checked now, the good ones arriving later (bulk.py)."""

        def accept(checked: CheckedPackage, send_number: str, arrive_at: datetime) -> Application:
            return self._submit("bulk-apply", caller, checked, scenario=scenario, send_number=send_number,
                                arrive_at=arrive_at)

        delay = self._staff.delay(bulk.INGEST_DELAY) if self._staff else bulk.INGEST_DELAY
        def prepare(checks: list[CheckedPackage]) -> None:
            self._hooks.prepare([Submission("bulk-apply", caller.username, c.proc.proc_id) for c in checks])

        sent = bulk.send(self._f, caller, file_name, raw, self._checker(), accept, ingest_delay=delay, prepare=prepare)
        return {"send_number": sent.send_number, "send_date": f"{sent.send_at:%Y-%m-%d %H:%M:%S}",
                "file_name": sent.file_name, "apply_count": sent.apply_count}

    def list_sends(self, caller: Caller, *, send_number: str | None = None,
                   sent: tuple[date, date] | None = None) -> list[bulk.Send]:
        """Sends of several applications (the legacy 送信案件一覧), by number or by send dates: still
        being processed until their applications arrive, then the arrived ones and the refused folders."""
        f = self._f
        rows = bulk.sends(f, caller, send_number=send_number, sent_from=sent[0] if sent else None,
                          sent_to=sent[1] if sent else None)
        result = []
        for row in rows:
            pending = row.ingest_at > f.now
            folders = {r["arrive_id"]: r["folder_name"] for r in row.results if "arrive_id" in r}
            apps = [] if pending else [self._send_item(i, a, caller, folders.get(a.arrive_id, ""))
                                       for i, a in enumerate(f.list_by_send_number(caller, row.send_number), 1)]
            errors = [] if pending else [r for r in row.results if "report_list" in r]
            result.append(bulk.Send(row.send_number, row.send_at, row.file_name, row.apply_count, pending, errors,
                                    apps))
        return result

    def amend(self, caller: Caller, arrive_id: str, file_name: str, raw: bytes) -> dict[str, Any]:
        """補正データ送信: while a 部分補正 request is open, before its deadline."""
        app, gate = amendment.open_gate(self._f, caller, arrive_id)
        checked = self._checker().check(app.proc_id, file_name, raw, allowed_apply_types=amendment.AMEND_TYPES)
        amendment.check_target(checked, arrive_id)
        self._automatic_return(Submission("apply/amend", caller.username, app.proc_id))
        if checked.report:
            raise bad_request("補正データに誤りがあります。", checked.report)
        return amendment.record(self._f, app, gate, raw)

    def check(self, caller: Caller, proc_id: str, file_name: str, raw: bytes) -> dict[str, Any]:
        """形式チェック: the checks of apply; stores nothing."""
        try:
            checked = self._checker().check(proc_id, file_name, raw)
            self._f.check_first_arrive_id(caller, checked)
            report = checked.report
        except FilingError as exc:
            if exc.status != 400 or not exc.report:
                raise
            report = exc.report
        self._f.session.rollback()  # a check stores nothing
        results: dict[str, Any] = {"message": "形式チェックでエラーが検出されました。" if report else
                                   "形式チェックでエラーは検出されませんでした。", "error_count": len(report)}
        if report:
            results["report_list"] = [r.as_dict() for r in report]
        return results

    def _checker(self) -> PackageChecker:
        return PackageChecker(self._f.catalogue, self._f.session, self._f.now, max_file_bytes=self._max_file_bytes,
                              form_item_max_chars=self._form_item_max_chars)

    def _submit(self, operation: str, caller: Caller, checked: CheckedPackage, *, scenario: str | None = None,
                auto_return_case: str | None = None, send_number: str | None = None,
                arrive_at: datetime | None = None) -> Application:
        """The one submit path of apply, post-apply and bulk folders, after the package checks:
        first-arrive-id → automatic return → scenario → accept → link resubmission → arrival check."""
        f = self._f
        _check_sandbox_names(checked.proc, scenario, auto_return_case)
        f.check_first_arrive_id(caller, checked)
        submission = Submission(operation, caller.username, checked.proc.proc_id)
        self._automatic_return(submission, auto_return_case)
        if checked.report:
            raise bad_request(REPORTED, checked.report)
        if self._staff is not None:
            chosen = self._staff.choose(f.session, checked.proc, caller.account_id)
        else:
            chosen = scenarios.choose(f.session, checked.proc, caller.account_id, scenario)
        app = f.accept(caller, checked, scenario=chosen, send_number=send_number, arrive_at=arrive_at,
                       time_scale=self._staff.scale if self._staff else 1.0)
        amendment.link_resubmission(f, caller, app)  # a 再提出 answers the original's open request
        hold = self._hooks.arrival_check(submission)
        if hold is not None:
            f.session.merge(ApplicationHold(application_id=app.id, hidden_until=f.now + hold))
        return app

    def _automatic_return(self, submission: Submission, case_name: str | None = None) -> None:
        """自動返戻: the named catalogue case, else whatever the ops hooks say, refuses the package."""
        if self._staff is not None:
            case_name = None  # the 検証環境 knows no X-Sandbox-Auto-Return header
        case = auto_return.find(self._f.catalogue.get(submission.proc_id), case_name) if case_name else None
        if case is not None:
            raise bad_request(auto_return.DETAIL, list(case.report))
        refusal = self._hooks.automatic_return(submission)
        if refusal is not None:
            raise bad_request(*refusal)

    def _send_item(self, no: int, app: Application, caller: Caller, folder_name: str) -> dict[str, Any]:
        """An application of a send as the legacy lists count it: the list item, the folder it came in,
        when its status last changed, the notices read to the end (取得完了) and the payments awaited."""
        f = self._f
        actions = f.actions(app)
        state = f.view(app, actions).state
        assert state is not None
        return {**f.list_item(no, app, caller, actions), "folder_name": folder_name,
                "status_date": format_datetime(state.status_at or app.arrive_at),
                "read_notice_ids": sorted(a.data.get("notice_sub_id") for a in actions if a.kind == NOTICE_READ),
                "pay_wait_count": sum(p.status(f.now) == PAY_WAITING for p in state.payments)}

    # --- 取下げ ---------------------------------------------------------------------------------------------

    def withdraw(self, caller: Caller, arrive_id: str, raw: bytes) -> dict[str, Any]:
        return withdrawal.withdraw(self._f, caller, arrive_id, raw, max_file_bytes=self._max_file_bytes)

    def withdraw_by_application(self, caller: Caller, arrive_id: str, raw: bytes) -> dict[str, Any]:
        """取下げ申請 (the legacy 外部連携API): its 9990000000000008 package, then the same withdrawal,
        which arrives with a 到達番号 of its own (new_arrive_id)."""
        return withdrawal_application.withdraw(self._f, caller, arrive_id, raw, max_file_bytes=self._max_file_bytes)

    # --- 申請案件一覧取得 / 申請案件取得 / エラーレポート ---------------------------------------------------------

    def list_applications_by_send_number(self, caller: Caller, send_number: str) -> list[dict[str, Any]]:
        f = self._f
        return [f.list_item(i, a, caller) for i, a in enumerate(f.list_by_send_number(caller, send_number), 1)]

    def list_applications(self, caller: Caller, period: Period) -> Page:
        f = self._f
        total, apps = f.list_by_dates(caller, period.date_from, period.date_to, period.limit, period.offset)
        return Page(total, [f.list_item(period.offset + i, a, caller) for i, a in enumerate(apps, 1)])

    def get_application(self, caller: Caller, arrive_id: str) -> dict[str, Any]:
        """申請案件取得: the caller's own case, else one shared with it (アカウント間情報共有)."""
        try:
            return self._f.detail(self._f.read(caller, arrive_id), caller)
        except NotFound:
            return self.get_shared_application(caller, arrive_id)

    def get_shared_application(self, caller: Caller, arrive_id: str) -> dict[str, Any]:
        app = find_case(self._f, caller, arrive_id, kind="official", need="READ")
        return self._f.detail(app, owner_of(self._f, app))

    def present_own_case(self, caller: Caller, case: Row[Any] | Any, actions: list[Any]) -> dict[str, Any]:
        """申請案件取得 of a case the status poll read already with its actions (poll.py)."""
        return self._f.detail(case, caller, actions)

    def get_report_by_send_number(self, caller: Caller, send_number: str) -> list[dict[str, Any]]:
        return [bulk.report_item(b) for b in bulk.by_send_number(self._f, caller, send_number)]

    def get_report(self, caller: Caller, period: Period) -> Page:
        total, rows = bulk.by_dates(self._f, caller, period.date_from, period.date_to, period.limit, period.offset)
        return Page(total, [bulk.report_item(b) for b in rows])

    # --- 通知 / 公文書 --------------------------------------------------------------------------------------

    def list_notices(self, caller: Caller, period: Period) -> Page:
        return Page(*notices.list_notices(self._f, caller, period.date_from, period.date_to, period.limit,
                                          period.offset))

    def get_notice(self, caller: Caller, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        return {"notice": notices.get_notice(self._f, caller, arrive_id, notice_sub_id)}

    def complete_notice(self, caller: Caller, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        """コメント通知取得完了 (the legacy face): the notice is marked read; again is harmless."""
        app = find_case(self._f, caller, arrive_id)
        self.get_notice(caller, arrive_id, notice_sub_id)  # NotFound for a notice the case lacks
        if notice_sub_id not in self.notices_read(caller, arrive_id):
            self._f.session.add(ApplicationAction(application_id=app.id, kind=NOTICE_READ, at=self._f.now,
                                                  data={"notice_sub_id": notice_sub_id}))
            self._f.session.flush()
        return {"arrive_id": app.arrive_id, "notice_sub_id": notice_sub_id, "proc_name": app.proc_name,
                "read_date": format_datetime(self._f.now)}

    def notices_read(self, caller: Caller, arrive_id: str) -> dict[int, datetime]:
        app = find_case(self._f, caller, arrive_id)
        return {a.data.get("notice_sub_id"): a.at for a in self._f.actions(app) if a.kind == NOTICE_READ}

    def get_official_document(self, caller: Caller, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        data, names = official.fetch(self._f, caller, arrive_id, notice_sub_id)
        return {"file_data": base64.b64encode(data).decode(), "file_name_list": [{"file_name": n} for n in names]}

    def complete_official_document(self, caller: Caller, arrive_id: str, notice_sub_id: int) -> dict[str, Any]:
        return official.complete(self._f, caller, arrive_id, notice_sub_id)

    def verify_official_document(self, raw: bytes, sig_verification_xml_file_name: str) -> dict[str, Any]:
        return verify_document(raw, sig_verification_xml_file_name, government_authorities(self._f.session),
                               self._f.now)

    # --- 電子納付 ---------------------------------------------------------------------------------------------

    def list_banks(self) -> dict[str, Any]:
        return payments.bank_list()

    def get_payment(self, caller: Caller, arrive_id: str) -> dict[str, Any]:
        return payments.payment_info(self._f, caller, arrive_id)

    def payment_site(self, caller: Caller, arrive_id: str, pay_number: str, bank_name: str,
                     proc_id: str) -> dict[str, Any]:
        return payments.bank_site(self._f, caller, arrive_id, pay_number, bank_name, proc_id)

    # --- 電子送達 ---------------------------------------------------------------------------------------------

    def get_post_apply(self, caller: Caller, arrive_id: str) -> dict[str, Any]:
        caller = replace(caller, trial=False)
        return self._f.detail(posts.post_case(self._f, caller, arrive_id), caller)

    def list_posts(self, caller: Caller, period: Period) -> Page:
        return Page(*posts.list_posts(self._f, caller, period.date_from, period.date_to, period.limit,
                                      period.offset))

    def get_post(self, caller: Caller, post_id: str) -> dict[str, Any]:
        name, data, names = posts.fetch(self._f, caller, post_id)
        return {"notice_data_name": name[:256], "file_data": base64.b64encode(data).decode(),
                "file_name_list": [{"file_name": n} for n in names]}

    def complete_post(self, caller: Caller, post_id: str) -> dict[str, Any]:
        return posts.complete(self._f, caller, post_id)

    # --- 手続に関するご案内 -----------------------------------------------------------------------------------

    def list_messages(self, period: Period) -> Page:
        return Page(*messages.list_messages(self._f, period.date_from, period.date_to, period.limit, period.offset))

    def get_message(self, information_id: str) -> dict[str, Any]:
        return messages.get_message(self._f, information_id)

    # --- アカウント間情報共有 -----------------------------------------------------------------------------------

    def get_share_setting(self, caller: Caller) -> dict[str, Any]:
        sharing.require_gbizid(caller.idp)
        current = sharing.current(self._f, caller.account_id)
        if current is None:
            raise bad_request("情報共有は設定されていません。")
        return {"share_setting_list": sharing.as_dict(*current)}

    def create_share_setting(self, caller: Caller, grant: sharing.ShareGrant) -> dict[str, Any]:
        sharing.require_gbizid(caller.idp)
        return sharing.as_dict(sharing.create(self._f, caller.account_id, grant), grant.gbiz_id)

    def update_share_setting(self, caller: Caller, grant: sharing.ShareGrant) -> dict[str, Any]:
        sharing.require_gbizid(caller.idp)
        return sharing.as_dict(sharing.update(self._f, caller.account_id, grant), grant.gbiz_id)

    def delete_share_setting(self, caller: Caller, gbiz_id: str) -> dict[str, Any]:
        sharing.require_gbizid(caller.idp)
        return {"gbiz_id": sharing.delete(self._f, caller.account_id, gbiz_id)}

    def confirm_share(self, caller: Caller, gbiz_id: str, acceptance: str) -> dict[str, Any]:
        sharing.require_gbizid(caller.idp)
        owner, acceptance = sharing.confirm(self._f, caller.account_id, gbiz_id, acceptance)
        return {"gbiz_id": owner, "share_acceptance": acceptance}


def _check_sandbox_names(proc: Procedure, scenario: str | None, case: str | None) -> None:
    """X-Sandbox-Scenario / X-Sandbox-Auto-Return name something the procedure has, or the request is
    refused with the valid names (a typo must not silently run the default story)."""
    if scenario is not None and scenario not in proc.scenarios:
        raise bad_request(f"X-Sandbox-Scenario「{scenario[:64]}」はこの手続にありません。指定できる値: "
                          + ", ".join(proc.scenarios))
    if case is not None and auto_return.find(proc, case) is None:
        raise bad_request(f"X-Sandbox-Auto-Return「{case[:64]}」はこの手続にありません。指定できる値: "
                          + ", ".join(auto_return.cases(proc)))
