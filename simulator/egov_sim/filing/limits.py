"""Lengths of what a package puts into a case, read once from the official document: the maxLength of
the case fields of `GET /apply/{arrive_id}` that a submission fills from its kousei.xml. A value over
its limit is a report_list item in the check files' wording and nothing is stored (stored, it would break
the document in every later answer, and the String(256) columns on PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from egov_format.formcheck import too_long
from egov_format.package import ParsedPackage
from egov_format.reports import ReportItem
from lxml import etree

_CASE = ("/apply/{arrive_id}", "get")
# case field → (report item, its value in the package)
CASE_FIELDS: dict[str, tuple[str, Callable[[ParsedPackage], str]]] = {
    "applicant_name": ("申請者情報.氏名", lambda p: p.applicant.get("氏名") or ""),
    "corporation_name": ("申請者情報.法人団体名", lambda p: p.applicant.get("法人団体名") or ""),
    "submission_destination": ("提出先情報.提出先名称", lambda p: p.destination.get("提出先名称") or ""),
}


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        for step in node["$ref"].lstrip("#/").split("/"):
            doc = doc[step]
        node = doc
    return node


def _properties(doc: dict[str, Any], node: Any) -> dict[str, Any]:
    """The properties of an object schema, through allOf/oneOf/anyOf."""
    node = _resolve(doc, node)
    found = dict(node.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in node.get(key, []):
            found.update(_properties(doc, part))
    return found


@lru_cache(maxsize=1)
def case_limits() -> dict[str, int]:
    """{field of the case's `results`: maxLength} as the document states them."""
    doc = json.loads((resources.files("egov_sim") / "data" / "egov-shinsei-api-v2.openapi.json").read_bytes())
    path, method = _CASE
    schema = _resolve(doc, doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"])
    results = _properties(doc, _properties(doc, schema)["results"])
    limits = {name: _resolve(doc, results[name]).get("maxLength") for name in CASE_FIELDS}
    missing = [name for name, limit in limits.items() if not isinstance(limit, int)]
    if missing:
        raise LookupError(f"the document gives no maxLength for {missing}")
    return limits  # type: ignore[return-value]


def case_field_problems(package: ParsedPackage) -> list[ReportItem]:
    """A report item for each case field of the package longer than the document allows."""
    limits = case_limits()
    problems = []
    for name, (item, value_of) in CASE_FIELDS.items():
        if len(value_of(package).strip()) > limits[name]:
            problems.append(ReportItem(content=too_long(limits[name]), file_name="kousei.xml", item=item))
    return problems


def form_item_problems(root: Any, *, file_name: str, form_name: str, limit: int,
                       reported: set[str]) -> list[ReportItem]:
    """A report item for each form item longer than `limit` characters that its check file did not
    already report (the setting `form_item_max_chars`: neither the document nor the XSDs give one)."""
    problems = []
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element) or len((element.text or "").strip()) <= limit:
            continue
        name = etree.QName(element).localname
        if name not in reported and element.getroottree().getpath(element) not in reported:
            problems.append(ReportItem(content=too_long(limit), form_name=form_name, file_name=file_name, item=name))
    return problems
