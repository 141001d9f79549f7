"""公文書取得, 公文書取得完了 and 公文書署名検証要求."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from . import parse
from .render import api_url, ok
from .unit_of_work import backend

bp = Blueprint("official_document", __name__)


@bp.get("/official_document/<arrive_id>/<notice_sub_id>")
def get_official_document(arrive_id: str, notice_sub_id: str) -> Any:
    arrive_id, sub_id = parse.arrive_id(arrive_id), parse.notice_sub_id(notice_sub_id)
    with backend() as b:
        results = b.get_official_document(g.caller, arrive_id, sub_id)
    return ok("公文書取得", results, links={"self": request.url, "complete": api_url("/official_document")})


@bp.post("/official_document")
def complete_official_document() -> Any:
    body = parse.json_body()
    arrive_id, sub_id = parse.arrive_id(body.get("arrive_id")), parse.notice_sub_id(body.get("notice_sub_id"))
    with backend() as b:
        return ok("公文書取得完了", b.complete_official_document(g.caller, arrive_id, sub_id))


@bp.post("/official_document/verify")
def verify_official_document() -> Any:
    body = parse.json_body()
    parse.string(body, "file_name", 1, 256)
    xml_name = parse.string(body, "sig_verification_xml_file_name", 1, 256)
    raw = parse.file_data(body.get("file_data"))
    with backend() as b:
        return ok("公文書署名検証要求", b.verify_official_document(raw, xml_name))
