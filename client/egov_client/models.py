"""Typed results of the e-Gov API (field names as in the official OpenAPI document)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


def _dt(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S") if value else None


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


@dataclass(frozen=True)
class FormInfo:
    form_id: str
    form_version: int
    form_name: str
    apply_file_name: str
    xsl_file_name: str | None = None
    server_check_file_name: str | None = None
    schema_file_name: str | None = None
    style_indication_file: str | None = None


@dataclass(frozen=True)
class ProcedureSkeleton:
    """`GET /procedure/{proc_id}`: the skeleton zip and what it contains."""

    proc_id: str
    file_data: bytes
    configuration_file_name: list[str]
    file_info: list[FormInfo]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, proc_id: str, body: dict[str, Any]) -> ProcedureSkeleton:
        r = body["results"]
        return cls(proc_id, base64.b64decode(r["file_data"]), list(r.get("configuration_file_name") or []),
                   [FormInfo(**f) for f in r.get("file_info") or []], body)


@dataclass(frozen=True)
class PaymentInfo:
    pay_number: str
    confirm_number: str
    facility_number: str
    pay_name_kana: str | None
    total_fee: int
    pay_expired: date | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PaymentInfo:
        return cls(d["pay_number"], d["confirm_number"], d["facility_number"], d.get("pay_name_kana"),
                   int(d.get("total_fee") or 0), _d(d.get("pay_expired")))


@dataclass(frozen=True)
class ApplyResult:
    """`POST /apply` (and amend): the arrival."""

    arrive_id: str
    arrive_date: datetime
    corporation_name: str
    applicant_name: str
    apply_type: str
    proc_name: str
    ministry_name: str
    submission_destination: str
    form_names: list[str]
    attached_file_names: list[str]
    payments: list[PaymentInfo]
    links: dict[str, str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ApplyResult:
        r = body["results"]
        form = r.get("apply_form") or {}
        return cls(
            r["arrive_id"], _dt(r["arrive_date"]) or datetime.min, r.get("corporation_name", ""),
            r.get("applicant_name", ""), r.get("apply_type", ""), r.get("proc_name", ""), r.get("ministry_name", ""),
            r.get("submission_destination", ""), [f["form_name"] for f in form.get("form") or []],
            [a["attached_file_name"] for a in form.get("attached_file") or []],
            [PaymentInfo.from_json(p) for p in r.get("apply_pay_list") or []], dict(body.get("_links") or {}), body,
        )


@dataclass(frozen=True)
class NoticeSummary:
    notice_sub_id: int
    issue_date: datetime | None
    notice_data_type: str
    notice_title: str
    notice_sentence: str | None
    issuer_organization: str | None
    correct_expired_date: date | None
    correct_completed_date: datetime | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NoticeSummary:
        return cls(int(d["notice_sub_id"]), _dt(d.get("issue_date")), d.get("notice_data_type", ""),
                   d.get("notice_title", ""), d.get("notice_sentence"), d.get("issuer_organization"),
                   _d(d.get("correct_expired_date")), _dt(d.get("correct_completed_date")))


@dataclass(frozen=True)
class OfficialDocumentSummary:
    notice_sub_id: int
    allowed_date: datetime | None
    doc_title: str
    doc_download_expired_date: date | None
    doc_download_date: datetime | None
    sign: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OfficialDocumentSummary:
        return cls(int(d["notice_sub_id"]), _dt(d.get("allowed_date")), d.get("doc_title", ""),
                   _d(d.get("doc_download_expired_date")), _dt(d.get("doc_download_date")), d.get("sign"))


@dataclass(frozen=True)
class Application:
    """`GET /apply/{arrive_id}` and the items of `GET /apply/lists`."""

    arrive_id: str
    status: str
    arrive_date: datetime | None
    corporation_name: str
    applicant_name: str
    proc_name: str
    submission_destination: str
    withdraw_flag: bool
    pay_status: str
    notice_count: int
    doc_count: int
    apply_pay_count: int
    notices: list[NoticeSummary]
    official_documents: list[OfficialDocumentSummary]
    payments: list[PaymentInfo]
    applied_account: str | None = None
    send_number: str | None = None
    send_date: datetime | None = None
    no: int | None = None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, r: dict[str, Any]) -> Application:
        return cls(
            r["arrive_id"], r["status"], _dt(r.get("arrive_date")), r.get("corporation_name", ""),
            r.get("applicant_name", ""), r.get("proc_name", ""), r.get("submission_destination", ""),
            bool(r.get("withdraw_flag")), r.get("pay_status", ""), int(r.get("notice_count") or 0),
            int(r.get("doc_count") or 0), int(r.get("apply_pay_count") or 0),
            [NoticeSummary.from_json(n) for n in r.get("notice_list") or []],
            [OfficialDocumentSummary.from_json(o) for o in r.get("official_list") or []],
            [PaymentInfo.from_json(p) for p in r.get("apply_pay_list") or []],
            r.get("applied_account"), r.get("send_number"), _dt(r.get("send_date")), r.get("no"), r,
        )


@dataclass(frozen=True)
class ResultSet:
    all_count: int
    limit: int
    offset: int
    count: int


@dataclass(frozen=True)
class ApplicationPage:
    """`GET /apply/lists`: one page of applications with paging links."""

    applications: list[Application]
    resultset: ResultSet
    links: dict[str, str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ApplicationPage:
        rs = body.get("resultset") or {"all_count": 0, "limit": 1, "offset": 0, "count": 0}
        items = (body.get("results") or {}).get("apply_list") or []
        return cls([Application.from_json(a) for a in items], ResultSet(**rs), dict(body.get("_links") or {}), body)

    @property
    def has_next(self) -> bool:
        return "next" in self.links
