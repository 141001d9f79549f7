"""The result sheet (CSV and XLSX: 項番, API名, 結果, 実施日時, HTTPステータス) and a self-contained HTML report."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from .runner import ItemResult, summary

COLUMNS = ("項番", "API名", "呼び出し", "結果", "理由", "実施日時（開始）", "実施日時（終了）", "HTTPステータス", "証跡")
RESULT_JA = {"pass": "合格", "fail": "不合格", "waiting": "待ち", "not applicable": "対象外"}


def _row(r: ItemResult) -> list[str]:
    return [r.id, r.name, r.api, f"{RESULT_JA.get(r.result, r.result)} ({r.result})", r.reason, r.started,
            r.finished, r.http_status, r.evidence]


def write_csv(results: list[ItemResult], path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens it as UTF-8
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(_row(r) for r in results)
    return path


def write_xlsx(results: list[ItemResult], path: Path, title: str) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "最終確認試験"
    sheet.append([title])
    sheet.append(list(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    fills = {"pass": "C6EFCE", "fail": "FFC7CE", "waiting": "FFEB9C"}
    for r in results:
        sheet.append(_row(r))
        if r.result in fills:
            sheet.cell(sheet.max_row, 4).fill = PatternFill("solid", fgColor=fills[r.result])
    for column, width in zip("ABCDEFGHI", (8, 34, 40, 14, 60, 26, 26, 10, 40), strict=True):
        sheet.column_dimensions[column].width = width
    book.save(path)
    return path


def _link(folder: str) -> str:
    return f'<a href="{html.escape(folder)}/">{html.escape(folder)}</a>' if folder else "-"


def write_html(results: list[ItemResult], path: Path, title: str) -> Path:
    counts = summary(results)
    rows = "\n".join(
        f'<tr class="{r.result.replace(" ", "-")}"><td>{html.escape(r.id)}</td><td>{html.escape(r.name)}</td>'
        f"<td><code>{html.escape(r.api)}</code></td><td>{RESULT_JA.get(r.result, r.result)}</td>"
        f"<td>{html.escape(r.reason)}</td><td>{html.escape(r.started)}</td><td>{html.escape(r.http_status)}</td>"
        f"<td>{_link(r.evidence)}</td></tr>" for r in results)
    text = f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;
padding:4px 8px;vertical-align:top}}tr.pass td:nth-child(4){{background:#c6efce}}tr.fail td:nth-child(4)
{{background:#ffc7ce}}tr.waiting td:nth-child(4){{background:#ffeb9c}}code{{font-size:90%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>合格 {counts['pass']} · 不合格 {counts['fail']} · 待ち {counts['waiting']} · 対象外 {counts['not applicable']}
 (全 {len(results)} 項目)</p>
<table><tr><th>項番</th><th>API名</th><th>呼び出し</th><th>結果</th><th>理由</th><th>実施日時</th><th>HTTP</th>
<th>証跡</th></tr>
{rows}
</table></body></html>
"""
    path.write_text(text, encoding="utf-8")
    return path


def write_all(results: list[ItemResult], out: Path, title: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [write_csv(results, out / "結果一覧.csv"), write_xlsx(results, out / "結果一覧.xlsx", title),
            write_html(results, out / "report.html", title)]
