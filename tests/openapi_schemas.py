"""Validate JSON bodies against the official OpenAPI document (the contract).

    validate_schema("results_token", body)                 # a components/schemas entry (or any "#/..." ref)
    validate_response("/token", "post", 200, body)         # the schema of a documented response
    validate_response("/shinsei/v2/apply/900A0123", "get", 200, body)   # concrete paths work too

OpenAPI 3.0 schemas are validated with a Draft 7 validator; `$ref`s resolve inside the
document. Formats checked: int32/int64 ranges, and `date` as the spec uses it (its "date"
fields hold either YYYY-MM-DD or YYYY-MM-DD HH:MM:SS — a quirk of the document).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC_PATH = Path(__file__).resolve().parents[1] / "simulator" / "egov_sim" / "data" / "egov-shinsei-api-v2.openapi.json"
SPEC_URI = "urn:egov-shinsei-api-v2"
PATH_PREFIXES = ("/shinsei/v2", "/auth")  # the servers' base paths, stripped from concrete paths

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")

format_checker = FormatChecker(formats=())


@format_checker.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@format_checker.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@format_checker.checks("date")
def _date(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE.match(value))


# Defects of the document itself, corrected before validating (each one with its reason).
ERRATA: list[tuple[tuple[str, ...], str, Any, str]] = [
    (("components", "schemas", "error_bulk", "items"), "required", None,
     "bulk-apply's error items require 'self' and 'complete' — copied from links_official_document; "
     "the items are {errorFolder, errorFile, content}"),
]


def _datetime_not_date(node: Any) -> None:
    """Fields documented as YYYY-MM-DD HH:MM:SS (length 19) but typed format "date" are date-times."""
    if isinstance(node, dict):
        if node.get("format") == "date" and node.get("minLength") == 19:
            node.pop("format")
        for value in node.values():
            _datetime_not_date(value)
    elif isinstance(node, list):
        for value in node:
            _datetime_not_date(value)


def apply_errata(document: dict[str, Any]) -> dict[str, Any]:
    _datetime_not_date(document)  # e.g. doc_download_date, correct_completed_date
    for path, key, value, _reason in ERRATA:
        node = document
        for part in path:
            node = node[part]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return document


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    return apply_errata(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT7))


def _ref(name_or_ref: str) -> str:
    return name_or_ref if name_or_ref.startswith("#/") else f"#/components/schemas/{name_or_ref}"


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `{"$ref": "#/..."}` node (repeatedly) to its target in the document."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _validate(schema: dict[str, Any], instance: Any) -> None:
    validator = Draft7Validator(schema, registry=_registry(), format_checker=format_checker)
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def validate_schema(name_or_ref: str, instance: Any) -> None:
    """Validate against a named schema ("results_token") or a ref ("#/components/schemas/x");
    raises jsonschema.ValidationError."""
    _validate({"$ref": f"{SPEC_URI}{_ref(name_or_ref)}"}, instance)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def find_path(path: str) -> str:
    """The document's path template for a template or concrete path (query and base path ignored)."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    paths = spec()["paths"]
    candidates = [path] + [path[len(p):] for p in PATH_PREFIXES if path.startswith(p + "/")]
    for candidate in candidates:
        if candidate in paths:
            return candidate
        matches = [t for t in paths if "{" in t and _template_regex(t).match(candidate)]
        if matches:
            return min(matches, key=lambda t: t.count("{"))  # most specific
    raise LookupError(f"no path in the OpenAPI document matches {path!r}")


def response_spec(path: str, method: str, status: int) -> dict[str, Any]:
    """The resolved response object for a path, method and status."""
    operation = spec()["paths"][find_path(path)].get(method.lower())
    if operation is None:
        raise LookupError(f"{method.upper()} {path} is not in the OpenAPI document")
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    if response is None:
        raise LookupError(f"{method.upper()} {path} documents no {status} response")
    return resolve(response)


def response_schema(path: str, method: str, status: int) -> dict[str, Any] | None:
    """The JSON schema of a documented response, or None when it has no JSON body."""
    content = response_spec(path, method, status).get("content") or {}
    media = content.get("application/json")
    return media.get("schema") if media else None


def validate_response(path: str, method: str, status: int, body: Any) -> None:
    """Validate a response body; a response documented without a body must have none (None/b""/"")."""
    schema = response_schema(path, method, status)
    if schema is None:
        if body not in (None, b"", ""):
            raise ValidationError(f"{method.upper()} {path} {status} is documented without a body")
        return
    # a schema object copied out of the document: keep its internal refs resolvable
    _validate({"allOf": [_absolute_refs(schema)]}, body)


def _absolute_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (f"{SPEC_URI}{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#/")
                    else _absolute_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node
