"""申請案件に関する通知: the notices of a caller's cases (lists by issue date, one notice)."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta
from typing import Any

from ..clock import format_datetime
from . import presentation
from .access import find_case, own_cases
from .cases import Caller, FilingService
from .errors import NotFound
from .pdf import text_pdf


def list_notices(f: FilingService, caller: Caller, date_from: date, date_to: date, limit: int,
                 offset: int) -> tuple[int, list[dict[str, Any]]]:
    start = datetime.combine(date_from, datetime.min.time())
    end = datetime.combine(date_to, datetime.min.time()) + timedelta(days=1)
    found = []
    for app in own_cases(f, caller):
        if app.arrive_at >= end:
            continue
        for n in f.view(app).state.notices:  # type: ignore[union-attr]
            if start <= n.issued_at < end:
                found.append((n.issued_at, app.id, n.sub_id, app, n))
    found.sort(key=lambda t: (t[0], t[1], t[2]), reverse=True)
    items = [{"issuer_organization": n.issuer[:256], "arrive_id": app.arrive_id, "notice_sub_id": n.sub_id,
              "notice_issue_date": format_datetime(n.issued_at), "type": n.type, "title": n.title[:256],
              "corporation_name_list": [{"corporation_name": app.corporation_name}],
              "applicant_name_list": [{"applicant_name": app.applicant_name}], "proc_name": app.proc_name,
              "notified_account": caller.username}
             for _, _, _, app, n in found[offset:offset + limit]]
    return len(found), items


def get_notice(f: FilingService, caller: Caller, arrive_id: str, sub_id: int) -> dict[str, Any]:
    app = find_case(f, caller, arrive_id)
    state = f.view(app).state
    notice = next((n for n in state.notices if n.sub_id == sub_id), None) if state else None
    if notice is None:
        raise NotFound(f"{arrive_id}/{sub_id}")
    attachments = [{"file_name": name,
                    "file_data": base64.b64encode(text_pdf(notice.title, [notice.sentence])).decode()}
                   for name in notice.attachments]
    return presentation.notice_detail(notice, proc_name=app.proc_name, corporation=app.corporation_name,
                                      applicant=app.applicant_name, account=caller.username, attachments=attachments)
