"""The legacy 外部連携API (/shinsei/1) as seed 001's client walks it: 利用者ID登録, 利用者認証, 送信,
送信案件取得, 申請案件取得, 公文書と取得完了, 取下げ, 証明書の切り替え."""

from __future__ import annotations

from datetime import date

from egov_client.legacy import LegacyApiError, LegacyClient, build_withdrawal_application, upload
from egov_format.package import build_withdrawal_package
from pytest_bdd import given, parsers, then, when

from ..context import ScenarioContext
from .submission import build_sample_package


def _legacy(ctx: ScenarioContext) -> LegacyClient:
    client = ctx.notes.get("legacy")
    if client is None:
        endpoint = ctx.target.endpoint
        root = endpoint.api_base.removesuffix("/shinsei/v2")
        http = ctx.http()
        http.base_url = root  # type: ignore[assignment]
        client = ctx.notes["legacy"] = LegacyClient(root, endpoint.client_id, http=http)
    return client


def _attempt(ctx: ScenarioContext, call):  # type: ignore[no-untyped-def]
    ctx.error = None
    try:
        return call()
    except LegacyApiError as exc:
        ctx.error = exc
        return None


@given(parsers.parse("「{label}」の電子証明書で利用者ID「{user_id}」を登録している"))
@when(parsers.parse("「{label}」の電子証明書で利用者ID「{user_id}」を登録する"))
def _register(egov_context: ScenarioContext, label: str, user_id: str) -> None:
    egov_context.notes["legacy_user"] = user_id
    _attempt(egov_context, lambda: _legacy(egov_context).register(user_id, egov_context.find_signer(label)))


@given(parsers.parse("「{label}」の電子証明書で利用者認証をしている"))
@when(parsers.parse("「{label}」の電子証明書で利用者認証をする"))
def _login(egov_context: ScenarioContext, label: str) -> None:
    user_id = egov_context.notes["legacy_user"]
    answer = _attempt(egov_context, lambda: _legacy(egov_context).login(user_id, egov_context.find_signer(label)))
    if answer is not None:
        egov_context.notes["legacy_login"] = answer


@then("外部連携APIは受け付ける")
def _accepted(egov_context: ScenarioContext) -> None:
    if egov_context.error is not None:
        raise AssertionError(f"the legacy API refused: {egov_context.error}")


@then(parsers.parse("外部連携APIは「{message}」と答えて拒否する"))
def _refused(egov_context: ScenarioContext, message: str) -> None:
    error = egov_context.error
    assert isinstance(error, LegacyApiError), "the call succeeded, but a refusal was expected"
    assert message in error.message, f"{error.message!r} does not say {message!r}"


@then("256文字のアクセスキーを受け取る")
def _access_key(egov_context: ScenarioContext) -> None:
    assert len(egov_context.notes["legacy_login"].text("AccessKey")) == 256


@when(parsers.parse("作成した申請データを{good:d}件と署名のない申請データを{bad:d}件まとめて外部連携APIで送信する"))
def _send(egov_context: ScenarioContext, good: int, bad: int) -> None:
    package = egov_context.package
    assert package is not None, "create a package first"
    signed = package.to_zip()
    unsigned = build_sample_package(egov_context, package.proc_id).to_zip()
    client = _legacy(egov_context)
    # the catalogue's default course, whatever scenario rules earlier scenarios left on a shared simulator
    client.http.headers["X-Sandbox-Scenario"] = egov_context.notes.get("legacy_scenario", "default")
    try:
        answer = client.apply("send.zip", upload(*[signed] * good, *[unsigned] * bad))
    finally:
        client.http.headers.pop("X-Sandbox-Scenario", None)
    egov_context.notes["send_number"] = answer.text("SendNumber")


@when("送信案件を取得する")
def _sends(egov_context: ScenarioContext) -> None:
    answer = _legacy(egov_context).sended_applications_by_id(egov_context.notes["send_number"])
    egov_context.notes["package_apply"] = answer.appl.find("PackageApply")


@then(parsers.re(r"送信案件の作業状況は「(?P<status>[^」]*)」である"))
def _work_status(egov_context: ScenarioContext, status: str) -> None:
    assert egov_context.notes["package_apply"].findtext("WorkStatus") == status


@then(parsers.parse("送信案件は到達{normal:d}件、エラー{errors:d}件である"))
def _counts(egov_context: ScenarioContext, normal: int, errors: int) -> None:
    pa = egov_context.notes["package_apply"]
    assert (pa.findtext("NormalCount"), pa.findtext("ErrorCount")) == (str(normal), str(errors))
    assert bool(pa.findtext("ErrorFile")) == (errors > 0)


@when("申請案件を取得する")
def _arrived(egov_context: ScenarioContext) -> None:
    answer = _legacy(egov_context).arrived_applications(egov_context.notes["send_number"])
    egov_context.notes["arrive_ids"] = [el.text for el in answer.appl.iterfind("Apply/ArriveID")]


@then(parsers.parse("到達番号が{count:d}件ある"))
def _arrive_ids(egov_context: ScenarioContext, count: int) -> None:
    ids = egov_context.notes["arrive_ids"]
    assert len(ids) == count and all(len(i) == 16 for i in ids)


@then(parsers.parse("外部連携APIの状況照会で状況は「{status}」である"))
def _reference(egov_context: ScenarioContext, status: str) -> None:
    arrive_id = egov_context.notes["arrive_ids"][0]
    assert _legacy(egov_context).reference(arrive_id).text("Status") == status


@when("公文書を取得して取得完了にする")
def _official(egov_context: ScenarioContext) -> None:
    client, arrive_id = _legacy(egov_context), egov_context.notes["arrive_ids"][0]
    sub = int(client.notices(arrive_id).text("Official/NoticeSubID"))
    assert client.officialdocument(arrive_id, sub).text("Download/FileData")
    egov_context.notes["done"] = client.done_officialdocument(arrive_id, sub)


@then("取得完了の日時が返る")
def _done(egov_context: ScenarioContext) -> None:
    assert len(egov_context.notes["done"].text("DownloadDate")) == 14


@when("取下げを送信する")
def _withdraw(egov_context: ScenarioContext) -> None:
    arrive_id = egov_context.notes["arrive_ids"][0]
    signer = egov_context.signer
    assert signer is not None, "sign the package first"
    proc_id = egov_context.package.proc_id if egov_context.package is not None else ""
    package = build_withdrawal_application(target_arrive_id=arrive_id, proc_id=proc_id, proc_name="-",
                                           applicant_name="山田　太郎", reason="誤って申請したため",
                                           submitted=date.today()).sign(signer)
    egov_context.notes["withdrawal"] = _attempt(egov_context, lambda: _legacy(egov_context).withdraw(
        arrive_id, upload(package.to_zip())))


@then("取下げ申請の到達番号が返る")
def _withdrawal_arrival(egov_context: ScenarioContext) -> None:
    answer, arrive_id = egov_context.notes["withdrawal"], egov_context.notes["arrive_ids"][0]
    new = answer.text("NewArriveID")
    assert len(new) == 16 and new != arrive_id and new[:3] == arrive_id[:3], new


@when("取下げ依頼データを外部連携APIで送信する")
def _withdraw_v2_package(egov_context: ScenarioContext) -> None:
    arrive_id = egov_context.notes["arrive_ids"][0]
    signer = egov_context.signer
    assert signer is not None, "sign the package first"
    package = build_withdrawal_package(target_arrive_id=arrive_id, proc_name="-", applicant_name="山田　太郎",
                                       reason="誤って申請したため", request_date=date.today()).sign(signer)
    _attempt(egov_context, lambda: _legacy(egov_context).withdraw(arrive_id, upload(package.to_zip())))


@when(parsers.parse("「{old}」の電子証明書で署名して「{new}」の電子証明書を追加する"))
def _append(egov_context: ScenarioContext, old: str, new: str) -> None:
    user_id = egov_context.notes["legacy_user"]
    new_cert = egov_context.find_signer(new).certificate
    _attempt(egov_context, lambda: _legacy(egov_context).append_certificate(
        user_id, egov_context.find_signer(old), new_cert))


@when(parsers.parse("「{new}」の電子証明書で署名して古い「{old}」の電子証明書の識別情報を更新する"))
def _update(egov_context: ScenarioContext, new: str, old: str) -> None:
    user_id = egov_context.notes["legacy_user"]
    old_cert = egov_context.find_signer(old).certificate
    _attempt(egov_context, lambda: _legacy(egov_context).update_certificate(
        user_id, egov_context.find_signer(new), old_cert))


@when("外部連携APIで金融機関一覧を取得する")
def _banks(egov_context: ScenarioContext) -> None:
    _attempt(egov_context, lambda: _legacy(egov_context).banks())
