"""Load the procedure catalogue (TOML files) and describe each procedure."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from importlib import resources
from typing import Any

from ..clock import parse_duration

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
class ScenarioStep:
    after: timedelta
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # notices, documents, payments (later steps)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[ScenarioStep, ...]
    options: dict[str, Any] = field(default_factory=dict)  # e.g. withdrawal = "refuse", withdrawal_after


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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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


def _parse_scenarios(table: dict[str, Any]) -> dict[str, Scenario]:
    return {
        name: Scenario(
            name=name,
            description=s.get("description", ""),
            steps=tuple(
                ScenarioStep(
                    after=parse_duration(step["after"]),
                    status=step.get("status"),
                    extra={k: v for k, v in step.items() if k not in ("after", "status")},
                )
                for step in s.get("steps", [])
            ),
            options={k: v for k, v in s.items() if k not in ("description", "steps")},
        )
        for name, s in table.items()
    }


def _parse_procedure(data: dict[str, Any], scenario_sets: dict[str, dict[str, Scenario]] | None = None) -> Procedure:
    """One procedure TOML. `scenarios_from = "<set>"` takes the scenarios of a shared set
    (catalogue/scenarios/<set>.toml); the procedure's own [scenarios.*] add to or replace them."""
    forms = tuple(
        FormSpec(
            form_id=f["form_id"],
            version=int(f.get("version", 1)),
            name=f["name"],
            data_element=f["data_element"],
            required=tuple(_check_item(r, required=True) for r in f.get("required", [])),
            checks=tuple(_check_item(r, required=False) for r in f.get("checks", [])),
        )
        for f in data.get("forms", [])
    )
    scenarios: dict[str, Scenario] = {}
    if data.get("scenarios_from"):
        shared = (scenario_sets or {}).get(data["scenarios_from"])
        if shared is None:
            raise ValueError(f"procedure {data['proc_id']}: no scenario set {data['scenarios_from']!r}")
        scenarios.update(shared)
    scenarios.update(_parse_scenarios(data.get("scenarios", {})))
    if "default" not in scenarios:
        raise ValueError(f"procedure {data['proc_id']} has no default scenario")
    return Procedure(
        proc_id=data["proc_id"],
        name=data["name"],
        agency_id=str(data.get("agency_id", "")),
        ministry_name=data["ministry_name"],
        destination_id=data.get("destination_id", ""),
        destination_name=data.get("destination_name", ""),
        signature_required=bool(data.get("signature_required", True)),
        fee=int(data.get("fee", 0)),
        forms=forms,
        scenarios=scenarios,
        preprint=bool(data.get("preprint", False)),
        post_apply=bool(data.get("post_apply", False)),
        destination_required=bool(data.get("destination_required", False)),
        configuration_files=tuple(
            ConfigurationFile(c["file_name"], c["name"], c["signs"]) for c in data.get("configuration_files", [])
        ),
        raw=data,
    )


class Catalogue:
    """All procedures the simulator knows, loaded from the package's TOML files."""

    def __init__(self, procedures: dict[str, Procedure]) -> None:
        self.procedures = procedures

    @classmethod
    def load(cls) -> Catalogue:
        root = resources.files(__package__)
        scenario_sets = {
            entry.name.removesuffix(".toml"): _parse_scenarios(
                tomllib.loads(entry.read_text(encoding="utf-8")).get("scenarios", {}))
            for entry in (root / "scenarios").iterdir() if entry.name.endswith(".toml")
        }
        procs = {}
        for entry in sorted((root / "procedures").iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                proc = _parse_procedure(tomllib.loads(entry.read_text(encoding="utf-8")), scenario_sets)
                procs[proc.proc_id] = proc
        return cls(procs)

    def get(self, proc_id: str) -> Procedure | None:
        return self.procedures.get(proc_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.procedures.values())

    @cached_property
    def form_templates(self) -> dict[str, bytes]:
        folder = resources.files(__package__) / "forms"
        return {e.name.removesuffix(".xml"): e.read_bytes() for e in folder.iterdir() if e.name.endswith(".xml")}
