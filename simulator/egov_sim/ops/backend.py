"""OpsBackend: one typed method per /__admin operation, apart from HTTP (moto's lesson).

The admin views (admin*.py, case_admin.py, gbizid_admin.py) parse the request, call one method and
render its JSON-ready answer; a refusal is an OpsError (or the GビズID lifecycle's AccountError)
with its status, rendered once by the parent `admin` blueprint. Built per request (`ops_backend()`)
over the app's services and the process's ops state (journal, cache of rules and calendar).
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from ..clock import parse_duration
from ..filing import payments, scenarios
from ..filing.cases import Caller, FilingService
from ..idp import gbizid_accounts as accounts
from ..idp import gbizid_op
from ..idp.gbizid_accounts import AccountError
from ..services import Services, services
from ..store.kv import put_setting
from ..store.models import Account, Application, GbizAccount, GbizPrimeApplication, GbizRelyingParty
from ..store.ops_tables import ApplicationHold, FaultRule, MaintenanceWindow
from ..world import reset_world
from ..world import world_id as current_world_id
from ..world.demo import certificate_for, load_world
from . import auto_return, case_views, faults, latency
from .actions import parse_action
from .errors import OpsError
from .maintenance import Calendar, CalendarError, parse_window, to_window
from .middleware import LATENCY_KEY, OpsState, faultable_trees, ops_state
from .world_events import cut_sessions, find_account_id, revoke_certificate

JSON = dict[str, Any]


class OpsBackend:
    def __init__(self, svc: Services, state: OpsState) -> None:
        self.svc = svc
        self.state = state

    # --- clock and world -----------------------------------------------------------------------------

    def clock(self) -> JSON:
        return self.svc.clock.state().describe()

    def set_clock(self, *, reset: bool = False, advance: Any = None, set_to: Any = None, speed: Any = None,
                  frozen: Any = None) -> JSON:
        """Reset (at `speed`, default 1), or any of: advance by a duration, set to an instant, speed, frozen."""
        clock = self.svc.clock
        try:
            if reset:
                return clock.reset(1.0 if speed is None else float(speed)).describe()
            return clock.update(advance=parse_duration(advance) if advance is not None else None,
                                set_to=datetime.fromisoformat(set_to).replace(tzinfo=None) if set_to is not None
                                else None,
                                speed=float(speed) if speed is not None else None,
                                frozen=bool(frozen) if frozen is not None else None).describe()
        except (ValueError, TypeError) as exc:
            raise OpsError(str(exc)) from None

    def world(self) -> JSON:
        world = load_world(self.svc)
        if world is None:
            raise OpsError("no demo world", 404)
        return {**world.as_dict(), "world_id": current_world_id(self.svc)}

    def world_id(self) -> JSON:
        """The identity of the current state (changes with reset and with a new data directory)."""
        return {"world_id": current_world_id(self.svc)}

    def reset(self) -> JSON:
        """Every table back to the demo world's snapshot, the ops room's too."""
        world = reset_world(self.svc)
        self.state.journal.clear()
        self.state.invalidate()
        return {"reset": True, "world": world.as_dict() if world else None, "world_id": current_world_id(self.svc)}

    def certificate(self, label: str) -> JSON:
        """A demo signing certificate as PKCS#12 (base64) with its password, for harnesses on other machines."""
        try:
            p12, password, cert = certificate_for(self.svc, label)
        except KeyError:
            raise OpsError(f"no demo certificate {label!r}", 404) from None
        world = load_world(self.svc)
        revoked = bool(world and any(c["label"] == label and c.get("revoked") for c in world.certificates))
        return {"label": label, "password": password, "p12": base64.b64encode(p12).decode(),
                "subject": cert.subject.rfc4514_string(), "not_after": cert.not_valid_after_utc.isoformat(),
                "revoked": revoked}

    # --- cases -----------------------------------------------------------------------------------------

    def set_scenario(self, scenario: str | None, *, account: str | None = None, proc_id: str | None = None,
                     count: int | None = None) -> JSON:
        """The scenario of the next submissions (of an account and/or procedure); None removes the rule."""
        catalogue = self.svc.catalogue
        if proc_id is not None and catalogue.get(proc_id) is None:
            raise OpsError(f"unknown procedure {proc_id!r}")
        if scenario is not None:
            procs = [catalogue.get(proc_id)] if proc_id else list(catalogue)
            if not any(p and scenario in p.scenarios for p in procs):
                raise OpsError(f"no procedure{' ' + proc_id if proc_id else ''} has a scenario {scenario!r}")
        with self.svc.db.session() as s:
            rule: JSON = {"scenario": scenario, "account_id": None, "proc_id": proc_id}
            if account:
                rule["account_id"] = find_account_id(s, account)
                if rule["account_id"] is None:
                    raise OpsError(f"unknown account {account!r}")
            if count is not None:
                rule["remaining"] = count
            return {"rules": scenarios.set_override(s, rule)}

    def _case(self, f: FilingService, arrive_id: str) -> Application:
        app = f.session.scalars(select(Application).where(Application.arrive_id == arrive_id)).first()
        if app is None:
            raise OpsError(f"no application {arrive_id}", 404)
        return app

    def advance_case(self, arrive_id: str) -> JSON:
        """Make the case's next scenario step happen now."""
        with self.svc.db.session() as s:
            f = FilingService(s, self.svc.catalogue, self.svc.clock.now())
            app = self._case(f, arrive_id)
            step = scenarios.advance_case(app, f.actions(app), f.now)
            view = f.view(app)
        if step is None:
            raise OpsError("nothing to advance: no pending step, or the case waits for the applicant "
                           "(補正 / 再提出) or for its withdrawal decision", 409)
        return {"arrive_id": arrive_id, "step": step, "status": view.status}

    def pay_case(self, arrive_id: str, pay_number: str | None = None) -> JSON:
        """The bank's confirmation of one payment, or of every waiting one."""
        with self.svc.db.session() as s:
            f = FilingService(s, self.svc.catalogue, self.svc.clock.now())
            app = self._case(f, arrive_id)
            paid = payments.record_paid(f, Caller(app.account_id, "", app.trial), arrive_id, pay_number)
        if not paid:
            raise OpsError("no waiting payment to mark as paid", 409)
        return {"arrive_id": arrive_id, "paid": paid}

    def applications(self, query: case_views.CaseQuery) -> JSON:
        """Every account's cases (the console's 申請一覧), filtered by 送信日時 and 到達状況 group."""
        with self.svc.db.session() as s:
            total, rows = case_views.list_cases(FilingService(s, self.svc.catalogue, self.svc.clock.now()), query)
        return {"total": total, "applications": rows}

    def application(self, arrive_id: str) -> JSON:
        """One case with its timeline (past and scheduled steps), notices, documents and payments."""
        with self.svc.db.session() as s:
            case = case_views.case_detail(FilingService(s, self.svc.catalogue, self.svc.clock.now()), arrive_id)
        if case is None:
            raise OpsError(f"no application {arrive_id}", 404)
        return case

    # --- maintenance calendar --------------------------------------------------------------------------

    def calendar(self) -> Calendar:
        with self.svc.db.session() as s:
            return Calendar.load(s)

    def maintenance(self) -> JSON:
        now = self.svc.clock.now()
        cal = self.calendar()
        current = cal.current(now)
        return {"now": now.isoformat(timespec="seconds") + "+09:00",
                "current": current.as_dict() if current else None,
                "windows": [w.as_dict() for w in cal.windows],
                "upcoming": [o.as_dict() for o in cal.upcoming(now, announced_only=False)]}

    def add_maintenance(self, spec: Any) -> JSON:
        try:
            values = parse_window(spec)
        except CalendarError as exc:
            raise OpsError(str(exc)) from None
        with self.svc.db.session() as s:
            row = MaintenanceWindow(**values)
            s.add(row)
            s.flush()
            return to_window(row).as_dict()

    def delete_maintenance(self, window_id: int | None = None) -> None:
        """One window, or every one (None)."""
        with self.svc.db.session() as s:
            stmt = delete(MaintenanceWindow)
            if window_id is not None:
                stmt = stmt.where(MaintenanceWindow.id == window_id)
            gone = s.execute(stmt).rowcount
        if window_id is not None and not gone:
            raise OpsError(f"maintenance window {window_id} not found", 404)

    def notice(self) -> JSON:
        """The public maintenance notice as e-Gov announces it."""
        now = self.svc.clock.now()
        cal = self.calendar()
        current = cal.current(now)
        return {"title": "e-Gov電子申請システムメンテナンスのお知らせ", "in_maintenance": current is not None,
                "current": current.as_dict() if current else None,
                "schedule": [o.as_dict() for o in cal.upcoming(now)]}

    # --- fault rules -----------------------------------------------------------------------------------

    def faults(self) -> JSON:
        with self.svc.db.session() as s:
            return {"faults": [r.as_dict() for r in faults.load_rules(s)]}

    def add_fault(self, spec: Any) -> JSON:
        """A rule (faults.py); refused when invalid or when it could never fire."""
        spec = faults.validate(spec, faultable_trees())
        match = spec.get("match") or {}
        if match.get("account"):
            with self.svc.db.session() as s:
                account_id = find_account_id(s, str(match["account"]))
                if account_id is None:
                    raise OpsError(f"match.account に該当するアカウントがありません: {match['account']}")
                spec["match"] = {**match, "account": s.get(Account, account_id).username}  # type: ignore[union-attr]
        proc = self.svc.catalogue.get(match["proc_id"]) if match.get("proc_id") else None
        for action in parse_action(spec["action"]):
            refused = action.refusal(proc)
            if refused:
                raise OpsError(refused)
        with self.svc.db.session() as s:
            row = FaultRule(spec=spec, limit=spec.get("times"), created_at=self.svc.clock.now())
            s.add(row)
            s.flush()
            return faults.to_rule(row).as_dict()

    def delete_fault(self, rule_id: int | None = None) -> None:
        """One rule, or every one (None)."""
        with self.svc.db.session() as s:
            stmt = delete(FaultRule)
            if rule_id is not None:
                stmt = stmt.where(FaultRule.id == rule_id)
            gone = s.execute(stmt).rowcount
        if rule_id is not None and not gone:
            raise OpsError(f"fault rule {rule_id} not found", 404)

    def auto_returns(self, proc_id: str) -> JSON:
        proc = self.svc.catalogue.get(proc_id)
        if proc is None:
            raise OpsError(f"unknown procedure {proc_id}", 404)
        return {name: {"description": c.description, "report_list": [r.as_dict() for r in c.report]}
                for name, c in auto_return.cases(proc).items()}

    def holds(self) -> JSON:
        """Applications that inquiries do not show (arrival being checked, lost in maintenance)."""
        with self.svc.db.session() as s:
            rows = s.execute(select(ApplicationHold, Application.arrive_id)
                             .join(Application, Application.id == ApplicationHold.application_id)).all()
            return {"holds": [{"arrive_id": arrive_id,
                               "hidden_until": h.hidden_until.isoformat() if h.hidden_until else None,
                               "lost_reason": h.lost_reason} for h, arrive_id in rows]}

    # --- latency profile -------------------------------------------------------------------------------

    def latency(self) -> JSON:
        return self.state.room().latency.as_dict()

    def set_latency(self, profile: Any = None, scale: Any = None) -> JSON:
        current = self.state.room().latency
        try:
            config = latency.validate(current.profile if profile is None else profile,
                                      current.scale if scale is None else scale)
        except ValueError as exc:
            raise OpsError(str(exc)) from None
        with self.svc.db.session() as s:
            put_setting(s, LATENCY_KEY, {"profile": config.profile, "scale": config.scale})
        return config.as_dict()

    # --- request journal -------------------------------------------------------------------------------

    def requests(self, *, limit: int = 100, path: str | None = None, account: str | None = None,
                 status: str | None = None, method: str | None = None) -> JSON:
        journal = self.state.journal
        entries = journal.find(path=path, account=account, status=status, method=method,
                               limit=min(max(limit, 1), 1000))
        return {"size": journal.size, "count": len(entries), "requests": [e.as_dict() for e in entries]}

    def clear_requests(self) -> None:
        self.state.journal.clear()

    def request_entry(self, entry_id: int) -> JSON:
        """One journal entry with its request and response."""
        entry = self.state.journal.get(entry_id)
        if entry is None:
            raise OpsError(f"request {entry_id} is not in the journal", 404)
        return entry.as_dict()

    # --- sessions and certificates ---------------------------------------------------------------------

    def cut_sessions(self, account: str) -> JSON:
        """End the account's login sessions now (401 on the API, re-login works)."""
        with self.svc.db.session() as s:
            account_id = find_account_id(s, account)
        if account_id is None:
            raise OpsError(f"account {account!r} not found", 404)
        return {"account": account, "sessions_cut": cut_sessions(self.svc.db, account_id, self.svc.clock.now())}

    def revoke_certificate(self, label: str, at: str | None = None) -> JSON:
        """Revoke a certificate now (or from `at`): e-Gov answers 「アクセス許可できません…」 from then on."""
        try:
            when = datetime.fromisoformat(at).replace(tzinfo=None) if at else self.svc.clock.now()
        except (TypeError, ValueError):
            raise OpsError("at は日時です。") from None
        if not revoke_certificate(self.svc.db, label, when):
            raise OpsError(f"certificate {label!r} not found", 404)
        return {"label": label, "revoked_at": when.isoformat(timespec="seconds")}

    # --- GビズID (the operator's side; rules in idp/gbizid_accounts.py) -----------------------------------

    def outbox(self, account: str | None, limit: int) -> JSON:
        from ..rp.backend import outbox as rp_mails

        limit = max(1, min(limit, 500))
        return {"messages": gbizid_op.outbox(self.svc, account, limit), "mails": rp_mails(self.svc.db, account, limit)}

    def gbizid_accounts(self, account_type: str | None = None) -> JSON:
        now = self.svc.clock.now()
        with self.svc.db.session() as s:
            query = select(GbizAccount).order_by(GbizAccount.id)
            if account_type:
                query = query.where(GbizAccount.account_type == account_type)
            return {"accounts": [accounts.account_view(s, a, now) for a in s.scalars(query)]}

    def gbizid_account(self, key: str) -> JSON:
        now = self.svc.clock.now()
        with self.svc.db.session() as s:
            return accounts.account_view(s, accounts.find_account(s, key), now)

    def register_entry(self, body: JSON) -> JSON:
        return accounts.register_entry(self.svc, body)

    def apply_prime(self, body: JSON) -> JSON:
        return accounts.apply_prime(self.svc, body)

    def prime_applications(self) -> JSON:
        now = self.svc.clock.now()
        with self.svc.db.session() as s:
            rows = s.scalars(select(GbizPrimeApplication).order_by(GbizPrimeApplication.id))
            return {"applications": [accounts.application_view(a, now) for a in rows]}

    def prime_application(self, number: str) -> JSON:
        return accounts.get_application(self.svc, number)

    def review(self, number: str, decision: str | None, reasons: list[str] | None) -> JSON:
        """Finish a gBizID プライム review now: the drawn outcome, 承認, or 不備 with reason codes."""
        return accounts.decide(self.svc, number, decision, reasons)

    def create_member(self, key: str, body: JSON) -> JSON:
        return accounts.create_member(self.svc, key, body)

    def change_representative(self, key: str, body: JSON) -> JSON:
        return accounts.change_representative(self.svc, key, body)

    def suspend(self, key: str, reason: str) -> JSON:
        return accounts.suspend(self.svc, key, reason)

    def resume(self, key: str) -> JSON:
        return accounts.resume(self.svc, key)

    def change_sms(self, key: str, sms_number: Any) -> JSON:
        return accounts.change_sms_number(self.svc, key, sms_number)

    def register_app(self, key: str) -> JSON:
        return accounts.register_app(self.svc, key)

    def deregister_app(self, key: str) -> JSON:
        return accounts.deregister_app(self.svc, key)

    def app_code(self, key: str) -> JSON:
        """What the authenticator app shows now (virtual time), for scripts that play the phone."""
        now = self.svc.clock.now()
        with self.svc.db.session() as s:
            account = accounts.find_account(s, key)
            if not account.totp_secret:
                raise AccountError("認証アプリは登録されていません。", 409)
            try:
                code, valid_for = gbizid_op.totp_now(account.totp_secret, now, account.totp_last_step)
            except ValueError as exc:
                raise AccountError(f"{exc} (30 s)", 409) from exc
            return {"code": code, "valid_for_seconds": valid_for}

    def set_mandates(self, key: str, client_ids: list[str]) -> JSON:
        return accounts.set_mandates(self.svc, key, client_ids)

    def delegate(self, key: str, body: JSON) -> JSON:
        return accounts.delegate(self.svc, key, body)

    def revoke_delegation(self, number: str) -> None:
        accounts.revoke_delegation(self.svc, number)

    def relying_parties(self) -> JSON:
        with self.svc.db.session() as s:
            rows = s.scalars(select(GbizRelyingParty).order_by(GbizRelyingParty.client_id))
            return {"clients": [accounts.relying_party_view(rp) for rp in rows]}

    def register_relying_party(self, body: JSON) -> JSON:
        return accounts.register_relying_party(self.svc, body)


def ops_backend() -> OpsBackend:
    """The backend for the current request's app."""
    return OpsBackend(services(), ops_state())
