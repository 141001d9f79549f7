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


# ---------------------------------------------------------------------------- the rest of the API (issue 3)

def _results(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("results") or {})


@dataclass(frozen=True)
class ReportItem:
    content: str
    form_name: str = "-"
    attached_file_name: str = "-"
    file_name: str = "-"
    item: str = "-"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReportItem:
        return cls(d.get("content", ""), d.get("form_name", "-"), d.get("attached_file_name", "-"),
                   d.get("file_name", "-"), d.get("item", "-"))


@dataclass(frozen=True)
class CheckResult:
    """`POST /apply/check`: problems come back as 200 with error_count and report_list."""

    message: str
    error_count: int
    report_list: list[ReportItem]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CheckResult:
        r = _results(body)
        return cls(r.get("message", ""), int(r.get("error_count") or 0),
                   [ReportItem.from_json(i) for i in r.get("report_list") or []], body)

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass(frozen=True)
class AmendResult:
    arrive_id: str
    amend_date: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AmendResult:
        r = _results(body)
        return cls(r["arrive_id"], _dt(r.get("amend_date")))


@dataclass(frozen=True)
class WithdrawResult:
    arrive_id: str
    withdraw_date: datetime | None
    applicant_name: str
    proc_name: str
    ministry_name: str
    corporation_name: str | None = None
    submission_destination: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> WithdrawResult:
        r = _results(body)
        return cls(r["arrive_id"], _dt(r.get("withdraw_date")), r.get("applicant_name", ""), r.get("proc_name", ""),
                   r.get("ministry_name", ""), r.get("corporation_name"), r.get("submission_destination"))


@dataclass(frozen=True)
class BulkResult:
    """`POST /bulk-apply` (202): ingestion happens later; follow links["list"] / links["report"]."""

    send_number: str
    send_date: datetime | None
    file_name: str
    apply_count: int
    links: dict[str, str]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> BulkResult:
        r = _results(body)
        return cls(r["send_number"], _dt(r.get("send_date")), r.get("file_name", ""), int(r.get("apply_count") or 0),
                   dict(body.get("_links") or {}))


@dataclass(frozen=True)
class BulkFolderResult:
    folder_name: str
    proc_name: str | None
    arrive_id: str | None
    arrive_date: datetime | None
    report_list: list[ReportItem]

    @property
    def arrived(self) -> bool:
        return bool(self.arrive_id) and self.arrive_id != "-"


@dataclass(frozen=True)
class BulkReport:
    send_number: str
    send_date: datetime | None
    file_name: str
    apply_count: int
    arrive_count: int
    error_count: int
    results: list[BulkFolderResult]

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BulkReport:
        folders = [BulkFolderResult(r.get("folder_name", ""), r.get("proc_name"), r.get("arrive_id"),
                                    _dt(r.get("arrive_date")) if r.get("arrive_date", "-") != "-" else None,
                                    [ReportItem.from_json(i) for i in r.get("report_list") or []])
                   for r in d.get("result") or []]
        return cls(d["send_number"], _dt(d.get("send_date")), d.get("file_name", ""), int(d.get("apply_count") or 0),
                   int(d.get("arrive_count") or 0), int(d.get("error_count") or 0), folders)


@dataclass(frozen=True)
class Page:
    """A list answer (notices, posts, messages, bulk reports): items, resultset, paging links."""

    items: list[Any]
    resultset: ResultSet
    links: dict[str, str]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any], key: str, item: Any = None) -> Page:
        rs = body.get("resultset") or {"all_count": 0, "limit": 1, "offset": 0, "count": 0}
        items = _results(body).get(key) or []
        return cls([item(i) if item else i for i in items], ResultSet(**rs), dict(body.get("_links") or {}), body)

    @property
    def has_next(self) -> bool:
        return "next" in self.links


@dataclass(frozen=True)
class NoticeListItem:
    arrive_id: str
    notice_sub_id: int
    notice_issue_date: datetime | None
    type: str
    title: str
    issuer_organization: str
    proc_name: str
    notified_account: str | None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> NoticeListItem:
        return cls(d["arrive_id"], int(d["notice_sub_id"]), _dt(d.get("notice_issue_date")), d.get("type", ""),
                   d.get("title", ""), d.get("issuer_organization", ""), d.get("proc_name", ""),
                   d.get("notified_account"))


@dataclass(frozen=True)
class Attachment:
    file_name: str
    file_data: bytes


@dataclass(frozen=True)
class Notice:
    """`GET /notice/{arrive_id}/{notice_sub_id}`."""

    issuer_organization: str
    notice_issue_date: datetime | None
    notice_type: str
    notice_title: str
    notice_sentence: str
    proc_name: str
    correct_type: str | None = None
    correct_expired_date: date | None = None
    correct_completed_date: datetime | None = None
    attachments: list[Attachment] = field(default_factory=list)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Notice:
        n = _results(body)["notice"]
        return cls(n["issuer_organization"], _dt(n.get("notice_issue_date")), n.get("notice_type", ""),
                   n.get("notice_title", ""), n.get("notice_sentence", ""), n.get("proc_name", ""),
                   n.get("correct_type"), _d(n.get("correct_expired_date")), _dt(n.get("correct_completed_date")),
                   [Attachment(a["file_name"], base64.b64decode(a["file_data"])) for a in n.get("attached_file_list")
                    or []], body)


@dataclass(frozen=True)
class DocumentArchive:
    """`GET /official_document/...` and `GET /post/{post_id}`: the zip and the names in it."""

    file_data: bytes
    file_names: list[str]
    links: dict[str, str]
    name: str | None = None  # notice_data_name (電子送達)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DocumentArchive:
        r = _results(body)
        return cls(base64.b64decode(r["file_data"]), [f["file_name"] for f in r.get("file_name_list") or []],
                   dict(body.get("_links") or {}), r.get("notice_data_name"))


@dataclass(frozen=True)
class DocumentCompletion:
    """`POST /official_document` (取得完了): afterwards the document can no longer be fetched."""

    arrive_id: str
    notice_sub_id: int
    proc_name: str
    doc_title: str
    download_date: datetime | None
    file_names: list[str]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> DocumentCompletion:
        r = _results(body)
        return cls(r["arrive_id"], int(r["notice_sub_id"]), r.get("proc_name", ""), r.get("doc_title", ""),
                   _dt(r.get("download_date")), [f["file_name"] for f in r.get("file_name_list") or []])


@dataclass(frozen=True)
class VerifyResult:
    """`POST /official_document/verify`: the 官職 signature and certificate checks."""

    sig_verification_xml_file_name: str
    attached_file_name: str | None
    official: dict[str, Any]
    government: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> VerifyResult:
        r = _results(body)
        first = (r.get("verify_result") or [{}])[0]
        return cls(r.get("sig_verification_xml_file_name", ""), r.get("attached_file_name"),
                   dict(first.get("official") or {}), list(first.get("government") or []), body)

    @property
    def valid(self) -> bool:
        return self.official.get("validation_result") == "検証成功" and self.official.get("certificate_result") == "有効"


@dataclass(frozen=True)
class PaymentStatus:
    info: PaymentInfo
    pay_status: str
    pay_date: date | None
    pay_flag: str | None


@dataclass(frozen=True)
class PaymentDetails:
    """`GET /payment/{arrive_id}`."""

    arrive_id: str
    proc_name: str
    payments: list[PaymentStatus]

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PaymentDetails:
        r = _results(body)
        return cls(r["arrive_id"], r.get("proc_name", ""),
                   [PaymentStatus(PaymentInfo.from_json(p), p.get("pay_status", ""), _d(p.get("pay_date")),
                                  p.get("pay_flag")) for p in r.get("apply_pay_list") or []])


@dataclass(frozen=True)
class PaymentSite:
    """`POST /payment`: POST skno, bptn and {parameter_tag_name}=decoded link data to URL."""

    url: str
    facility_number: str
    treasury_money_code: str
    parameter_tag_name: str
    information_link_data: bytes

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PaymentSite:
        r = _results(body)
        return cls(r["URL"], r["facility_number"], r["treasury_money_code"], r["parameter_tag_name"],
                   base64.b64decode(r["information_link_data"]))

    def form_fields(self) -> dict[str, bytes | str]:
        return {"skno": self.facility_number, "bptn": self.treasury_money_code,
                self.parameter_tag_name: self.information_link_data}


@dataclass(frozen=True)
class ShareSetting:
    """share-setting and share-confirmation results (permissions READ | DOWNLOAD; ACCEPT | DENY)."""

    gbiz_id: str
    official_doc_permission: str | None = None
    post_doc_permission: str | None = None
    share_acceptance: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any], key: str | None = None) -> ShareSetting:
        r = _results(body)
        r = r.get(key, r) if key else r
        return cls(r["gbiz_id"], r.get("official_doc_permission"), r.get("post_doc_permission"),
                   r.get("share_acceptance"))
