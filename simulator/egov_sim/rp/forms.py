"""The five pages of an application (seed 004 §2): their fields, validation and 別表3's derived figures
(one column per year: 直近期末 and each year of the plan).

Pure rules, no Flask: values come in as the strings a form posts and errors go out in Japanese, per field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

COVER, B134, B25, B67, ATTACH = "cover", "b134", "b25", "b67", "attachments"
PAGES: dict[str, str] = {COVER: "申請情報（表紙）", B134: "別表1,3,4", B25: "別表2,5", B67: "別表6,7", ATTACH: "添付書類"}
MAX_ROWS = 20
ITEM_MAX = 40  # 「実施項目」は最大40文字まで
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | yen | number | email | select | textarea
    required: bool = True
    max_len: int = 100


FIELDS: dict[str, list[Field]] = {
    COVER: [Field("prefecture", "提出先都道府県", "select"), Field("office", "提出先", "select"),
            Field("company_name", "申請者名（企業名）"), Field("representative", "代表者氏名", max_len=40),
            Field("theme", "経営革新計画のテーマ", "textarea", max_len=200),
            Field("contact_name", "担当者氏名", max_len=40), Field("contact_email", "担当者メールアドレス", "email"),
            Field("contact_tel", "担当者電話番号", max_len=20)],
    B134: [Field("industry", "別表1 業種", max_len=60),
           Field("employees_recent", "別表1 直近期の従業員数（常時使用する従業員の数）", "number"),
           Field("part_time", "別表1 うち、パート・アルバイト", "number"),
           Field("plan_years", "別表3 計画期間（年）", "select", max_len=1),
           Field("structure", "別表4 実施体制", "textarea", max_len=400)],  # + 別表3's columns, one per year
    B25: [Field("levy_basis", "別表5 賦課基準", "textarea", max_len=400)],  # + the rows of 別表2
    B67: [Field("equipment", "別表6 設備等の名称", max_len=100), Field("equipment_cost", "別表6 金額", "yen"),
          Field("partners", "別表7 関係機関", "textarea", required=False, max_len=400)],
    ATTACH: [],
}
# 別表3: one column per year, 直近期末 then each year of the plan (計画期間 3 to 5 years); each column has
# these inputs (stored as "<name>_<year>") and its own computed figures (seed 004 Appendix 1 and 2)
YEARLY: list[Field] = [
    Field("sales", "①売上高", "yen"), Field("cost", "②売上原価", "yen"), Field("sga", "④販売費及び一般管理費", "yen"),
    Field("labour", "⑧人件費", "yen"), Field("capex", "⑨設備投資額", "yen"), Field("working", "⑩運転資金", "yen"),
    Field("dep_normal", "普通償却額", "yen"), Field("dep_special", "特別償却額", "yen"),
    Field("staff", "⑬従業員数（役員含む）", "number"),
    Field("fund_gov", "政府系金融機関借入", "yen"), Field("fund_private", "民間金融機関借入", "yen"),
    Field("fund_own", "自己資金", "yen"), Field("fund_other", "その他", "yen")]
PLAN_YEARS = ("3", "4", "5")
DEFAULT_PLAN_YEARS = 3

ATTACHMENTS: list[tuple[str, str, bool]] = [("articles", "定款（写し）", True), ("accounts", "直近2期の決算書", True),
                                            ("officers", "役員名簿", False)]


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def plan_years(values: dict[str, Any]) -> int:
    text = str(values.get("plan_years", ""))
    return int(text) if text in PLAN_YEARS else DEFAULT_PLAN_YEARS


def year_labels(values: dict[str, Any]) -> list[str]:
    """別表3's columns: 直近期末, 1年後 … N年後."""
    return ["直近期末", *(f"{y}年後" for y in range(1, plan_years(values) + 1))]


def year_values(values: dict[str, Any], year: int) -> dict[str, str]:
    return {f.name: str(values.get(f"{f.name}_{year}", "")) for f in YEARLY}


def _check(f: Field, text: str, label: str) -> str | None:
    """One field's message (None when fine); `label` is what the message calls it."""
    if not text:
        if not f.required:
            return None
        return f"{label}を入力してください。" if f.kind != "select" else f"{label}を選択してください。"
    if len(text) > f.max_len:
        return f"{label}は{f.max_len}文字以内で入力してください。"
    if f.kind in ("yen", "number"):
        n = _number(text)
        if n is None or n < 0 or (f.kind == "yen" and n != n.to_integral_value()):
            return f"{label}は{'0以上の整数（円）' if f.kind == 'yen' else '0以上の数値'}で入力してください。"
    if f.kind == "email" and not EMAIL.match(text):
        return f"{label}の形式が正しくありません。"
    return None


def rows_of(values: dict[str, Any]) -> list[dict[str, str]]:
    rows = values.get("rows") or []
    return [r for r in rows if isinstance(r, dict)][:MAX_ROWS]


def validate(page: str, values: dict[str, Any], prefectures: dict[str, Any]) -> dict[str, str]:
    """Field name → message for every problem (empty when the page may be registered)."""
    errors: dict[str, str] = {}
    for f in FIELDS[page]:
        message = _check(f, str(values.get(f.name, "")).strip(), f.label)
        if message:
            errors[f.name] = message
    if page == COVER:
        pref = prefectures.get(str(values.get("prefecture", "")))
        if values.get("prefecture") and pref is None:
            errors["prefecture"] = "提出先都道府県を選択してください。"
        elif pref and values.get("office") and values["office"] not in pref["offices"]:
            errors["office"] = "提出先は選択した都道府県の提出先から選択してください。"
    elif page == B134:
        if str(values.get("plan_years", "")) not in PLAN_YEARS:
            errors["plan_years"] = "別表3 計画期間は3年、4年、5年から選択してください。"
        years = year_labels(values)
        for y, year in enumerate(years):
            for f in YEARLY:
                message = _check(f, str(values.get(f"{f.name}_{y}", "")).strip(), f"別表3 {year} {f.label}")
                if message:
                    errors[f"{f.name}_{y}"] = message
        if errors:
            return errors
        n = {k: _number(str(values[k])) or Decimal(0) for k in ("employees_recent", "part_time")}
        if n["part_time"] > n["employees_recent"]:
            errors["part_time"] = "うち、パート・アルバイトは直近期の従業員数以下で入力してください。"
        for y, (year, derived) in enumerate(zip(years, figures(values), strict=True)):
            if (_number(year_values(values, y)["staff"]) or Decimal(0)) < 1:  # Appendix 1: 代表者を含め1名以上
                errors[f"staff_{y}"] = f"別表3 {year} ⑬従業員数（役員含む）は代表者を含め1名以上で入力してください。"
            if derived["funding"] != derived["needed"]:
                errors[f"fund_other_{y}"] = (f"別表3 {year}：⑮資金調達額（{derived['funding']:,}円）が⑨設備投資額＋"
                                             f"⑩運転資金（{derived['needed']:,}円）と一致しません。")
    elif page == B25:
        rows = rows_of(values)
        if not rows:
            errors["rows"] = "別表2 実施項目を1行以上入力してください。"
        for i, row in enumerate(rows, 1):
            item, period = row.get("item", "").strip(), row.get("period", "").strip()
            if not item:
                errors[f"rows.{i}.item"] = f"別表2 {i}行目：実施項目を入力してください。"
            elif len(item) > ITEM_MAX:
                errors[f"rows.{i}.item"] = f"別表2 {i}行目：実施項目は{ITEM_MAX}文字以内で入力してください。"
            if not period:
                errors[f"rows.{i}.period"] = f"別表2 {i}行目：実施時期を入力してください。"
    return errors


def figures(values: dict[str, Any]) -> list[dict[str, Any]]:
    """別表3's computed items per year (seed 004 Appendix 2), 直近期末 first; missing or bad inputs count as 0."""
    return [year_figures(year_values(values, y)) for y in range(plan_years(values) + 1)]


def year_figures(values: dict[str, Any]) -> dict[str, Any]:
    """One column of 別表3: its computed items from its inputs."""
    v = {f.name: _number(str(values.get(f.name, ""))) or Decimal(0) for f in YEARLY}
    gross = v["sales"] - v["cost"]  # ③売上総利益
    operating = gross - v["sga"]  # ⑤営業利益
    depreciation = v["dep_normal"] + v["dep_special"]  # ⑪減価償却費
    value_added = operating + v["labour"] + depreciation  # ⑫付加価値額
    per_head = (value_added / v["staff"]).quantize(Decimal(1)) if v["staff"] > 0 else None  # ⑭一人当たり
    funding = v["fund_gov"] + v["fund_private"] + v["fund_own"] + v["fund_other"]  # ⑮資金調達額
    return {"gross": int(gross), "operating": int(operating), "depreciation": int(depreciation),
            "value_added": int(value_added), "per_head": None if per_head is None else int(per_head),
            "funding": int(funding), "needed": int(v["capex"] + v["working"])}


def headcount_for_criteria(values: dict[str, Any]) -> int | None:
    """別表1 (Appendix 1): 常時使用する従業員の数 − うち、パート・アルバイト, the figure the 中小企業 criteria use."""
    total, part = _number(str(values.get("employees_recent", ""))), _number(str(values.get("part_time", "")))
    return None if total is None or part is None else int(total - part)


FIGURE_LABELS = [("gross", "③売上総利益"), ("operating", "⑤営業利益"), ("depreciation", "⑪減価償却費"),
                 ("value_added", "⑫付加価値額"), ("per_head", "⑭一人当たりの付加価値額"), ("funding", "⑮資金調達額")]


def clean(page: str, form: dict[str, Any], *, keep_empty_rows: bool = False) -> dict[str, Any]:
    """What a posted page keeps (known fields only, stripped; 別表2's rows, blank ones only while editing)."""
    values: dict[str, Any] = {f.name: str(form.get(f.name, "")).strip()[: f.max_len * 2] for f in FIELDS[page]}
    if page == B134:
        for y in range(plan_years(values) + 1):
            values.update({f"{f.name}_{y}": str(form.get(f"{f.name}_{y}", "")).strip()[:40] for f in YEARLY})
    if page == B25:
        values["rows"] = [{"item": str(i).strip()[:200], "period": str(p).strip()[:60]}
                          for i, p in zip(form.get("item", []), form.get("period", []), strict=False)
                          if keep_empty_rows or str(i).strip() or str(p).strip()][:MAX_ROWS]
    return values


def summary_lines(page: str, values: dict[str, Any], prefectures: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for the confirmation pages and the PDF."""
    out: list[tuple[str, str]] = []
    for f in FIELDS[page]:
        text = str(values.get(f.name, ""))
        if f.name == "prefecture":
            text = prefectures.get(text, {}).get("name", text)
        out.append((f.label, text))
    if page == B134:
        headcount = headcount_for_criteria(values)
        out.append(("別表1 基準判定に用いる従業員数（自動計算）", "" if headcount is None else f"{headcount:,}"))
        for y, (year, derived) in enumerate(zip(year_labels(values), figures(values), strict=True)):
            out += [(f"別表3 {year} {f.label}", str(values.get(f"{f.name}_{y}", ""))) for f in YEARLY]
            out += [(f"別表3 {year} {label}（自動計算）", "" if derived[key] is None else f"{derived[key]:,}")
                    for key, label in FIGURE_LABELS]
    if page == B25:
        for i, row in enumerate(rows_of(values), 1):
            out.append((f"別表2 {i} 実施項目／実施時期", f"{row.get('item', '')}／{row.get('period', '')}"))
    if page == ATTACH:
        for key, label, _ in ATTACHMENTS:
            out.append((label, str((values.get("files") or {}).get(key, {}).get("name", ""))))
    return out
