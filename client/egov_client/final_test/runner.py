"""The two phases of the 最終確認試験 and the items themselves, through the public client only.

`prepare` sends the cases that need e-Gov's staff (再提出 / 補正 requested, 公文書 issued), a case to
withdraw later and a 電子送達 利用申込み, and records them in `prepared.json`. `run` executes every item.
Against a simulator it controls, it moves the prepared cases itself (admin API); against a real
endpoint an item whose case has not moved yet is "waiting". An item whose precondition is missing is
never "pass": it is "waiting" (staff have not acted yet) or "fail" (with the reason).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ..api import EgovClient
from ..auth import TokenSet, login_with_form
from ..documents import as_amendment, as_resubmission, signature_file
from ..errors import EgovError
from ..evidence import EvidenceRecorder
from ..gbizid import login_egov_with_gbizid
from ..samples import Samples, load_samples, sample_pdf
from .items import Item, load_items, run_order
from .target import KitTarget

PASS, FAIL, WAITING, NOT_APPLICABLE = "pass", "fail", "waiting", "not applicable"
PROC = "950A010700005000"  # ＡＰＩテスト用手続（社会保険関係手続）
PAYMENT_PROC = "950A010002018000"  # with a 労働保険料 payment
PREPRINT_PROC, PREPRINT_FORM = "900A102800072000", "900A10280007200001"
POST_PROC = "900A013800001000"  # 電子送達 利用申込み (unsigned)
STATE_FILE = "prepared.json"
# prepared case → the scenario it follows (the simulator's; e-Gov's staff are asked for the same)
# (the case to withdraw is held open by a 補正 request: 取下げ is offered only before the review ends)
PREPARED_CASES = {"resubmit": "resubmit", "amend": "hosei_partial", "document": "default", "withdraw": "hosei_partial"}
STAFF_ASK = {"resubmit": "再提出 を依頼してください (request 再提出)", "amend": "部分補正 を依頼してください (request 補正)",
             "document": "公文書を発行してください (issue an official document)",
             "withdraw": "取下げ用: 審査を終えずに止めてください (keep it under review, e.g. with a 補正 request)", "post": "電子送達を送付してください (send a 電子送達)"}


class Waiting(Exception):
    """The precondition is not there yet (e-Gov's staff have not acted): the item is "waiting"."""


class Failed(Exception):
    """The item did not meet its pass criterion."""


def check(condition: object, reason: str) -> None:
    if not condition:
        raise Failed(reason)


@dataclass
class ItemResult:
    id: str
    name: str
    api: str
    result: str
    reason: str
    started: str
    finished: str
    http_status: str
    evidence: str


@dataclass
class _Exchanges:
    """Routes every exchange of the kit's HTTP client into the current item's evidence folder."""

    recorder: EvidenceRecorder | None = None
    statuses: list[int] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        if self.recorder is not None:
            self.recorder.record(response)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40]


class FinalTest:
    def __init__(self, target: KitTarget, out: Path, *, samples: Samples | None = None,
                 poll_seconds: float = 60.0) -> None:
        self.target = target
        self.out = Path(out)
        self.samples = samples or load_samples()
        self.poll_seconds = poll_seconds  # how long `run` waits for what arrives by itself (bulk reports)
        self.exchanges = _Exchanges()
        self.http = httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0),
                                 event_hooks={"response": [self.exchanges.record]})
        self.client: EgovClient | None = None
        self.login_tokens: TokenSet | None = None
        self.gbiz: dict[str, EgovClient] = {}
        self.notes: dict[str, Any] = {}
        self.results: dict[str, ItemResult] = {}
        self._signer: Any = None

    # -- resources -------------------------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    @property
    def signer(self) -> Any:
        if self._signer is None:
            from egov_format.signing import load_pkcs12

            self._signer = load_pkcs12(self.target.p12, self.target.p12_password)
        return self._signer

    def login(self) -> EgovClient:
        self.http.cookies.clear()
        tokens = login_with_form(self.target.endpoint, self.target.username, self.target.password, http=self.http)
        self.login_tokens = tokens
        self.client = EgovClient(self.target.endpoint, tokens, http=self.http)
        return self.client

    def session(self) -> EgovClient:
        return self.client if self.client is not None else self.login()

    def package(self, proc_id: str, *, attachment: bool = False) -> Any:
        from egov_format.package import ApplicationPackage, Skeleton

        skeleton = self.session().get_procedure(proc_id)
        package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton.file_data))
        package.set_apply_type("新規申請")
        package.set_applicant(**self.samples.applicant)
        package.set_contact(**self.samples.applicant)
        for form_id, values in self.samples.forms(proc_id).items():
            package.set_form_values(form_id, values)
        if attachment:
            package.add_attachment("tenpu.pdf", sample_pdf("tenpu"), title="添付書類")
        return package

    def signed_zip(self, package: Any, name: str) -> bytes:
        data = package.sign(self.signer).to_zip()
        self.attach(f"{name}.zip", data)
        return data

    def attach(self, name: str, data: bytes) -> None:
        if self.exchanges.recorder is not None:
            self.exchanges.recorder.attach(name, data)

    # -- phase 1 -----------------------------------------------------------------------------------------

    def state_path(self) -> Path:
        return self.out / STATE_FILE

    def load_state(self) -> dict[str, Any] | None:
        path = self.state_path()
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def prepare(self) -> dict[str, Any]:
        """Send the cases that need staff action (or time) and record them."""
        admin = self.target.admin
        cases: dict[str, str] = {}
        with self._evidence("00-0_準備"):
            client = self.session()
            for key, scenario in PREPARED_CASES.items():
                if admin is not None:
                    admin.set_scenario(scenario, account=self.target.username, proc_id=PROC, count=1)
                data = self.signed_zip(self.package(PROC), f"prepare_{key}_{PROC}")
                cases[key] = client.submit(PROC, data).arrive_id
            post = self.package(POST_PROC)
            data = post.to_zip()
            self.attach(f"prepare_post_{POST_PROC}.zip", data)
            cases["post"] = client.post_apply(POST_PROC, data).arrive_id
        state = {"target": self.target.name, "prepared_at": _now(), "cases": cases,
                 "staff": {key: f"{arrive_id}: {STAFF_ASK[key]}" for key, arrive_id in cases.items()}}
        self.out.mkdir(parents=True, exist_ok=True)
        self.state_path().write_text(json.dumps(state, ensure_ascii=False, indent=2), encoding="utf-8")
        return state

    # -- phase 2 -----------------------------------------------------------------------------------------

    def run(self, only: set[str] | None = None) -> list[ItemResult]:
        state = self.load_state()
        if state is None and self.target.controlled:
            state = self.prepare()  # the simulator needs no days in between
        self.notes["cases"] = (state or {}).get("cases", {})
        if self.target.controlled:
            self._staff_act()
        for item in run_order(load_items()):
            if only and item.id not in only:
                continue
            self.results[item.id] = self._run_item(item)
        return [self.results[i.id] for i in load_items() if i.id in self.results]

    def _staff_act(self) -> None:
        """What e-Gov's staff (and time) do between the phases, through the simulator's admin API."""
        admin = self.target.admin
        assert admin is not None
        cases = self.notes["cases"]
        admin.advance("PT6M")  # 取下げ is offered five minutes after arrival
        for key in ("resubmit", "amend", "document", "withdraw", "post"):
            if key in cases:
                for _ in range(6):  # each scenario has at most a handful of steps
                    try:
                        admin.advance_case(cases[key])
                    except EgovError:
                        break  # nothing left, or waiting for the applicant (an open 補正)

    @contextmanager
    def _evidence(self, folder: str) -> Iterator[EvidenceRecorder]:
        recorder = EvidenceRecorder(self.out / "evidence" / folder)
        self.exchanges.recorder, self.exchanges.statuses = recorder, []
        try:
            yield recorder
        finally:
            self.exchanges.recorder = None

    def _run_item(self, item: Item) -> ItemResult:
        folder = f"{item.id}_{_slug(item.name)}"
        started = _now()
        with self._evidence(folder) as recorder:
            result, reason = self._outcome(item)
            statuses = list(self.exchanges.statuses)
        if recorder.files:
            recorder.attach("result.json", json.dumps({"item": item.id, "result": result, "reason": reason},
                                                      ensure_ascii=False, indent=2).encode())
        return ItemResult(item.id, item.name, item.api, result, reason, started, _now(),
                          str(statuses[-1]) if statuses else "-",
                          f"evidence/{folder}" if recorder.files else "")

    def _outcome(self, item: Item) -> tuple[str, str]:
        for need in item.item_needs:
            earlier = self.results.get(need)
            if earlier is None or earlier.result != PASS:
                kind = WAITING if earlier is not None and earlier.result == WAITING else FAIL
                return kind, f"needs item {need} to pass first ({earlier.result if earlier else 'not run'})"
        for case in item.prepared_cases:
            if case not in self.notes["cases"]:
                return FAIL, f"no prepared {case} case: run `egov final-test prepare` first"
        if item.gbizid:
            missing = [r for r in ("owner", "grantee") if r not in self.target.gbizid]
            if missing:
                return FAIL, (f"needs two GビズID logins (missing: {', '.join(missing)}): set EGOV_GBIZID_OWNER_ID/"
                              "_PASSWORD and EGOV_GBIZID_GRANTEE_ID/_PASSWORD")
        step = ITEMS.get(item.id)
        if step is None:
            return FAIL, "the kit has no step for this item"
        try:
            reason = step(self) or item.passes_when
        except Waiting as exc:
            return WAITING, str(exc)
        except Failed as exc:
            return FAIL, str(exc)
        except Exception as exc:
            return FAIL, f"{type(exc).__name__}: {getattr(exc, 'message', '') or exc}"
        return PASS, reason

    # -- helpers of the items ---------------------------------------------------------------------------

    def case(self, key: str) -> str:
        return str(self.notes["cases"][key])

    def correction(self, key: str, kind: str) -> Any:
        app = self.session().get_application(self.case(key))
        found = [n for n in app.notices if n.notice_data_type == "補正"]
        if not found:
            raise Waiting(f"{self.case(key)}: e-Gov's staff have not requested {kind} yet (status {app.status})")
        return found[-1]

    def gbiz_login(self, role: str) -> EgovClient:
        if role not in self.gbiz:
            login = self.target.gbizid[role]
            self.http.cookies.clear()  # another person: no single sign-on from the previous login
            tokens = login_egov_with_gbizid(self.target.endpoint, login.account_id, login.password, http=self.http,
                                            one_time_code=self.target.one_time_code(role))
            self.gbiz[role] = EgovClient(self.target.endpoint, tokens, http=self.http)
        return self.gbiz[role]

    def day(self) -> date:
        """Today on the target's calendar (from an arrival of this run), else ours."""
        return self.notes.get("day") or date.today()

    def poll(self, ready: Callable[[], Any], what: str) -> Any:
        """Ask until `ready()` gives something; a controlled simulator moves its clock instead of waiting."""
        deadline = time.monotonic() + self.poll_seconds
        while True:
            found = ready()
            if found:
                return found
            if self.target.admin is not None:
                self.target.admin.advance("PT1M")
            elif time.monotonic() > deadline:
                raise Waiting(f"{what} is not there yet after {self.poll_seconds:.0f} s")
            else:
                time.sleep(1.0)


# --- the items (one function each; the docstring is e-Gov's item name) -----------------------------------

def _01_1(kit: FinalTest) -> str:
    kit.login()
    return "the login page accepted the account and the authorization code came back to the redirect URI"


def _02_1(kit: FinalTest) -> str:
    tokens = kit.session().tokens
    check(tokens and tokens.access_token and tokens.refresh_token, "no access and refresh token")
    info = kit.session().introspect()
    check(info.get("active") is True, f"the new access token is not active: {info}")
    return f"access and refresh token issued; introspection active for {info.get('username')}"


def _03_1(kit: FinalTest) -> str:
    before = kit.session().tokens
    after = kit.session().refresh()
    check(before and after.access_token != before.access_token, "the refresh returned the same access token")
    check(kit.session().introspect().get("active") is True, "the refreshed access token is not active")
    return "a new access token was issued with the refresh token and is active"


def _04_1(kit: FinalTest) -> str:
    info = kit.session().introspect()
    check(info.get("active") is True, f"introspection says {info}")
    return "active: true"


def _04_2(kit: FinalTest) -> str:
    tokens = kit.session().tokens
    assert tokens is not None
    info = kit.session().introspect(tokens.refresh_token)
    check(info.get("active") is True, f"introspection of the refresh token says {info}")
    return "active: true for the refresh token"


def _05_1(kit: FinalTest) -> str:
    skeleton = kit.session().get_procedure(PROC)
    check(skeleton.file_data and skeleton.configuration_file_name, "no skeleton in the answer")
    kit.attach(f"skeleton_{PROC}.zip", skeleton.file_data)
    return f"skeleton of {PROC}: {len(skeleton.file_data)} bytes, forms {[f.form_id for f in skeleton.file_info]}"


def _06_1(kit: FinalTest) -> str:
    from egov_format.zipsafe import read_zip

    skeleton = kit.session().get_procedure(PREPRINT_PROC)
    form_xml = read_zip(skeleton.file_data)[f"{PREPRINT_PROC}/{PREPRINT_FORM}_01.xml"]
    filled = kit.session().preprint(PREPRINT_PROC, PREPRINT_FORM, 1, form_xml, {"労働保険番号": "13101234567000"})
    check(filled and filled != form_xml, "the form came back unchanged")
    kit.attach(f"preprint_{PREPRINT_FORM}.xml", filled)
    return "the form XML came back filled with the registered data"


def _submit(kit: FinalTest, *, attachment: bool) -> Any:
    data = kit.signed_zip(kit.package(PROC, attachment=attachment), PROC)
    result = kit.session().submit(PROC, data)
    check(result.arrive_id.isdigit() and 16 <= len(result.arrive_id) <= 18, f"arrive_id {result.arrive_id!r}")
    check(result.apply_type == "新規申請", f"apply_type {result.apply_type}")
    return result


def _07_1(kit: FinalTest) -> str:
    result = _submit(kit, attachment=False)
    kit.notes["arrive_id"] = result.arrive_id
    kit.notes["day"] = result.arrive_date.date()  # the target's date (a simulator's clock may differ from ours)
    return f"arrived: {result.arrive_id} ({result.arrive_date:%Y-%m-%d %H:%M:%S})"


def _07_2(kit: FinalTest) -> str:
    result = _submit(kit, attachment=True)
    check("添付書類" in result.attached_file_names, f"attachments in the answer: {result.attached_file_names}")
    return f"arrived with its attachment: {result.arrive_id}"


def _bulk(kit: FinalTest, key: str, faulty: bool) -> Any:
    from egov_format.zipsafe import read_zip, write_zip

    entries: dict[str, bytes] = {}
    for folder in ("0001", "0002"):
        package = kit.package(PROC)
        if faulty and folder == "0002":
            package.set_form_value(package.form_files[0], "被保険者/氏名/氏", "")
        package.sign(kit.signer)
        for name, data in read_zip(package.to_zip(validate=False)).items():
            entries[f"{folder}/{name.split('/', 1)[1]}"] = data
    data = write_zip(entries)
    kit.attach(f"bulk_{key}.zip", data)
    sent = kit.session().bulk_submit(data, f"bulk_{key}.zip")
    check(sent.send_number and sent.apply_count == 2, f"bulk answer {sent}")
    kit.notes[f"bulk_{key}"] = sent.send_number

    def ready() -> Any:
        done = [r for r in kit.session().get_report(send_number=sent.send_number).items
                if r.arrive_count + r.error_count >= r.apply_count]
        return done[0] if done else None

    return sent, kit.poll(ready, f"the report of send number {sent.send_number}")


def _08_1(kit: FinalTest) -> str:
    sent, report = _bulk(kit, "ok", faulty=False)
    check((report.arrive_count, report.error_count) == (2, 0), f"report: {report.arrive_count} arrived, "
                                                                f"{report.error_count} errors")
    return f"送信番号 {sent.send_number}: 2 arrived, 0 errors"


def _08_2(kit: FinalTest) -> str:
    sent, report = _bulk(kit, "ng", faulty=True)
    check((report.arrive_count, report.error_count) == (1, 1), f"report: {report.arrive_count} arrived, "
                                                                f"{report.error_count} errors")
    bad = next(r for r in report.results if not r.arrive_id)
    check(bad.report_list, "the faulty folder has no report_list")
    return f"送信番号 {sent.send_number}: 1 arrived, 1 error ({bad.report_list[0].content})"


def _09_1(kit: FinalTest) -> str:
    original = kit.case("resubmit")
    notice = kit.correction("resubmit", "再提出")
    check(notice.notice_data_type == "補正", f"notice {notice}")
    package = as_resubmission(kit.package(PROC), original)
    result = kit.session().submit(PROC, kit.signed_zip(package, f"resubmit_{PROC}"))
    check(result.apply_type == "再提出" and result.arrive_id != original, f"answer {result}")
    return f"再提出 of {original} arrived as {result.arrive_id}"


def _10_1(kit: FinalTest) -> str:
    arrive_id = kit.case("amend")
    kit.correction("amend", "補正")
    package = as_amendment(kit.package(PROC), arrive_id)
    answer = kit.session().amend(arrive_id, kit.signed_zip(package, "hosei"))
    check(answer.arrive_id == arrive_id and answer.amend_date is not None, f"answer {answer}")
    return f"補正 of {arrive_id} accepted at {answer.amend_date}"


def _11_1(kit: FinalTest) -> str:
    from egov_format.package import build_withdrawal_package

    arrive_id = kit.case("withdraw")
    app = kit.session().get_application(arrive_id)
    if not app.withdraw_flag:
        raise Waiting(f"{arrive_id}: 取下げ is not offered yet (status {app.status})")
    package = build_withdrawal_package(target_arrive_id=arrive_id, proc_name=app.proc_name,
                                       applicant_name=kit.samples.applicant["name"], reason="誤って申請したため",
                                       request_date=kit.day())
    data = package.sign(kit.signer).to_zip()
    kit.attach("torisage.zip", data)
    answer = kit.session().withdraw(arrive_id, data)
    check(answer.arrive_id == arrive_id and answer.withdraw_date is not None, f"answer {answer}")
    return f"取下げ依頼 for {arrive_id} accepted at {answer.withdraw_date}"


def _12_1(kit: FinalTest) -> str:
    package = kit.package(PROC)
    result = kit.session().check(PROC, kit.signed_zip(package, f"check_ok_{PROC}"))
    check(result.error_count == 0 and not result.report_list, f"check reported {result.report_list}")
    return f"no problems: {result.message}"


def _12_2(kit: FinalTest) -> str:
    package = kit.package(PROC)
    package.set_form_value(package.form_files[0], "被保険者/氏名/氏", "")
    data = package.sign(kit.signer).to_zip(validate=False)
    kit.attach(f"check_ng_{PROC}.zip", data)
    result = kit.session().check(PROC, data)
    check(result.error_count >= 1 and result.report_list, "an empty required item was not reported")
    return f"{result.error_count} problem(s): {result.report_list[0].item} — {result.report_list[0].content}"


def _13_1(kit: FinalTest) -> str:
    send_number = kit.notes["bulk_ok"]
    listed = kit.session().list_applications(send_number=send_number)
    check(len(listed.applications) == 2, f"{len(listed.applications)} cases listed for {send_number}")
    return f"送信番号 {send_number}: {[a.arrive_id for a in listed.applications]}"


def _13_2(kit: FinalTest) -> str:
    today = kit.day()
    listed = kit.session().list_applications(date_from=today, date_to=today, limit=50)
    ids = {a.arrive_id for a in listed.applications}
    check(kit.notes["arrive_id"] in ids, f"{kit.notes['arrive_id']} is not among {len(ids)} cases of today")
    return f"{listed.resultset.all_count} cases today, among them {kit.notes['arrive_id']}"


def _14_1(kit: FinalTest) -> str:
    app = kit.session().get_application(kit.notes["arrive_id"])
    check(app.arrive_id == kit.notes["arrive_id"] and app.status, f"answer {app}")
    return f"{app.arrive_id}: {app.status}"


def _15_1(kit: FinalTest) -> str:
    reports = kit.session().get_report(send_number=kit.notes["bulk_ng"]).items
    errors = [r for report in reports for r in report.results if r.report_list]
    check(errors, "the report holds no folder with errors")
    return f"{errors[0].folder_name}: {errors[0].report_list[0].content}"


def _15_2(kit: FinalTest) -> str:
    today = kit.day()
    numbers = {r.send_number for r in kit.session().get_report(date_from=today, date_to=today).items}
    check({kit.notes["bulk_ok"], kit.notes["bulk_ng"]} <= numbers, f"reports of today: {sorted(numbers)}")
    return f"{len(numbers)} report(s) today, both bulk sends among them"


def _16_1(kit: FinalTest) -> str:
    today = kit.day()
    page = kit.session().list_messages(date_from=today - timedelta(days=3 * 365), date_to=today)
    check(page.items, "no ご案内 in the last three years")
    kit.notes["information_id"] = page.items[0]["information_id"]
    return f"{len(page.items)} ご案内, first {kit.notes['information_id']}"


def _17_1(kit: FinalTest) -> str:
    info = kit.session().get_message(kit.notes["information_id"])
    check(info.get("information_title"), f"answer {info}")
    return f"{kit.notes['information_id']}: {info['information_title']}"


def _18_1(kit: FinalTest) -> str:
    kit.correction("amend", "補正")
    today = kit.day()
    page = kit.session().list_notices(date_from=today - timedelta(days=31), date_to=today)
    found = [n for n in page.items if n.arrive_id == kit.case("amend") and n.type == "補正"]
    check(found, f"the 補正 notice of {kit.case('amend')} is not listed")
    kit.notes["notice"] = (found[0].arrive_id, found[0].notice_sub_id)
    return f"{len(page.items)} notices, among them the 補正 of {kit.case('amend')}"


def _18_2(kit: FinalTest) -> str:
    notice = kit.session().get_notice(*kit.notes["notice"])
    check(notice.notice_title and notice.correct_type, f"answer {notice}")
    return f"{notice.notice_title} (補正種別 {notice.correct_type})"


def _19_1(kit: FinalTest) -> str:
    from egov_format.zipsafe import read_zip

    arrive_id = kit.case("document")
    app = kit.session().get_application(arrive_id)
    if not app.official_documents:
        raise Waiting(f"{arrive_id}: e-Gov's staff have not issued the official document yet (status {app.status})")
    number = app.official_documents[0].notice_sub_id
    archive = kit.session().get_official_document(arrive_id, number)
    kit.attach(f"kobunsho_{arrive_id}.zip", archive.file_data)
    kagami = signature_file(read_zip(archive.file_data))
    kit.notes["document"] = (arrive_id, number, archive.file_data, kagami)
    return f"{arrive_id}/{number}: {archive.file_names}"


def _20_1(kit: FinalTest) -> str:
    arrive_id, number, _, _ = kit.notes["document"]
    done = kit.session().complete_official_document(arrive_id, number)
    check(done.arrive_id == arrive_id, f"answer {done}")
    return f"取得完了: {done.doc_title} ({done.download_date})"


def _21_1(kit: FinalTest) -> str:
    _, _, data, kagami = kit.notes["document"]
    result = kit.session().verify_official_document(data, kagami)
    check(result.valid, f"e-Gov says {result.official}")
    return f"{kagami}: {result.official.get('validation_result')}"


def _22_1(kit: FinalTest) -> str:
    banks = kit.session().list_banks()["bank_list"]
    groups = [g for kind in banks.values() for g in (kind if isinstance(kind, list) else [kind])]
    names = [b["financial_name"] for group in groups for b in group.get("bank", [])]
    check(names, "no bank in the list")
    kit.notes["bank"] = names[0]
    return f"{len(names)} banks, e.g. {names[0]}"


def _23_1(kit: FinalTest) -> str:
    data = kit.signed_zip(kit.package(PAYMENT_PROC), PAYMENT_PROC)
    arrive_id = kit.session().submit(PAYMENT_PROC, data).arrive_id
    details = kit.session().get_payment(arrive_id)
    check(details.payments, f"{arrive_id} has no payment")
    pay = details.payments[0].info
    check(len(pay.pay_number) == 16 and pay.confirm_number and pay.facility_number, f"payment {pay}")
    kit.notes["payment"] = (arrive_id, pay.pay_number)
    return f"{arrive_id}: 納付番号 {pay.pay_number}, {pay.total_fee} 円 ({details.payments[0].pay_status})"


def _24_1(kit: FinalTest) -> str:
    arrive_id, pay_number = kit.notes["payment"]
    site = kit.session().payment_site(arrive_id, pay_number, kit.notes["bank"], PAYMENT_PROC)
    check(site.url.startswith("https://"), f"site URL {site.url}")
    check(pay_number in site.information_link_data.decode("shift_jis", "replace"), "the link data lacks the 納付番号")
    return f"{kit.notes['bank']}: {site.url}"


def _25_1(kit: FinalTest) -> str:
    client = kit.session()
    kit.notes["token_before_logout"] = client.tokens.access_token if client.tokens else ""
    client.logout()
    return "logged out"


def _26_1(kit: FinalTest) -> str:
    old = kit.notes["token_before_logout"]
    client = kit.login()  # introspection needs the software's credentials only; a new session does the rest
    info = client.auth.introspect(old)
    check(info.get("active") is False, f"the old access token is still active: {info}")
    return "active: false for the access token used before the logout"


def _27_1(kit: FinalTest) -> str:
    data = kit.package(POST_PROC).to_zip()
    kit.attach(f"post_apply_{POST_PROC}.zip", data)
    result = kit.session().post_apply(POST_PROC, data)
    check(result.arrive_id, f"answer {result}")
    return f"利用申込み arrived: {result.arrive_id}"


def _28_1(kit: FinalTest) -> str:
    app = kit.session().get_post_apply(kit.case("post"))
    check(app.arrive_id == kit.case("post") and app.status, f"answer {app}")
    return f"{app.arrive_id}: {app.status}"


def _29_1(kit: FinalTest) -> str:
    today = kit.day()
    page = kit.session().list_posts(date_from=today - timedelta(days=31), date_to=today)
    ids = [n["post_id"] for item in page.items for n in item.get("notice_data_list", []) if n.get("post_id")]
    if not ids:
        raise Waiting("no 電子送達 has arrived yet for the prepared 利用申込み")
    kit.notes["post_id"] = ids[0]
    return f"{len(ids)} 電子送達, first {ids[0]}"


def _30_1(kit: FinalTest) -> str:
    archive = kit.session().get_post(kit.notes["post_id"])
    check(archive.file_names, "the 電子送達 has no files")
    kit.attach(f"post_{kit.notes['post_id']}.zip", archive.file_data)
    return f"{kit.notes['post_id']}: {archive.file_names}"


def _31_1(kit: FinalTest) -> str:
    kit.session().complete_post(kit.notes["post_id"])
    return f"取得完了: {kit.notes['post_id']}"


def _32_1(kit: FinalTest) -> str:
    grantee = kit.target.gbizid["grantee"].account_id
    kit.gbiz_login("grantee")  # the second account has logged in to e-Gov once
    share = kit.gbiz_login("owner").create_share_setting(grantee, "READ", "READ")
    check(share.gbiz_id == grantee, f"answer {share}")
    return f"share asked of {grantee}: {share.official_doc_permission}/{share.post_doc_permission}"


def _33_1(kit: FinalTest) -> str:
    grantee = kit.target.gbizid["grantee"].account_id
    share = kit.gbiz_login("owner").update_share_setting(grantee, "DOWNLOAD", "READ")
    check(share.official_doc_permission == "DOWNLOAD", f"answer {share}")
    return f"share with {grantee}: {share.official_doc_permission}/{share.post_doc_permission}"


def _35_1(kit: FinalTest) -> str:
    owner = kit.target.gbizid["owner"].account_id
    share = kit.gbiz_login("grantee").confirm_share(owner)
    check(share.share_acceptance in (None, "ACCEPT") and share.gbiz_id == owner, f"answer {share}")
    return f"accepted the share of {owner}"


def _36_1(kit: FinalTest) -> str:
    grantee = kit.target.gbizid["grantee"].account_id
    share = kit.gbiz_login("owner").get_share_setting()
    check(share.gbiz_id == grantee, f"the list holds {share}")
    return f"the list holds {grantee} ({share.official_doc_permission}/{share.post_doc_permission})"


def _34_1(kit: FinalTest) -> str:
    grantee = kit.target.gbizid["grantee"].account_id
    owner = kit.gbiz_login("owner")
    owner.delete_share_setting(grantee)
    try:
        left = owner.get_share_setting()
    except EgovError:
        return f"share with {grantee} ended; the list is empty"
    check(left.gbiz_id != grantee, f"the share is still listed: {left}")
    return f"share with {grantee} ended"


ITEMS: dict[str, Callable[[FinalTest], str | None]] = {
    name[1:].replace("_", "-"): function for name, function in dict(globals()).items()
    if name.startswith("_") and name[1:3].isdigit() and callable(function)}


def summary(results: list[ItemResult]) -> dict[str, int]:
    counts = {PASS: 0, FAIL: 0, WAITING: 0, NOT_APPLICABLE: 0}
    for r in results:
        counts[r.result] = counts.get(r.result, 0) + 1
    return counts


def as_rows(results: list[ItemResult]) -> list[dict[str, str]]:
    return [asdict(r) for r in results]
