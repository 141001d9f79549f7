"""Reading /shinsei/v2 requests into the backend's typed arguments; a spec-shaped 400 otherwise."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from typing import Any

from flask import request

from ...services import services
from ..backend import Period
from ..errors import FilingError, bad_request
from ..preprint import PreprintRequest
from ..sharing import ACCEPTANCES, PERMISSIONS, ShareGrant

PROC_ID = re.compile(r"^[0-9A-Za-z]{16}$")
ARRIVE_ID = re.compile(r"^\d{16,18}$")
SEND_NUMBER = re.compile(r"^\d{18}$")
POST_ID = re.compile(r"^[0-9A-Za-z]{1,50}$")
INFORMATION_ID = re.compile(r"^[0-9A-Za-z]{1,16}$")
NOT_JSON = "リクエストの形式に誤りがあります。JSON形式で指定してください。"
TOO_LARGE = "アップロードサイズファイル上限オーバー"


# --- bodies -------------------------------------------------------------------------------------------

def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request(NOT_JSON)
    return body


def string(body: dict[str, Any], name: str, low: int, high: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise bad_request(f"{name}は{low}文字以上{high}文字以内で指定してください。")
    return value


def file_data(value: Any, name: str = "ファイルデータ（file_data）") -> bytes:
    """A base64 field, its size checked before it is decoded."""
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name}を指定してください。")
    if len(value) * 3 // 4 > services().settings.max_request_bytes:
        raise FilingError(413, TOO_LARGE)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{name}のBase64形式に誤りがあります。") from None


def proc_id(body: dict[str, Any]) -> str:
    value = body.get("proc_id")
    if not isinstance(value, str) or not PROC_ID.match(value):
        raise bad_request("手続識別子（proc_id）は半角英数字16桁で指定してください。")
    return value


def send_file(body: dict[str, Any]) -> tuple[str, bytes]:
    """`send_file: {file_name, file_data}` of apply, check, post-apply, amend, withdraw and bulk-apply."""
    value = body.get("send_file")
    if not isinstance(value, dict):
        raise bad_request("申請データ（send_file）を指定してください。")
    name = value.get("file_name")
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise bad_request("ファイル名（file_name）は1文字以上256文字以内で指定してください。")
    return name, file_data(value.get("file_data"))


def submission() -> tuple[str, str, bytes]:
    """`{proc_id, send_file}`: the procedure, the file name and the zip."""
    body = json_body()
    return (proc_id(body), *send_file(body))


def arrive_id(value: Any) -> str:
    if not isinstance(value, str) or not ARRIVE_ID.match(value):
        raise bad_request("到達番号は半角数字16桁から18桁で指定してください。")
    return value


def notice_sub_id(value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 999:
        raise bad_request("通知通番は1から999までの数値で指定してください。")
    return value


def post_id(value: str) -> str:
    if not POST_ID.match(value):
        raise bad_request("電子送達識別子は半角英数字1桁から50桁で指定してください。")
    return value


def information_id(value: str) -> str:
    if not INFORMATION_ID.match(value):
        raise bad_request("お知らせIDは半角英数字1桁から16桁で指定してください。")
    return value


def preprint_request() -> PreprintRequest:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request(NOT_JSON)
    form_id, info = body.get("form_id"), body.get("application_info")
    well_formed = isinstance(info, list) and 1 <= len(info) <= 10 and all(
        isinstance(i, dict) and isinstance(i.get("label"), str) and i.get("value") for i in info)
    return PreprintRequest(proc_id=str(body.get("proc_id", "")), form_id=form_id if isinstance(form_id, str) else None,
                           form_version=body.get("form_version"),
                           application_info=[(i["label"], i["value"]) for i in info] if well_formed else None,
                           file_data=str(body.get("file_data", "")))


def gbiz_id(body: dict[str, Any]) -> str:
    value = body.get("gbiz_id")
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise bad_request("gbiz_id（GビズIDのアカウントID）は1文字以上128文字以内で指定してください。")
    return value


def _permission(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value not in PERMISSIONS:
        raise bad_request(f"{name}はREADまたはDOWNLOADを指定してください。")
    return value


def share_grant(body: dict[str, Any]) -> ShareGrant:
    return ShareGrant(gbiz_id(body), _permission(body, "official_doc_permission"),
                      _permission(body, "post_doc_permission"))


def share_acceptance(body: dict[str, Any]) -> str:
    value = body.get("share_acceptance")
    if value not in ACCEPTANCES:
        raise bad_request("share_acceptanceはACCEPTまたはDENYを指定してください。")
    return value


# --- query parameters ------------------------------------------------------------------------------------

def query_date(name: str) -> date:
    """A YYYY-MM-DD query parameter, or a spec-shaped 400."""
    value = request.args.get(name, "")
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name}はYYYY-MM-DD形式で指定してください。") from None


def query_int(name: str, default: int, low: int, high: int) -> int:
    """An optional integer query parameter within [low, high], or a spec-shaped 400."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise bad_request(f"{name}は{low}から{high}までの数値で指定してください。")
    return int(value)


def period(max_limit: int = 50, *, missing: str = "取得対象期間（date_from, date_to）を指定してください。") -> Period:
    if not request.args.get("date_from") or not request.args.get("date_to"):
        raise bad_request(missing)
    date_from, date_to = query_date("date_from"), query_date("date_to")
    if date_from > date_to:
        raise bad_request("取得対象期間開始日は終了日以前の日付を指定してください。")
    return Period(date_from, date_to, query_int("limit", max_limit, 1, max_limit), query_int("offset", 0, 0, 9999))


def send_number() -> str | None:
    """`send_number` of the lists that take either it or a period (not both)."""
    value = request.args.get("send_number")
    if value is None:
        return None
    if any(request.args.get(k) for k in ("date_from", "date_to", "limit", "offset")):
        raise bad_request("送信番号と取得対象期間は同時に指定できません。")
    if not SEND_NUMBER.match(value):
        raise bad_request("送信番号は半角数字18桁で指定してください。")
    return value
