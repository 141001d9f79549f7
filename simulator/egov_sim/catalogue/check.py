"""`egov-sim catalogue check`: load catalogue files as the simulator would and list every problem."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from .catalogue import parse_procedure, parse_scenario_set, procedure_files, read_toml, scenario_sets
from .tables import CatalogueError


def _form_templates(path: Any) -> set[str]:
    """Form templates the procedure may use: the package's and those in a forms/ folder beside its own."""
    folders = [resources.files(__package__) / "forms"]
    if isinstance(path, Path):
        folders.append(path.parent.parent / "forms")
    return {e.name.removesuffix(".xml") for folder in folders if folder.is_dir()
            for e in folder.iterdir() if e.name.endswith(".xml")}


def check(paths: list[Path] | None = None) -> list[str]:
    """Problems found ("<file>: <table>: <problem>"); none when every file loads."""
    problems: list[str] = []
    try:
        sets = scenario_sets()
    except CatalogueError as exc:
        return [str(exc)]
    files: list[Any] = list(paths) if paths else procedure_files()
    seen: dict[str, str] = {}
    for path in files:
        where = str(path) if paths else f"procedures/{path.name}"
        try:
            data = read_toml(path, where)
            if "proc_id" not in data and set(data) <= {"scenarios"}:  # a shared scenario set
                parse_scenario_set(data, where)
                continue
            proc = parse_procedure(data, where, sets)
        except CatalogueError as exc:
            problems.append(str(exc))
            continue
        if proc.proc_id in seen:
            problems.append(f"{where}: proc_id {proc.proc_id} is also defined in {seen[proc.proc_id]}")
        seen[proc.proc_id] = where
        templates = _form_templates(path)
        problems += [f"{where}: forms: no form template {f.form_id}.xml" for f in proc.forms
                     if f.form_id not in templates]
    return problems
