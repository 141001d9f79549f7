"""Automatic return (自動返戻) cases: item-level report_list entries in e-Gov's wording, per procedure.

Every procedure has three generic cases built from its catalogue entry (its first form's first
required item, `auto_return_attachment`) (missing_required,
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

from egov_format import reports
from egov_format.reports import ReportItem

from ..catalogue import AutoReturnCase, Procedure

DETAIL = "申請データに誤りがあります。"
HEADER = "X-Sandbox-Auto-Return"


def _generic(proc: Procedure) -> dict[str, AutoReturnCase]:
    cases: dict[str, AutoReturnCase] = {}
    form = proc.forms[0] if proc.forms else None
    if form is not None:
        label = form.required[0].label if form.required else "申請者氏名"
        cases["missing_required"] = AutoReturnCase(
            "missing_required", f"必須入力項目（{label}）が未入力",
            (ReportItem(content=reports.MISSING_REQUIRED, form_name=form.name, file_name=form.file_name,
                        item=label),))
    attachment = proc.auto_return_attachment
    cases["missing_attachment"] = AutoReturnCase(
        "missing_attachment", "添付必須のファイルがない",
        (ReportItem(content=reports.missing_attachment(attachment), attached_file_name=attachment.rsplit(".", 1)[0],
                    file_name="kousei.xml", item="添付書類ファイル名称"),))
    cases["missing_destination"] = AutoReturnCase(
        "missing_destination", "提出先情報が未設定",
        (ReportItem(content=reports.MISSING_DESTINATION, file_name="kousei.xml", item="提出先情報"),))
    return cases


def cases(proc: Procedure) -> dict[str, AutoReturnCase]:
    """All automatic-return cases of a procedure (generic ones, then the catalogue's own)."""
    return {**_generic(proc), **proc.auto_return}


def find(proc: Procedure | None, name: str) -> AutoReturnCase | None:
    if proc is None:
        return None
    return cases(proc).get(name)
