"""一括送信 (POST /bulk-apply) and its 送信結果レポート (GET /apply/report): one zip with one folder per
application; the report says, folder by folder, what arrived and what came back with errors."""

from __future__ import annotations

from typing import Any

from egov_client.models import BulkFolderResult, BulkReport
from egov_format.zipsafe import read_zip, write_zip
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .status import poll
from .submission import build_sample_package
from .withdrawal import scenario_signer


def _rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *rows = datatable
    return [dict(zip(header, row, strict=True)) for row in rows]


@given(parsers.parse("手続「{proc_id}」の申請データを次のフォルダにまとめる"))
def _bulk_package(egov_context: ScenarioContext, proc_id: str, datatable: list[list[str]]) -> None:
    """Table columns: フォルダ (folder name) and 空にする項目 (a form item left empty, or nothing)."""
    ctx = egov_context
    entries: dict[str, bytes] = {}
    folders = []
    for row in _rows(datatable):
        package = build_sample_package(ctx, proc_id)
        if row.get("空にする項目", "").strip():
            package.set_form_value(package.form_files[0], row["空にする項目"].strip(), "")
        package.sign(scenario_signer(ctx))
        for name, data in read_zip(package.to_zip(validate=False)).items():
            entries[f"{row['フォルダ']}/{name.split('/', 1)[1]}"] = data
        folders.append(row["フォルダ"])
    ctx.notes["bulk_zip"] = write_zip(entries)
    ctx.notes["bulk_folders"] = folders


@given(parsers.parse("手続「{proc_id}」の申請データをフォルダに分けずにまとめる"))
def _loose_package(egov_context: ScenarioContext, proc_id: str) -> None:
    package = build_sample_package(egov_context, proc_id).sign(scenario_signer(egov_context))
    egov_context.notes["bulk_zip"] = write_zip({name.split("/", 1)[1]: data
                                                for name, data in read_zip(package.to_zip()).items()})


@when("一括送信する")
def _bulk_send(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    data = ctx.notes["bulk_zip"]
    if ctx.recorder:
        ctx.recorder.attach("bulk.zip", data)
    ctx.notes["bulk"] = ctx.attempt(lambda: ctx.logged_in().bulk_submit(data, "bulk.zip"))


@then(parsers.parse("一括送信は受け付けられ、送信番号が払い出され、申請件数は{count:d}件である"))
def _bulk_accepted(egov_context: ScenarioContext, count: int) -> None:
    egov_context.expect_success()
    sent = egov_context.notes["bulk"]
    assert sent.send_number and sent.apply_count == count, sent


@when("送信結果レポートが出るまで照会する")
def _poll_report(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    send_number = ctx.notes["bulk"].send_number

    def ready() -> BulkReport | None:
        items = ctx.logged_in().get_report(send_number=send_number).items
        done = [r for r in items if r.arrive_count + r.error_count >= r.apply_count]
        return done[0] if done else None

    ctx.notes["report"] = poll(ctx, ready, f"the report of send number {send_number}")


def _report(ctx: ScenarioContext) -> BulkReport:
    report = ctx.notes.get("report")
    assert report is not None, "no report yet (add 「送信結果レポートが出るまで照会する」)"
    return report


def _folder(ctx: ScenarioContext, folder: str) -> BulkFolderResult:
    results = {r.folder_name: r for r in _report(ctx).results}
    assert folder in results, f"the report has no folder {folder}: {list(results)}"
    return results[folder]


@then(parsers.parse("レポートは申請{apply:d}件、到達{arrived:d}件、エラー{errors:d}件である"))
def _counts(egov_context: ScenarioContext, apply: int, arrived: int, errors: int) -> None:
    report = _report(egov_context)
    assert (report.apply_count, report.arrive_count, report.error_count) == (apply, arrived, errors), report
    assert [r.folder_name for r in report.results] == egov_context.notes["bulk_folders"], report.results


@then(parsers.parse("フォルダ「{folder}」の申請は到達し、その到達番号で照会できる"))
def _folder_arrived(egov_context: ScenarioContext, folder: str) -> None:
    result = _folder(egov_context, folder)
    assert result.arrive_id, f"{folder} did not arrive: {result.report_list}"
    app = egov_context.logged_in().get_application(result.arrive_id)
    assert app.send_number in (None, egov_context.notes["bulk"].send_number), app


@then(parsers.parse("フォルダ「{folder}」のエラー報告の項目「{item}」に「{message}」と記載されている"))
def _folder_error(egov_context: ScenarioContext, folder: str, item: str, message: str) -> None:
    result = _folder(egov_context, folder)
    assert not result.arrive_id, f"{folder} arrived as {result.arrive_id}"
    found: list[Any] = [(r.item, r.content) for r in result.report_list]
    assert (item, message) in found, f"the report of {folder} says {found}"


@then("一括送信で到達した申請はすべて送信番号で照会できる")
def _by_send_number(egov_context: ScenarioContext) -> None:
    report = _report(egov_context)
    listed = egov_context.logged_in().list_applications(send_number=egov_context.notes["bulk"].send_number)
    expected = {r.arrive_id for r in report.results if r.arrive_id}
    assert {a.arrive_id for a in listed.applications} == expected, listed.applications
