"""A case at an instant: status, notices, official documents, payments and 電子送達 — derived.

Inputs are the timeline stored at arrival (the scenario's steps as absolute virtual times), the
actions recorded since (withdraw, amend, resubmit, complete, pay, post_complete) and "now". Nothing
is pushed by a worker, so every server process computes the same answer, and numbering is stable:
notice_sub_id counts the visible notices and documents in the order they appeared.

Each stored entry is read as a typed step (catalogue/steps.py: status, notice, document, payment,
post, with their defaults). A 補正 notice with correct_type 部分補正 (or 再提出) pauses the steps after it
until the amendment (or the resubmission) arrives; those steps then run relative to that moment.
The scenario's options (ScenarioOptions) say how a 取下げ依頼 is answered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..catalogue.steps import NoticeStep, ScenarioOptions, TimelineStep
from ..store.models import Application, ApplicationAction

WITHDRAWABLE_AFTER = timedelta(minutes=5)  # seed 000: not offered right after sending
WITHDRAWABLE_STATUSES = frozenset({"到達", "審査中", "審査中（補正待ち）"})
WITHDRAWN = "手続終了(取下げ済み)"  # as seed 000 shows it
COMPLETED = "手続完了"
NO_PAYMENT = "なし"
PAY_WAITING, PAY_DONE, PAY_EXPIRED = "納付待ち", "納付済み", "納付期限切れ"
GATES = {"部分補正": "amend", "再提出": "resubmit"}  # correct_type -> the action that resolves it


def entry_time(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["at"])  # "YYYY-MM-DD HH:MM:SS" as format_datetime writes it (C-fast)


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[-n:].rjust(n, "0")


@dataclass
class Notice:
    sub_id: int
    step: int  # index in the timeline (-1: made by the withdrawal)
    issued_at: datetime
    type: str
    title: str
    sentence: str
    issuer: str
    correct_type: str | None = None
    correct_expired: date | None = None
    correct_completed: datetime | None = None
    attachments: list[str] = field(default_factory=list)

    @property
    def gate(self) -> str | None:
        return GATES.get(self.correct_type or "") if self.type == "補正" else None


@dataclass
class Document:
    sub_id: int
    step: int
    allowed_at: datetime
    title: str
    sentence: str
    issuer: str
    expires: date
    signed: bool
    attachments: list[dict[str, str]]
    downloaded_at: datetime | None = None


@dataclass
class Payment:
    step: int
    issued_at: datetime
    pay_number: str
    confirm_number: str
    facility_number: str
    name_kana: str
    total_fee: int
    expires: date
    paid_at: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.paid_at is not None:
            return PAY_DONE
        return PAY_EXPIRED if now.date() > self.expires else PAY_WAITING


@dataclass
class Post:
    post_id: str
    step: int
    issued_at: datetime
    type: str
    title: str
    sentence: str
    name: str
    issuer: str
    expires: date
    attachments: list[dict[str, str]]
    downloaded_at: datetime | None = None


@dataclass
class CaseState:
    status: str
    withdraw_flag: bool
    notices: list[Notice] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    open_gate: Notice | None = None  # the 補正 notice waiting for an amendment / resubmission
    withdrawal: str | None = None  # None | pending | accepted | refused
    pay_status: str = NO_PAYMENT
    status_at: datetime | None = None  # when the status last changed (arrival, a step, completion, withdrawal)


@dataclass
class _Event:
    at: datetime
    order: int
    step: int
    entry: TimelineStep


def visible_events(app: Application, actions: list[ApplicationAction], now: datetime,
                    cut_after: datetime | None) -> tuple[list[_Event], int | None, timedelta]:
    """Timeline entries at or before now, shifted past resolved gates; the step of an open gate; the
    shift that applies to the next pending entry."""
    resolved = {a.data.get("step"): a.at for a in actions if a.kind in ("amend", "resubmit")}
    events, shift = [], timedelta(0)
    for index, entry in enumerate(app.timeline):
        at = entry_time(entry) + shift
        if at > now or (cut_after is not None and at > cut_after):
            break
        step = TimelineStep.stored(entry)
        events.append(_Event(at, len(events), index, step))
        if step.notice is not None and step.notice.type == "補正" and GATES.get(step.notice.correct_type or ""):
            answered = resolved.get(index)
            if answered is None:
                return events, index, shift
            shift = answered - entry_time(entry)
    return events, None, shift


def derive(app: Application, actions: list[ApplicationAction], now: datetime,
           options: ScenarioOptions | None = None, *, issuer: str = "") -> CaseState:
    options = options or ScenarioOptions()
    actions = [a for a in actions if a.at <= now]
    withdraw = next((a for a in actions if a.kind == "withdraw"), None)
    accept = options.accepts_withdrawal
    decided_at = withdraw.at + options.withdrawal_after if withdraw else None
    events, open_step, _shift = visible_events(app, actions, now, withdraw.at if withdraw and accept else None)
    if withdraw is not None and decided_at is not None and decided_at <= now:
        sentence = ("取下げ依頼を受理しました。本申請は取り下げられました。" if accept else
                    options.withdrawal_refusal_reason)
        title = "取下げ依頼の受理について" if accept else "取下げ依頼について"
        events.append(_Event(decided_at, len(events), -1,
                             TimelineStep(notice=NoticeStep(type="取下げ", title=title, sentence=sentence))))
    events.sort(key=lambda e: (e.at, e.order))

    by_kind: dict[str, list[ApplicationAction]] = {}
    for a in actions:
        by_kind.setdefault(a.kind, []).append(a)
    completed = {a.data.get("notice_sub_id"): a.at for a in by_kind.get("complete", [])}
    amended = {a.data.get("step"): a.at for a in by_kind.get("amend", []) + by_kind.get("resubmit", [])}
    paid = {a.data.get("pay_number"): a.at for a in by_kind.get("pay", [])}
    posts_done = {a.data.get("post_id"): a.at for a in by_kind.get("post_complete", [])}

    state = CaseState(status="到達", withdraw_flag=False, status_at=app.arrive_at)
    sub_id = 0
    for ev in events:
        e = ev.entry
        if e.status is not None:
            if e.status != state.status:
                state.status_at = ev.at
            state.status = e.status
        if (n := e.notice) is not None:
            sub_id += 1
            notice = Notice(sub_id, ev.step, ev.at, n.type, n.title, n.sentence or n.title, n.issuer or issuer,
                            attachments=list(n.attachments))
            if notice.type == "補正":
                notice.correct_type = n.correct_type or "部分補正"
                notice.correct_expired = (ev.at + timedelta(days=n.correct_days)).date()
                notice.correct_completed = amended.get(ev.step)
            state.notices.append(notice)
            if ev.step == open_step:
                state.open_gate = notice
        if (d := e.document) is not None:
            sub_id += 1
            state.documents.append(Document(
                sub_id, ev.step, ev.at, d.title or f"公文書({sub_id:03d})", d.sentence, d.issuer or issuer,
                (ev.at + timedelta(days=d.download_days)).date(), d.sign, [dict(a) for a in d.attachments],
                completed.get(sub_id)))
        if (p := e.payment) is not None:
            seed = f"{app.arrive_id}:{ev.step}"
            pay = Payment(ev.step, ev.at, _digits("pay" + seed, 16), _digits("confirm" + seed, 6),
                          str(p.facility_number), p.name_kana, p.fee, (ev.at + timedelta(days=p.pay_days)).date())
            pay.paid_at = paid.get(pay.pay_number)
            state.payments.append(pay)
            if p.notice:
                sub_id += 1
                state.notices.append(Notice(
                    sub_id, ev.step, ev.at, "納付", "納付のお知らせ",
                    f"手数料{pay.total_fee:,}円の納付をお願いします。納付番号{pay.pay_number}、確認番号"
                    f"{pay.confirm_number}、収納機関番号{pay.facility_number}、払込期限{pay.expires:%Y-%m-%d}。",
                    issuer))
        if (post := e.post) is not None:
            post_id = f"{app.arrive_id}{len(state.posts) + 1:03d}"
            state.posts.append(Post(
                post_id, ev.step, ev.at, post.type, post.title, post.sentence, post.name or post.title,
                post.issuer or issuer, (ev.at + timedelta(days=post.download_days)).date(),
                [dict(a) for a in post.attachments], posts_done.get(post_id)))

    if state.documents and all(d.downloaded_at is not None for d in state.documents):
        state.status = COMPLETED
        state.status_at = max(d.downloaded_at for d in state.documents if d.downloaded_at is not None)
    if withdraw is not None:
        if decided_at is not None and decided_at <= now:
            state.withdrawal = "accepted" if accept else "refused"
            if accept:
                state.status, state.status_at = WITHDRAWN, decided_at
        else:
            state.withdrawal = "pending"
            state.status, state.status_at = options.withdrawal_processing_status, withdraw.at
    state.withdraw_flag = (state.status in WITHDRAWABLE_STATUSES and now - app.arrive_at >= WITHDRAWABLE_AFTER
                           and state.withdrawal is None)  # one 取下げ依頼 per case
    if state.payments:
        statuses = {p.status(now) for p in state.payments}
        state.pay_status = next(s for s in (PAY_WAITING, PAY_EXPIRED, PAY_DONE) if s in statuses)
    return state
