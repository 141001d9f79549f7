"""電子送達: 利用申込み (post-apply), the delivered notice documents, fetching and 取得完了.

A post-apply is a submission of a procedure marked `post_apply = true` in the catalogue; its
scenario's `post` steps deliver notice documents to the account. Documents are built and signed
like official documents (documents.py). Trial mode does not apply (the document says so).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ..clock import format_datetime
from ..store.models import Application, ApplicationAction
from . import presentation
from .access import find_case
from .cases import Caller, FilingService
from .documents import DocumentContent, build_document_zip, government_signer
from .errors import NotFound, bad_request
from .sharing import owners_sharing_with
from .timeline import Post

NOT_POST_PROCEDURE = "指定された手続は電子送達の利用申込みの対象ではありません。"


def is_post_procedure(f: FilingService, proc_id: str) -> bool:
    proc = f.catalogue.get(proc_id)
    return bool(proc and proc.post_apply)


def post_case(f: FilingService, caller: Caller, arrive_id: str) -> Application:
    app = find_case(f, caller, arrive_id)
    if not is_post_procedure(f, app.proc_id):
        raise NotFound(arrive_id)
    return app


def _cases(f: FilingService, caller: Caller, need: str) -> list[Application]:
    owners = [caller.account_id, *owners_sharing_with(f, caller.account_id, "post", need)]
    q = select(Application).where(Application.account_id.in_(owners), Application.trial.is_(False),
                                  Application.arrive_at <= f.now).order_by(Application.id)
    return [a for a in f.session.scalars(q) if is_post_procedure(f, a.proc_id)]


def list_posts(f: FilingService, caller: Caller, date_from: date, date_to: date, limit: int,
               offset: int) -> tuple[int, list[dict[str, Any]]]:
    start = datetime.combine(date_from, datetime.min.time())
    end = datetime.combine(date_to, datetime.min.time()) + timedelta(days=1)
    found: list[tuple[Post, Application]] = []
    for app in _cases(f, caller, "READ"):
        state = f.view(app).state
        found += [(p, app) for p in (state.posts if state else []) if start <= p.issued_at < end]
    found.sort(key=lambda t: (t[0].issued_at, t[0].post_id), reverse=True)
    items = [{"ministry_message_id": f"{app.id:09d}{p.post_id[-3:]}", "type": p.type, "title": p.title[:256],
              "message_sentence": p.sentence[:1024], "issuer_organization": p.issuer[:256],
              "issue_date": format_datetime(p.issued_at), "received_account": caller.username,
              "notice_data_list": [presentation.post_document(p)]}
             for p, app in found[offset:offset + limit]]
    return len(found), items


def _post(f: FilingService, caller: Caller, post_id: str, need: str) -> tuple[Application, Post]:
    if len(post_id) < 19 or not post_id.isdigit():
        raise NotFound(post_id)
    owners_cases = {a.arrive_id: a for a in _cases(f, caller, need)}
    app = owners_cases.get(post_id[:-3])
    state = f.view(app).state if app else None
    post = next((p for p in state.posts if p.post_id == post_id), None) if state else None
    if app is None or post is None:
        raise NotFound(post_id)
    return app, post


def _fetchable(f: FilingService, post: Post) -> None:
    if post.downloaded_at is not None:
        raise bad_request("指定された通知文書は取得完了済みのため、取得できません。")
    if f.now.date() > post.expires:
        raise bad_request("指定された通知文書は取得期限を過ぎているため、取得できません。")


def _zip(f: FilingService, app: Application, post: Post) -> tuple[bytes, list[str]]:
    content = DocumentContent("通知文書", post.post_id, post.name, post.sentence, post.issuer, post.issued_at,
                              post.attachments)
    return build_document_zip(app, content, government_signer(f.session, f.now))


def fetch(f: FilingService, caller: Caller, post_id: str) -> tuple[str, bytes, list[str]]:
    app, post = _post(f, caller, post_id, "DOWNLOAD")
    _fetchable(f, post)
    data, names = _zip(f, app, post)
    return post.name, data, names


def complete(f: FilingService, caller: Caller, post_id: str) -> dict[str, Any]:
    app, post = _post(f, caller, post_id, "DOWNLOAD")
    if app.account_id != caller.account_id:
        raise NotFound(post_id)
    f.lock(app)  # two completions at once: one completes, the other finds it completed
    app, post = _post(f, caller, post_id, "DOWNLOAD")
    _fetchable(f, post)
    f.session.add(ApplicationAction(application_id=app.id, kind="post_complete", at=f.now,
                                    data={"post_id": post_id}))
    return {"post_id": post_id, "notice_data_name": post.name[:256], "download_date": format_datetime(f.now)}
