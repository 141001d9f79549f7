"""プレ印字データ取得 (`POST /preprint`): the agency's registered data, filled into the form XML.

A procedure with `preprint = true` names in `[preprint]` the identifying label (e.g. 労働保険番号)
and which form items are filled from which fact of the registered business. The registered
business is made up deterministically from the identifying value (Faker ja_JP, seeded by it), so
the same number always gives the same company.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from egov_format.errors import PackageError
from egov_format.safexml import parse_xml, serialize_xml

from ..catalogue import PreprintData
from ..world.people import PeopleFactory
from .cases import FilingService
from .errors import bad_request

FORM_ID = re.compile(r"^[0-9A-Za-z]{18}$")


def _facts(key: str) -> dict[str, str]:
    people = PeopleFactory(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16))
    company = people.company()
    rep = company.representative
    return {"company.name": company.name, "company.address": company.address,
            "company.postal_code": company.postal_code, "company.phone": rep.phone,
            "representative.name": f"{rep.last_name}　{rep.first_name}", "key": key,
            "key.prefecture": key[:2], "key.jurisdiction": key[2:3], "key.office": key[3:5],
            "key.base": key[5:11], "key.branch": key[11:14]}


def _text(value: Any) -> str:
    """application_info values are strings; tolerate base64 (the document marks them `byte`)."""
    value = str(value)
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        return decoded if decoded.isprintable() and decoded.strip() else value
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return value


@dataclass(frozen=True)
class PreprintRequest:
    """プレ印字データ取得's body as the face read it: None where a field is missing or of the wrong type."""

    proc_id: str
    form_id: str | None
    form_version: Any
    application_info: list[tuple[str, Any]] | None  # (label, value); None when not 1..10 items with both
    file_data: str


def preprint(f: FilingService, req: PreprintRequest) -> dict[str, Any]:
    proc = f.catalogue.get(req.proc_id)
    if proc is None or not proc.preprint:
        raise bad_request("指定された手続識別子の手続はプレ印字の対象ではありません。")
    form = proc.form(req.form_id) if req.form_id is not None and FORM_ID.match(req.form_id) else None
    if form is None:
        raise bad_request("様式IDに誤りがあります。")
    if req.form_version != form.version:
        raise bad_request(f"様式バージョンに誤りがあります（{form.version}を指定してください）。")
    if req.application_info is None:
        raise bad_request("申請届出識別情報（application_info）は1件以上10件以内で指定してください。")
    config = proc.preprint_data or PreprintData()
    label = config.key_label
    values = {name: _text(value) for name, value in req.application_info}
    key = re.sub(r"\D", "", values.get(label, ""))
    if len(key) != config.key_digits:
        raise bad_request(f"{label}に該当するプレ印字データが存在しません。")
    try:
        raw = base64.b64decode(req.file_data, validate=True)
        root = parse_xml(raw, what="申請書XML", file_name=form.file_name)
    except (binascii.Error, ValueError):
        raise bad_request("申請書XMLデータのBase64形式に誤りがあります。") from None
    except PackageError as exc:
        raise bad_request(exc.message) from None
    if (root.findtext("様式ID") or "").strip() != form.form_id:
        raise bad_request("申請書XMLの様式IDが指定された様式IDと一致しません。")
    data = root.find(form.data_element)
    if data is None:
        raise bad_request("申請書XMLの形式に誤りがあります。")
    facts = _facts(key)
    for path, fact in config.fields.items():
        el = data.find(path)
        if el is not None:
            el.text = facts.get(fact, fact)
    return {"apply_file": {"file_name": form.file_name, "file_data": base64.b64encode(serialize_xml(root)).decode()}}
