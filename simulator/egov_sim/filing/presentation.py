"""Derived case events in the spec's field names (one place for each shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import format_datetime
from .timeline import Document, Notice, Payment, Post


def notice_summary(n: Notice) -> dict[str, Any]:
    """An item of `notice_list` in 申請案件取得."""
    d: dict[str, Any] = {"notice_sub_id": n.sub_id, "issue_date": format_datetime(n.issued_at),
                         "notice_data_type": n.type, "notice_title": n.title[:256],
                         "notice_sentence": n.sentence[:512], "issuer_organization": n.issuer[:256]}
    if n.correct_expired is not None:
        d["correct_expired_date"] = n.correct_expired.isoformat()
    if n.correct_completed is not None:
        d["correct_completed_date"] = format_datetime(n.correct_completed)
    return d


def notice_detail(n: Notice, *, proc_name: str, corporation: str, applicant: str, account: str,
                  attachments: list[dict[str, str]]) -> dict[str, Any]:
    """`notice` of 申請案件に関する通知取得."""
    d: dict[str, Any] = {"issuer_organization": n.issuer[:256], "notice_issue_date": format_datetime(n.issued_at),
                         "notice_type": n.type}
    if n.type == "補正":
        d["correct_type"] = n.correct_type
        if n.correct_expired is not None:
            d["correct_expired_date"] = n.correct_expired.isoformat()
        if n.correct_completed is not None:
            d["correct_completed_date"] = format_datetime(n.correct_completed)
    d.update({"notice_title": n.title[:256], "notice_sentence": n.sentence[:512]})
    if attachments:
        d["attached_file_list"] = attachments
    d.update({"corporation_name_list": [{"corporation_name": corporation}],
              "applicant_name_list": [{"applicant_name": applicant}], "proc_name": proc_name,
              "notified_account": account})
    return d


def official_summary(doc: Document) -> dict[str, Any]:
    d: dict[str, Any] = {"notice_sub_id": doc.sub_id, "allowed_date": format_datetime(doc.allowed_at),
                         "doc_title": doc.title[:256], "doc_download_expired_date": doc.expires.isoformat()}
    if doc.downloaded_at is not None:
        d["doc_download_date"] = format_datetime(doc.downloaded_at)
    d["sign"] = "あり" if doc.signed else "なし"
    return d


def payment(p: Payment) -> dict[str, Any]:
    return {"pay_number": p.pay_number, "confirm_number": p.confirm_number, "facility_number": p.facility_number,
            "pay_name_kana": p.name_kana[:24], "total_fee": p.total_fee, "pay_expired": p.expires.isoformat()}


def payment_detail(p: Payment, now: datetime) -> dict[str, Any]:
    d = {**payment(p), "pay_status": p.status(now)}
    if p.paid_at is not None:
        d["pay_date"] = p.paid_at.date().isoformat()
    d["pay_flag"] = "1" if p.paid_at is not None else "0"
    return d


def post_document(p: Post) -> dict[str, Any]:
    d: dict[str, Any] = {"post_id": p.post_id, "notice_data_name": p.name[:256],
                         "notice_issue_date": format_datetime(p.issued_at),
                         "download_expired_date": p.expires.isoformat()}
    if p.downloaded_at is not None:
        d["download_date"] = format_datetime(p.downloaded_at)
    d["sign"] = "あり"
    return d
