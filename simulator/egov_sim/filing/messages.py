"""手続に関するご案内: the catalogue's `[[messages]]` of every procedure, visible to every account
from their issue time on the virtual clock."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..catalogue import Catalogue
from ..clock import format_datetime
from .cases import FilingService
from .errors import NotFound
from .pdf import text_pdf


@dataclass(frozen=True)
class Message:
    information_id: str
    issuer: str
    issued_at: datetime
    categories: tuple[str, str, str]
    title: str
    body: str
    attachments: tuple[str, ...]


def all_messages(catalogue: Catalogue) -> list[Message]:
    found = []
    for proc in catalogue:
        for m in proc.messages:
            found.append(Message(m.information_id, m.issuer or proc.ministry_name, m.issue_date,
                                 m.categories or ("行政手続", "その他", proc.name[:400]), m.title, m.body,
                                 m.attachments))
    return found


def list_messages(f: FilingService, date_from: date, date_to: date, limit: int,
                  offset: int) -> tuple[int, list[dict[str, Any]]]:
    start = datetime.combine(date_from, datetime.min.time())
    end = datetime.combine(date_to, datetime.min.time()) + timedelta(days=1)
    found = sorted((m for m in all_messages(f.catalogue) if start <= m.issued_at < end and m.issued_at <= f.now),
                   key=lambda m: (m.issued_at, m.information_id), reverse=True)
    return len(found), [{"information_id": m.information_id, "issuer_organization": m.issuer,
                         "issue_date": format_datetime(m.issued_at), "proc_first_category": m.categories[0],
                         "proc_second_category": m.categories[1], "proc_third_category": m.categories[2],
                         "information_title": m.title} for m in found[offset:offset + limit]]


def get_message(f: FilingService, information_id: str) -> dict[str, Any]:
    m = next((m for m in all_messages(f.catalogue) if m.information_id == information_id and m.issued_at <= f.now),
             None)
    if m is None:
        raise NotFound(information_id)
    info: dict[str, Any] = {"issuer_organization": m.issuer, "issue_date": format_datetime(m.issued_at),
                            "proc_first_category": m.categories[0], "proc_second_category": m.categories[1],
                            "proc_third_category": m.categories[2], "information_title": m.title,
                            "information_data": m.body[:1024]}
    if m.attachments:
        info["attached_file_list"] = [{"file_name": name, "file_data": base64.b64encode(
            text_pdf(m.title, m.body.splitlines())).decode()} for name in m.attachments]
    return {"information": info}
