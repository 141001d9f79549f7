"""公文書取得 / 公文書取得完了: fetching a case's official documents and recording 取得完了."""

from __future__ import annotations

from typing import Any

from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from .access import find_case
from .cases import Caller, FilingService
from .documents import DocumentContent, build_document_zip, government_signer
from .errors import NotFound, bad_request
from .timeline import Document

COMPLETED_ALREADY = "指定された公文書は取得完了済みのため、取得できません。"
EXPIRED = "指定された公文書は取得期限を過ぎているため、取得できません。"


def _document(f: FilingService, app: Application, sub_id: int) -> Document:
    state = f.view(app).state
    doc = next((d for d in state.documents if d.sub_id == sub_id), None) if state else None
    if doc is None:
        raise NotFound(f"{app.arrive_id}/{sub_id}")
    return doc


def _fetchable(f: FilingService, doc: Document) -> None:
    if doc.downloaded_at is not None:
        raise bad_request(COMPLETED_ALREADY)
    if f.now.date() > doc.expires:
        raise bad_request(EXPIRED)


def document_zip(f: FilingService, app: Application, doc: Document) -> tuple[bytes, list[str]]:
    content = DocumentContent("公文書", str(doc.sub_id), doc.title, doc.sentence, doc.issuer, doc.allowed_at,
                              doc.attachments)
    return build_document_zip(app, content, government_signer(f.session, f.now) if doc.signed else None)


def fetch(f: FilingService, caller: Caller, arrive_id: str, sub_id: int) -> tuple[bytes, list[str]]:
    """The document zip, for the owner or an account it shared DOWNLOAD with."""
    app = find_case(f, caller, arrive_id, kind="official", need="DOWNLOAD")
    doc = _document(f, app, sub_id)
    _fetchable(f, doc)
    return document_zip(f, app, doc)


def complete(f: FilingService, caller: Caller, arrive_id: str, sub_id: int) -> dict[str, Any]:
    """取得完了: afterwards the document cannot be fetched; all completed → 手続完了."""
    app = find_case(f, caller, arrive_id)
    doc = _document(f, app, sub_id)
    _fetchable(f, doc)
    _zip, names = document_zip(f, app, doc)  # (signed: built before the case is locked)
    f.lock(app)  # two 取得完了 at once: one completes, the other finds the document completed
    _fetchable(f, _document(f, app, sub_id))
    f.session.add(ApplicationAction(application_id=app.id, kind="complete", at=f.now, data={"notice_sub_id": sub_id}))
    return {"arrive_id": app.arrive_id, "notice_sub_id": sub_id, "proc_name": app.proc_name,
            "doc_title": doc.title[:256], "download_date": format_datetime(f.now),
            "file_name_list": [{"file_name": n} for n in names]}
