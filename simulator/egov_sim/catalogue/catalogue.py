"""Load the procedure catalogue (TOML files) and describe each procedure, typed: every table a
dataclass with its defaults, unknown keys refused at load ("<file>: <table>: unknown key ...").
Scenarios and their steps are in steps.py."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache, cached_property
from importlib import resources
from typing import Any

from egov_format.reports import ReportItem

from .steps import Scenario, parse_scenarios
from .tables import CatalogueError, table, tables

KOUSEI_FORM_ID = "999000000000000001"
WITHDRAWAL_PROC_ID = "9990000000000003"


@dataclass(frozen=True)
class RequiredItem:
    """A checked item of a form: a `required` entry (or, with required=False, a `checks` entry).

    The rules become one `checkItem` of the form's check file (catalogue/skeleton.py), which is
    what the simulator enforces at submission.
    """

    path: str  # element path below the form's data element, '/'-separated
    label: str  # the name e-Gov prints in its report
    example: str = ""  # a plausible value (demo packages, load tests); must satisfy the rules
    required: bool = True  # omitDisabled
    numeric: bool = False  # numerical: 半角数字
    full_width: bool = False  # fullAllChar: 全角 only
    max_length: int | None = None  # char/range/number: at most N characters
    length: int | None = None  # char/range/number + equal: exactly N characters
    int_digits: int | None = None  # intDigit/number: at most N integer digits


CheckItem = RequiredItem
_RULE_KEYS = {"numeric": bool, "full_width": bool, "max_length": int, "length": int, "int_digits": int}


def _check_item(entry: dict[str, Any], *, required: bool) -> RequiredItem:
    rules: dict[str, Any] = {}
    for key, kind in _RULE_KEYS.items():
        if key not in entry:
            continue
        value = entry[key]
        if type(value) is not kind or (kind is int and value < 1):
            raise ValueError(f"form item {entry.get('path')!r}: {key} must be a {'positive int' if kind is int else kind.__name__}")
        rules[key] = value
    if "length" in rules and "max_length" in rules:
        raise ValueError(f"form item {entry.get('path')!r}: give length or max_length, not both")
    return RequiredItem(entry["path"], entry["label"], str(entry.get("example", "")), required=required, **rules)


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    version: int
    name: str
    data_element: str
    required: tuple[RequiredItem, ...] = ()
    checks: tuple[RequiredItem, ...] = ()  # checked but not required (`checks = [...]` in the TOML)

    @property
    def check_items(self) -> tuple[RequiredItem, ...]:
        """Every checked item, required ones first (the order of the check file)."""
        return self.required + self.checks

    @property
    def file_name(self) -> str:
        return f"{self.form_id}_01.xml"

    @property
    def xsl_file_name(self) -> str:
        return f"{self.form_id}.xsl"

    @property
    def check_file_name(self) -> str:
        return f"{self.form_id}check.xml"  # e-Gov's name for the form's 形式チェックファイル

    @property
    def schema_file_name(self) -> str:
        return f"{self.form_id}.xsd"


@dataclass(frozen=True)
class ConfigurationFile:
    """A separately signed 構成情報 file of a 個別署名形式 procedure (``[[configuration_files]]``)."""

    file_name: str
    name: str
    signs: str  # "form" (the 申請書) or "attachment" (an attached file)


@dataclass(frozen=True)
class AutoReturnCase:
    """A 自動返戻 case (`[auto_return.<name>]`): the report items e-Gov returns the package with."""

    name: str
    description: str
    report: tuple[ReportItem, ...]

    @classmethod
    def parse(cls, name: str, data: Any, where: str) -> AutoReturnCase:
        where = f"{where}.{name}"
        t = table(data, where, {"description", "report"}, ("report",))
        items = tables(t["report"], f"{where}.report")
        if not items:
            raise CatalogueError(f"{where}.report: at least one item (with content) is required")
        report = []
        for i, r in enumerate(items):
            r = table(r, f"{where}.report[{i}]", set(REPORT_FIELDS), ("content",))
            report.append(ReportItem(**{k: str(r.get(k) or "-") for k in REPORT_FIELDS}))
        return cls(name, str(t.get("description", "")), tuple(report))


REPORT_FIELDS = ("content", "form_name", "attached_file_name", "file_name", "item")


@dataclass(frozen=True)
class MessageSpec:
    """A 手続に関するご案内 (`[[messages]]`), shown to every account from its issue time on."""

    information_id: str
    issue_date: datetime
    title: str
    body: str
    issuer: str | None = None  # default: the procedure's ministry
    categories: tuple[str, str, str] | None = None  # default: 行政手続 / その他 / the procedure's name
    attachments: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Any, where: str) -> MessageSpec:
        m = table(data, where, {f.name for f in fields(cls)}, ("information_id", "issue_date", "title", "body"))
        cats = m.get("categories")
        if cats is not None and (not isinstance(cats, list) or len(cats) != 3):
            raise CatalogueError(f"{where}.categories: three category names expected")
        try:
            issued = datetime.fromisoformat(str(m["issue_date"]))
        except ValueError as exc:
            raise CatalogueError(f"{where}.issue_date: {exc}") from None
        return cls(str(m["information_id"]), issued, m["title"], m["body"], m.get("issuer"),
                   (cats[0], cats[1], cats[2]) if cats else None, tuple(m.get("attachments", [])))


@dataclass(frozen=True)
class PreprintData:
    """`[preprint_data]`: the key the applicant gives (its label and digits) and the form fields filled."""

    key_label: str = ""
    key_digits: int = 14
    fields: dict[str, str] = field(default_factory=dict)  # element path below the data element -> fact

    @classmethod
    def parse(cls, data: Any, where: str) -> PreprintData:
        t = table(data, where, {"key_label", "key_digits", "fields"})
        return cls(str(t.get("key_label", "")), int(t.get("key_digits", 14)),
                   dict(table(t.get("fields", {}), f"{where}.fields", set(t.get("fields", {})))))


@dataclass(frozen=True)
class Procedure:
    proc_id: str
    name: str
    agency_id: str
    ministry_name: str
    destination_id: str
    destination_name: str
    signature_required: bool
    fee: int
    forms: tuple[FormSpec, ...]
    scenarios: dict[str, Scenario]
    preprint: bool = False
    post_apply: bool = False  # a 電子送達 利用申込み: sent with POST /post-apply, not /apply
    destination_required: bool = False  # the applicant sets 提出先情報 (the skeleton leaves it empty)
    configuration_files: tuple[ConfigurationFile, ...] = ()  # 個別署名形式 only
    preprint_data: PreprintData | None = None  # preprint only
    messages: tuple[MessageSpec, ...] = ()
    auto_return: dict[str, AutoReturnCase] = field(default_factory=dict, compare=False)  # its own 自動返戻 cases
    auto_return_attachment: str = "添付書類.pdf"  # the attachment the generic missing_attachment case names

    @property
    def arrive_prefix(self) -> str:
        """e-Gov arrival numbers start with the procedure family (900…, 950…) then the year."""
        return self.proc_id[:3] if self.proc_id[:3].isdigit() else "900"

    @property
    def destination_display(self) -> str:
        """提出先 as shown in results: the last comma-separated part of 提出先名称."""
        return self.destination_name.split(",")[-1]

    def form(self, form_id: str) -> FormSpec | None:
        return next((f for f in self.forms if f.form_id == form_id), None)

    def scenario(self, name: str | None) -> Scenario:
        return self.scenarios.get(name or "default") or self.scenarios["default"]


PROCEDURE_KEYS = frozenset({
    "proc_id", "name", "agency_id", "ministry_name", "destination_id", "destination_name", "signature_required",
    "fee", "forms", "scenarios", "scenarios_from", "preprint", "preprint_data", "post_apply",
    "destination_required", "configuration_files", "messages", "auto_return", "auto_return_attachment"})
FORM_KEYS = frozenset({"form_id", "version", "name", "data_element", "required", "checks"})
ITEM_KEYS = frozenset({"path", "label", "example", *_RULE_KEYS})


def _form(data: Any, where: str) -> FormSpec:
    f = table(data, where, FORM_KEYS, ("form_id", "name", "data_element"))
    return FormSpec(
        form_id=f["form_id"], version=int(f.get("version", 1)), name=f["name"], data_element=f["data_element"],
        required=tuple(_check_item(table(r, f"{where}.required[{i}]", ITEM_KEYS, ("path", "label")), required=True)
                       for i, r in enumerate(tables(f.get("required", []), f"{where}.required"))),
        checks=tuple(_check_item(table(r, f"{where}.checks[{i}]", ITEM_KEYS, ("path", "label")), required=False)
                     for i, r in enumerate(tables(f.get("checks", []), f"{where}.checks"))),
    )


def _configuration_file(data: Any, where: str) -> ConfigurationFile:
    c = table(data, where, {"file_name", "name", "signs"}, ("file_name", "name", "signs"))
    if c["signs"] not in ("form", "attachment"):
        raise CatalogueError(f"{where}.signs: form or attachment")
    return ConfigurationFile(c["file_name"], c["name"], c["signs"])


def parse_procedure(data: dict[str, Any], where: str,
                    scenario_sets: dict[str, dict[str, Scenario]] | None = None) -> Procedure:
    """One procedure TOML. `scenarios_from = "<set>"` takes the scenarios of a shared set
    (catalogue/scenarios/<set>.toml); the procedure's own [scenarios.*] add to or replace them."""
    table(data, where, PROCEDURE_KEYS, ("proc_id", "name", "ministry_name"))
    scenarios: dict[str, Scenario] = {}
    if data.get("scenarios_from"):
        shared = (scenario_sets or {}).get(data["scenarios_from"])
        if shared is None:
            raise CatalogueError(f"{where}: no scenario set {data['scenarios_from']!r}")
        scenarios.update(shared)
    scenarios.update(parse_scenarios(data.get("scenarios", {}), f"{where}: scenarios"))
    if "default" not in scenarios:
        raise CatalogueError(f"{where}: procedure {data['proc_id']} has no default scenario")
    try:
        return Procedure(
            proc_id=data["proc_id"],
            name=data["name"],
            agency_id=str(data.get("agency_id", "")),
            ministry_name=data["ministry_name"],
            destination_id=data.get("destination_id", ""),
            destination_name=data.get("destination_name", ""),
            signature_required=bool(data.get("signature_required", True)),
            fee=int(data.get("fee", 0)),
            forms=tuple(_form(f, f"{where}: forms[{i}]") for i, f in enumerate(tables(data.get("forms", []),
                                                                                        f"{where}: forms"))),
            scenarios=scenarios,
            preprint=bool(data.get("preprint", False)),
            post_apply=bool(data.get("post_apply", False)),
            destination_required=bool(data.get("destination_required", False)),
            configuration_files=tuple(_configuration_file(c, f"{where}: configuration_files[{i}]") for i, c in
                                      enumerate(tables(data.get("configuration_files", []),
                                                       f"{where}: configuration_files"))),
            preprint_data=PreprintData.parse(data["preprint_data"], f"{where}: preprint_data")
            if "preprint_data" in data else None,
            messages=tuple(MessageSpec.parse(m, f"{where}: messages[{i}]")
                           for i, m in enumerate(tables(data.get("messages", []), f"{where}: messages"))),
            auto_return={name: AutoReturnCase.parse(name, c, f"{where}: auto_return") for name, c in
                         table(data.get("auto_return", {}), f"{where}: auto_return",
                               set(data.get("auto_return") or {})).items()},
            auto_return_attachment=str(data.get("auto_return_attachment", "添付書類.pdf")),
        )
    except ValueError as exc:  # a check item's rules
        raise CatalogueError(f"{where}: {exc}") from None


def parse_scenario_set(data: dict[str, Any], where: str) -> dict[str, Scenario]:
    """A shared scenario set (catalogue/scenarios/<set>.toml): only [scenarios.*]."""
    return parse_scenarios(table(data, where, {"scenarios"}).get("scenarios", {}), f"{where}: scenarios")


def read_toml(path: Any, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where}: {exc}") from None


def procedure_files() -> list[Any]:
    root = resources.files(__package__) / "procedures"
    return sorted((e for e in root.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)


@cache
def scenario_sets() -> dict[str, dict[str, Scenario]]:
    """The shared scenario sets by name (catalogue/scenarios/<set>.toml)."""
    root = resources.files(__package__) / "scenarios"
    return {e.name.removesuffix(".toml"): parse_scenario_set(read_toml(e, f"scenarios/{e.name}"), f"scenarios/{e.name}")
            for e in root.iterdir() if e.name.endswith(".toml")}


def _files_key() -> tuple[tuple[str, int, int], ...]:
    """The catalogue files as (name, mtime, size): a changed file means a new parse."""
    key = []
    for folder in ("procedures", "scenarios"):
        for entry in (resources.files(__package__) / folder).iterdir():
            st = entry.stat() if hasattr(entry, "stat") else None  # a zipped package: by name only
            key.append((f"{folder}/{entry.name}", st.st_mtime_ns if st else 0, st.st_size if st else 0))
    return tuple(sorted(key))


_shared: tuple[tuple[tuple[str, int, int], ...], Catalogue] | None = None


class Catalogue:
    """All procedures the simulator knows, loaded from the package's TOML files."""

    def __init__(self, procedures: dict[str, Procedure]) -> None:
        self.procedures = procedures

    @classmethod
    def load(cls) -> Catalogue:
        procs = {}
        for entry in procedure_files():
            proc = parse_procedure(read_toml(entry, f"procedures/{entry.name}"), f"procedures/{entry.name}",
                                   scenario_sets())
            if proc.proc_id in procs:
                raise CatalogueError(f"procedures/{entry.name}: proc_id {proc.proc_id} is defined twice")
            procs[proc.proc_id] = proc
        return cls(procs)

    @classmethod
    def shared(cls) -> Catalogue:
        """The catalogue parsed once per process (its dataclasses are frozen): every app of the process
        and the workers forked from it share it instead of parsing the TOML files again."""
        global _shared
        key = _files_key()
        if _shared is None or _shared[0] != key:
            _shared = (key, cls.load())
        return _shared[1]

    def get(self, proc_id: str) -> Procedure | None:
        return self.procedures.get(proc_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.procedures.values())

    @cached_property
    def form_templates(self) -> dict[str, bytes]:
        folder = resources.files(__package__) / "forms"
        return {e.name.removesuffix(".xml"): e.read_bytes() for e in folder.iterdir() if e.name.endswith(".xml")}
