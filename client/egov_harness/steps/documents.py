"""公文書 (official documents): fetch, verify the 官職 signature, complete the download, the deadline."""

from __future__ import annotations

from datetime import timedelta

from egov_client.documents import signature_file
from egov_client.errors import ApiError
from egov_client.models import DocumentArchive
from egov_format.zipsafe import read_zip, write_zip
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext
from .cases import fetch_application
from .status import poll


def _document_number(ctx: ScenarioContext) -> int:
    if "document_sub_id" not in ctx.notes:
        app = fetch_application(ctx)
        assert app.official_documents, f"the case (status 「{app.status}」) has no official document yet"
        ctx.notes["document_sub_id"] = app.official_documents[0].notice_sub_id
    return int(ctx.notes["document_sub_id"])


def _archive(ctx: ScenarioContext) -> DocumentArchive:
    archive = ctx.notes.get("document")
    assert archive is not None, "no official document was fetched (add 「公文書を取得する」)"
    return archive


@when("公文書を取得する")
def _fetch(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    number = _document_number(ctx)
    archive = ctx.attempt(lambda: ctx.logged_in().get_official_document(ctx.last_arrive_id(), number))
    if archive is not None:
        ctx.notes["document"] = archive
        if ctx.recorder:
            ctx.recorder.attach(f"kobunsho_{ctx.last_arrive_id()}_{number}.zip", archive.file_data)


@then("公文書のZIPには署名付きの鑑と、一覧に書かれたファイルがすべて含まれている")
def _contents(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    archive = _archive(egov_context)
    files = read_zip(archive.file_data)
    assert sorted(files) == sorted(archive.file_names), (sorted(files), archive.file_names)
    assert signature_file(files), "no signed XML (鑑) in the document"


@then(parsers.parse("公文書の取得期限は発行日の{days:d}日後である"))
def _deadline(egov_context: ScenarioContext, days: int) -> None:
    app = fetch_application(egov_context)
    doc = next(d for d in app.official_documents if d.notice_sub_id == _document_number(egov_context))
    assert doc.allowed_date is not None and doc.doc_download_expired_date is not None, doc
    assert doc.doc_download_expired_date == doc.allowed_date.date() + timedelta(days=days), doc


@then("公文書の署名をe-Govで検証すると有効である")
def _verified(egov_context: ScenarioContext) -> None:
    archive = _archive(egov_context)
    result = egov_context.logged_in().verify_official_document(archive.file_data,
                                                               signature_file(read_zip(archive.file_data)))
    assert result.valid, f"verification: {result.official}"


@then("公文書の添付ファイルを書き換えると、e-Govの検証で無効になる")
def _tampered(egov_context: ScenarioContext) -> None:
    files = read_zip(_archive(egov_context).file_data)
    kagami = signature_file(files)
    others = [name for name in files if name != kagami]
    assert others, "the document has no file besides the 鑑 to tamper with"
    files[others[0]] = files[others[0]] + b"\n% tampered\n"
    result = egov_context.logged_in().verify_official_document(write_zip(files), kagami)
    assert not result.valid, f"a tampered document verified: {result.official}"
    assert str(result.official.get("validation_result", "")).startswith("検証失敗"), result.official


@when("公文書の取得を完了する")
def _complete(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    number = _document_number(ctx)
    ctx.notes["completion"] = ctx.attempt(lambda: ctx.logged_in().complete_official_document(ctx.last_arrive_id(),
                                                                                               number))


@then("公文書の取得日が記録されている")
def _download_date(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    app = fetch_application(egov_context)
    doc = next(d for d in app.official_documents if d.notice_sub_id == _document_number(egov_context))
    assert doc.doc_download_date is not None, doc


@then("公文書はもう取得できない")
def _gone(egov_context: ScenarioContext) -> None:
    ctx = egov_context
    try:
        ctx.logged_in().get_official_document(ctx.last_arrive_id(), _document_number(ctx))
    except ApiError as exc:
        assert exc.status == 400, exc
    else:
        raise AssertionError("the official document can still be fetched after its download was completed")


@when("公文書が発行されるまで照会する")
def _poll_document(egov_context: ScenarioContext) -> None:
    poll(egov_context, lambda: fetch_application(egov_context).doc_count >= 1, "the official document's issue")
