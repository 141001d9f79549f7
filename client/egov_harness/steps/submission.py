"""申請データの作成・署名・送信 (POST /apply), trial mode, attachments, refusals."""

from __future__ import annotations

import re
import warnings

from egov_client.errors import ApiError, EgovError, NonAsciiFileNameWarning
from egov_client.samples import sample_pdf
from egov_format.package import ApplicationPackage, Skeleton
from egov_format.signing import load_pkcs12
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .common import assert_message

ARRIVE_ID = re.compile(r"^\d{16,18}$")


def _package(ctx: ScenarioContext) -> ApplicationPackage:
    if ctx.package is None:
        raise AssertionError("no application package yet: add 「手続「…」の申請データを見本データで作成する」")
    return ctx.package


def _first_form(package: ApplicationPackage) -> str:
    return package.form_files[0]


def build_sample_package(ctx: ScenarioContext, proc_id: str) -> ApplicationPackage:
    """A 新規申請 of `proc_id` from the procedure's skeleton filled with the sample data (unsigned)."""
    skeleton = ctx.logged_in().get_procedure(proc_id)
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton.file_data))
    package.set_apply_type("新規申請")
    package.set_applicant(**ctx.samples.applicant)
    package.set_contact(**ctx.samples.applicant)
    for form_id, values in ctx.samples.forms(proc_id).items():
        package.set_form_values(form_id, values)
    return package


@given(parsers.parse("手続「{proc_id}」の申請データを見本データで作成する"))
def _sample_package(egov_context: ScenarioContext, proc_id: str) -> None:
    egov_context.package = build_sample_package(egov_context, proc_id)


@given(parsers.parse("申請書の項目「{path}」を「{value}」にする"))
def _set_item(egov_context: ScenarioContext, path: str, value: str) -> None:
    package = _package(egov_context)
    package.set_form_value(_first_form(package), path, value)


@given(parsers.parse("申請書の項目「{path}」を空にする"))
def _clear_item(egov_context: ScenarioContext, path: str) -> None:
    package = _package(egov_context)
    package.set_form_value(_first_form(package), path, "")


@given(parsers.parse("添付書類「{file_name}」（{title}）を添付する"))
def _attach(egov_context: ScenarioContext, file_name: str, title: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonAsciiFileNameWarning)  # scenarios may test such names on purpose
        _package(egov_context).add_attachment(file_name, sample_pdf(title), title=title)


@given(parsers.parse("「{label}」の電子証明書で署名する"))
def _sign(egov_context: ScenarioContext, label: str) -> None:
    signer = egov_context.find_signer(label)
    _package(egov_context).sign(signer)
    egov_context.signer = signer  # later packages of the scenario (取下げ, 補正) are signed with it too


@given("電子署名をしない")
def _unsigned(egov_context: ScenarioContext) -> None:
    assert not _package(egov_context).is_signed


@when(parsers.parse("「{label}」の電子証明書を誤ったPINで開く"))
def _wrong_pin(egov_context: ScenarioContext, label: str) -> None:
    p12, password = egov_context.target.certificate(label)
    egov_context.attempt(lambda: load_pkcs12(p12, password + "x"))


def _send(ctx: ScenarioContext, *, trial: bool) -> None:
    package = _package(ctx)
    client = ctx.logged_in().trial_mode() if trial else ctx.logged_in()
    data = package.to_zip(validate=False)
    if ctx.recorder:
        ctx.recorder.attach(f"{package.proc_id}.zip", data)
    ctx.notes["trial"] = trial
    ctx.result = ctx.attempt(lambda: client.submit(package.proc_id, data)) or ctx.result


@when("申請データを送信する")
def _submit(egov_context: ScenarioContext) -> None:
    _send(egov_context, trial=False)


@when("申請データをトライアルモードで送信する")
def _submit_trial(egov_context: ScenarioContext) -> None:
    _send(egov_context, trial=True)


@given("申請データを送信済みである")
def _submitted(egov_context: ScenarioContext) -> None:
    _send(egov_context, trial=False)
    egov_context.expect_success()


@then("申請は到達し、到達番号が払い出される")
def _arrived(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    result = egov_context.result
    assert result is not None
    assert ARRIVE_ID.match(result.arrive_id), f"arrive_id {result.arrive_id!r} is not 16–18 digits"
    assert result.apply_type == "新規申請" and result.proc_name, f"unexpected arrival: {result}"
    assert result.links.get("status", "").endswith(f"/apply/{result.arrive_id}"), result.links


@then(parsers.parse("到達の応答に添付書類「{title}」が含まれている"))
def _arrival_lists_attachment(egov_context: ScenarioContext, title: str) -> None:
    egov_context.expect_success()
    assert egov_context.result is not None
    # apply_form.attached_file[].attached_file_name carries the attachment's name (添付書類名称)
    assert title in egov_context.result.attached_file_names, egov_context.result.attached_file_names


@then(parsers.parse("送信は「{message}」というエラーで拒否される"))
def _refused(egov_context: ScenarioContext, message: str) -> None:
    error = egov_context.expect_error(EgovError)
    assert_message(error, message)


@then(parsers.parse("送信前の形式チェックでも項目「{item}」に「{message}」と報告される"))
def _prechecked(egov_context: ScenarioContext, item: str, message: str) -> None:
    """The client's pre-check (the skeleton's {form_id}check.xml) finds what the server reported."""
    found = [p.to_report() for p in _package(egov_context).check()]
    assert any(r["item"] == item and r["content"] == message for r in found), f"pre-check found {found}"


@then(parsers.parse("エラー報告の項目「{item}」に「{message}」と記載されている"))
def _report_item(egov_context: ScenarioContext, item: str, message: str) -> None:
    error = egov_context.expect_error(ApiError)
    assert isinstance(error, ApiError) and error.status == 400, f"expected 400, got {error}"
    found = [r for r in error.report_list if r.get("item") == item]
    assert any(r.get("content") == message for r in found), f"report_list has {error.report_list}"
    assert all(set(r) >= {"form_name", "attached_file_name", "file_name", "item", "content"}
               for r in error.report_list), "report_list items must carry e-Gov's five fields"
