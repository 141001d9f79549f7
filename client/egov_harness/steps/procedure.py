"""手続選択: the procedure skeleton (GET /procedure/{proc_id})."""

from __future__ import annotations

from egov_client.errors import NotFoundError
from egov_format.package import Skeleton
from egov_format.zipsafe import read_zip
from pytest_bdd import parsers, then, when

from ..context import ScenarioContext


@when(parsers.parse("手続「{proc_id}」の申請書様式を取得する"))
def _get_skeleton(egov_context: ScenarioContext, proc_id: str) -> None:
    client = egov_context.logged_in()
    egov_context.skeleton = egov_context.attempt(lambda: client.get_procedure(proc_id))


@then(parsers.parse("手続「{proc_id}」のフォルダに構成管理XMLと申請書XMLが含まれている"))
def _skeleton_layout(egov_context: ScenarioContext, proc_id: str) -> None:
    egov_context.expect_success()
    skeleton = egov_context.skeleton
    assert skeleton is not None
    files = read_zip(skeleton.file_data)
    folders = {name.split("/", 1)[0] for name in files}
    assert folders == {proc_id}, f"the zip must hold one folder named {proc_id}, it holds {sorted(folders)}"
    parsed = Skeleton.from_zip(skeleton.file_data)
    assert "kousei.xml" in parsed.files and parsed.form_files, "no kousei.xml or no forms listed in it"
    assert skeleton.configuration_file_name == ["kousei.xml"]


@then("申請書ごとの様式情報がすべてZIPに含まれている")
def _file_info_complete(egov_context: ScenarioContext) -> None:
    egov_context.expect_success()
    skeleton = egov_context.skeleton
    assert skeleton is not None and skeleton.file_info, "file_info is empty"
    names = {name.split("/", 1)[1] for name in read_zip(skeleton.file_data)}
    for info in skeleton.file_info:
        assert info.form_id.startswith(skeleton.proc_id), f"{info.form_id} is not a form of {skeleton.proc_id}"
        for name in (info.apply_file_name, info.xsl_file_name):
            assert name in names, f"file_info names {name}, which the zip does not hold"


@then("「見つかりません」(404) という応答になる")
def _not_found(egov_context: ScenarioContext) -> None:
    egov_context.expect_error(NotFoundError)
