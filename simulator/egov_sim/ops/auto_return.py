"""Automatic return (自動返戻) cases: item-level report_list entries in e-Gov's wording, per procedure.

Every procedure has three generic cases built from its catalogue entry (missing_required,
missing_attachment, missing_destination); a procedure's TOML may add or override cases under its
own key:

    [auto_return.missing_salary]
    description = "報酬月額が未入力"
    report = [{ form_name = "…", file_name = "950A01070000500001_01.xml", item = "報酬月額（合計）",
                content = "未入力のままになっている必須入力項目があります。入力内容を確認してください。" }]

A case is chosen for one submission with the `X-Sandbox-Auto-Return: <case>` header, or injected
by a fault rule (`{"action": {"auto_return": "<case>"}}`). The submission is refused with 400 and
the report items, and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from egov_format import reports
from egov_format.reports import ReportItem

from ..catalogue import Procedure

DETAIL = "申請データに誤りがあります。"
HEADER = "X-Sandbox-Auto-Return"


@dataclass(frozen=True)
class AutoReturnCase:
    name: str
    description: str
    report: tuple[ReportItem, ...]


def _generic(proc: Procedure) -> dict[str, AutoReturnCase]:
    cases: dict[str, AutoReturnCase] = {}
    form = proc.forms[0] if proc.forms else None
    if form is not None:
        label = form.required[0].label if form.required else "申請者氏名"
        cases["missing_required"] = AutoReturnCase(
            "missing_required", f"必須入力項目（{label}）が未入力",
            (ReportItem(content=reports.MISSING_REQUIRED, form_name=form.name, file_name=form.file_name,
                        item=label),))
    attachment = str(proc.raw.get("auto_return_attachment", "添付書類.pdf"))
    cases["missing_attachment"] = AutoReturnCase(
        "missing_attachment", "添付必須のファイルがない",
        (ReportItem(content=reports.missing_attachment(attachment), attached_file_name=attachment.rsplit(".", 1)[0],
                    file_name="kousei.xml", item="添付書類ファイル名称"),))
    cases["missing_destination"] = AutoReturnCase(
        "missing_destination", "提出先情報が未設定",
        (ReportItem(content=reports.MISSING_DESTINATION, file_name="kousei.xml", item="提出先情報"),))
    return cases


def _from_toml(name: str, data: Any) -> AutoReturnCase:
    if not isinstance(data, dict) or not isinstance(data.get("report"), list) or not data["report"]:
        raise ValueError(f"auto_return.{name}: report (a list of items with content) is required")
    items = []
    for r in data["report"]:
        if not isinstance(r, dict) or not r.get("content"):
            raise ValueError(f"auto_return.{name}: every report item needs content")
        items.append(ReportItem(**{k: str(r.get(k) or "-") for k in
                                   ("content", "form_name", "attached_file_name", "file_name", "item")}))
    return AutoReturnCase(name, str(data.get("description", "")), tuple(items))


def cases(proc: Procedure) -> dict[str, AutoReturnCase]:
    """All automatic-return cases of a procedure (generic ones, then the catalogue's own)."""
    out = _generic(proc)
    for name, data in (proc.raw.get("auto_return") or {}).items():
        out[name] = _from_toml(name, data)
    return out


def find(proc: Procedure | None, name: str) -> AutoReturnCase | None:
    if proc is None:
        return None
    return cases(proc).get(name)
