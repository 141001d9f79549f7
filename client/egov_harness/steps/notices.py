"""通知 (GET /notice/lists, /notice/{arrive_id}/{notice_sub_id}): お知らせ, 補正, 取下げ, 納付 notices."""

from __future__ import annotations

from datetime import timedelta

from egov_client.models import Notice, NoticeListItem
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext
from .cases import fetch_application, target_today


def notice_of_kind(ctx: ScenarioContext, kind: str, *, last: bool = True) -> Notice:
    """The case's (latest) notice of a kind (お知らせ, 補正, 取下げ, 納付), fetched in full."""
    app = fetch_application(ctx)
    matching = [n for n in app.notices if n.notice_data_type == kind]
    assert matching, f"the case has no 「{kind}」 notice: {[n.notice_data_type for n in app.notices]}"
    chosen = matching[-1] if last else matching[0]
    notice = ctx.logged_in().get_notice(app.arrive_id, chosen.notice_sub_id)
    ctx.notes["notice"] = notice
    return notice


def _listed(ctx: ScenarioContext) -> list[NoticeListItem]:
    today = target_today(ctx)
    start = ctx.result.arrive_date.date() if ctx.result else today - timedelta(days=7)
    page = ctx.logged_in().list_notices(date_from=start, date_to=today)
    return [n for n in page.items if n.arrive_id == ctx.last_arrive_id()]


@then("この申請案件への通知はまだない")
def _no_notice_yet(egov_context: ScenarioContext) -> None:
    app = fetch_application(egov_context)
    assert app.notice_count == 0 and not app.notices, f"notices: {[n.notice_title for n in app.notices]}"
    assert _listed(egov_context) == []


@then(parsers.parse("通知一覧にこの申請案件の「{kind}」「{title}」が載っている"))
def _in_list(egov_context: ScenarioContext, kind: str, title: str) -> None:
    listed = [(n.type, n.title) for n in _listed(egov_context)]
    assert (kind, title) in listed, f"the notice list shows {listed}"


@when(parsers.parse("「{kind}」の通知を取得する"))
def _get_notice(egov_context: ScenarioContext, kind: str) -> None:
    notice_of_kind(egov_context, kind)


@then(parsers.parse("通知の件名は「{title}」で、本文に「{text}」と書かれている"))
def _notice_text(egov_context: ScenarioContext, title: str, text: str) -> None:
    notice: Notice = egov_context.notes["notice"]
    assert notice.notice_title == title, f"the title is 「{notice.notice_title}」"
    assert text in notice.notice_sentence, f"the text is 「{notice.notice_sentence}」"


@then(parsers.parse("通知には添付ファイル「{file_name}」（PDF）が付いている"))
def _notice_attachment(egov_context: ScenarioContext, file_name: str) -> None:
    notice: Notice = egov_context.notes["notice"]
    found = {a.file_name: a.file_data for a in notice.attachments}
    assert file_name in found, f"attachments: {list(found)}"
    assert found[file_name].startswith(b"%PDF-"), f"{file_name} is not a PDF"


@then(parsers.parse("最新の「{kind}」の通知に「{text}」と書かれている"))
def _latest_notice(egov_context: ScenarioContext, kind: str, text: str) -> None:
    notice = notice_of_kind(egov_context, kind)
    assert text in notice.notice_sentence, f"the notice says 「{notice.notice_sentence}」"
