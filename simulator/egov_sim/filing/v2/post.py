"""電子送達: 利用申込み and its status, the delivered documents, fetching and 取得完了."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from . import parse
from .apply import SCENARIO_HEADER
from .render import api_url, ok, page
from .unit_of_work import backend

bp = Blueprint("post", __name__)


@bp.post("/post-apply")
def post_apply() -> Any:
    proc_id, file_name, raw = parse.submission()
    with backend() as b:
        results = b.post_apply(g.caller, proc_id, file_name, raw, scenario=request.headers.get(SCENARIO_HEADER))
    links = {"self": api_url("/post-apply"), "status": api_url(f"/post-apply/{results['arrive_id']}")}
    return ok("電子送達利用申込み", results, links=links)


@bp.get("/post-apply/<arrive_id>")
def get_post_apply(arrive_id: str) -> Any:
    arrive_id = parse.arrive_id(arrive_id)
    with backend() as b:
        return ok("電子送達状況確認", b.get_post_apply(g.caller, arrive_id))


@bp.get("/post/lists")
def list_posts() -> Any:
    period = parse.period()
    with backend() as b:
        return page("電子送達一覧取得", "post_list", b.list_posts(g.caller, period), period)


@bp.get("/post/<post_id>")
def get_post(post_id: str) -> Any:
    post_id = parse.post_id(post_id)
    with backend() as b:
        results = b.get_post(g.caller, post_id)
    return ok("電子送達取得", results, links={"self": request.url, "complete": api_url("/post")})


@bp.post("/post")
def complete_post() -> Any:
    post_id = parse.post_id(parse.string(parse.json_body(), "post_id", 1, 50))
    with backend() as b:
        return ok("電子送達取得完了", b.complete_post(g.caller, post_id))
