"""All parsing of legacy request bodies and paths: untrusted XML (no DTDs, with limits), base64
with or without line breaks, matrix parameters, uploaded zips. Errors are LegacyError (Code 1)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime

from egov_format.errors import PackageError
from egov_format.safexml import parse_xml
from egov_format.zipsafe import read_zip, write_zip
from flask import g, request
from lxml import etree

from .errors import MALFORMED, LegacyError

SEND_NUMBER = re.compile(r"\d{18}")
ARRIVE_ID = re.compile(r"\d{16}")
DATE_RANGE = re.compile(r"(\d{8})-(\d{8})")
FOLDER = re.compile(r"(?P<proc>[0-9A-Za-z]{16})(\(\d+\))?")


def body() -> etree._Element:
    """The request's `DataRoot` (any or no Content-Type: the real server required none). The access
    family reads it only inside `authorized()`: authentication before any work on the body."""
    if "/access/" in request.path and g.get("caller") is None:
        raise RuntimeError("an access operation read its body before authorized()")
    data = request.get_data(cache=True)
    if not data.strip():
        raise LegacyError(MALFORMED)
    try:
        root = parse_xml(data, what="リクエスト")
    except PackageError as exc:
        raise LegacyError(exc.message) from None
    if root.tag != "DataRoot" or root.find("ApplData") is None:
        raise LegacyError(MALFORMED)
    return root


def text(root: etree._Element, path: str, *, required: bool = True) -> str:
    value = (root.findtext(f"ApplData/{path}") or "").strip()
    if required and not value:
        raise LegacyError(f"{path.split('/')[-1]}が指定されていません。")
    return value


def b64(value: str, what: str = "FileData") -> bytes:
    """Base64 as Ruby's encode64 writes it (a line break every 60 characters) or in one line."""
    try:
        return base64.b64decode("".join(value.replace("\\n", "\n").split()), validate=True)
    except (binascii.Error, ValueError):
        raise LegacyError(f"{what}の形式に誤りがあります。") from None


def flag(root: etree._Element, path: str) -> bool:
    value = text(root, path)
    if value not in ("0", "1"):
        raise LegacyError(f"{path.split('/')[-1]}には1または0を指定してください。")
    return value == "1"


def arrive_id(value: str) -> str:
    if not ARRIVE_ID.fullmatch(value or ""):
        raise LegacyError("到達番号は半角数字16桁で指定してください。")
    return value


def arrive_id_in(root: etree._Element) -> str:
    """The body's ApplData/ArriveID, checked."""
    return arrive_id(text(root, "ArriveID"))


def notice_in(root: etree._Element) -> tuple[str, int]:
    """The body's ApplData/ArriveID and ApplData/NoticeSubID, checked."""
    return arrive_id_in(root), notice_sub_id(text(root, "NoticeSubID"))


def send_number(value: str) -> str:
    if not SEND_NUMBER.fullmatch(value or ""):
        raise LegacyError("送信番号は半角数字18桁で指定してください。")
    return value


def notice_sub_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 10**6:
        raise LegacyError("通知番号に誤りがあります。")
    return int(value)


def date_range(value: str) -> tuple[date, date]:
    """`;date=yyyyMMdd-yyyyMMdd`."""
    m = DATE_RANGE.fullmatch(value or "")
    try:
        start, end = (datetime.strptime(m.group(i), "%Y%m%d").date() for i in (1, 2)) if m else (None, None)
    except ValueError:
        start = end = None
    if start is None or end is None:
        raise LegacyError("取得対象期間はyyyyMMdd-yyyyMMddの形式で指定してください。")
    if start > end:
        raise LegacyError("取得対象期間の開始日が終了日より後になっています。")
    return start, end


def one_application(raw: bytes, max_file_bytes: int) -> tuple[str, bytes]:
    """An upload of one application, `{手続ID}({n})/…`, as the package the filing backend reads
    (rooted at the 手続ID); returns (手続ID, package)."""
    try:
        entries = read_zip(raw, max_file_bytes=max_file_bytes, max_entries=2000)
    except PackageError as exc:
        raise LegacyError(exc.message) from None
    folders = {name.split("/", 1)[0] for name in entries if "/" in name}
    match = FOLDER.fullmatch(next(iter(folders))) if len(folders) == 1 else None
    if match is None or any("/" not in name for name in entries):
        raise LegacyError("申請データの形式に誤りがあります。申請フォルダ単位で格納してください。")
    folder, proc_id = match.group(0), match.group("proc")
    return proc_id, write_zip({f"{proc_id}/{name.split('/', 1)[1]}": data for name, data in entries.items()
                               if name.split("/", 1)[1] and name.startswith(folder + "/")})
