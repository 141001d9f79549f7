"""The console's forms: posted fields → the admin API's arguments, with errors in Japanese.

Each parser returns what OpsBackend takes, or raises FormError with every problem found; nothing is
called until the whole form is valid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from egov_format.statuses import STATUS_GROUPS
from werkzeug.datastructures import MultiDict

from ..clock import parse_duration
from ..ops.case_views import CaseQuery

PAGE_SIZE = 20
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = dict(zip(WEEKDAY_KEYS, "月火水木金土日", strict=True))
METHODS = ("", "GET", "POST", "PUT", "DELETE")
FAULT_KINDS = {"status": "エラー応答（HTTPステータス）", "latency": "遅延（秒）", "reset": "接続リセット",
               "hang": "応答しない（秒）", "arrival_check": "到達確認中にする（期間）", "auto_return": "自動返戻（ケース名）"}


class FormError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class _Errors:
    items: list[str]

    def check(self) -> None:
        if self.items:
            raise FormError(self.items)


def _text(form: MultiDict[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _duration(form: MultiDict[str, str], name: str, label: str, errors: list[str], *,
              required: bool = True) -> str | None:
    value = _text(form, name)
    if not value:
        if required:
            errors.append(f"{label}を入力してください（例: PT3H, P1D, PT30M）。")
        return None
    try:
        parse_duration(value)
    except ValueError:
        errors.append(f"{label}は PT3H・P1D・PT30M のような期間で入力してください（入力値: {value}）。")
        return None
    return value.upper()


def _datetime(form: MultiDict[str, str], name: str, label: str, errors: list[str]) -> str | None:
    value = _text(form, name)
    if not value:
        errors.append(f"{label}を入力してください。")
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None).isoformat(timespec="seconds")
    except ValueError:
        errors.append(f"{label}は日時（例: 2026-12-29T06:00）で入力してください（入力値: {value}）。")
        return None


def _int(form: MultiDict[str, str], name: str, label: str, errors: list[str], *, low: int, high: int) -> int | None:
    value = _text(form, name)
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        errors.append(f"{label}は{low}〜{high}の整数で入力してください（入力値: {value}）。")
        return None
    return int(value)


def _float(form: MultiDict[str, str], name: str, label: str, errors: list[str], *, low: float,
           high: float) -> float | None:
    value = _text(form, name)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low < number <= high:
        errors.append(f"{label}は{low:g}より大きく{high:g}以下の数値で入力してください（入力値: {value}）。")
        return None
    return number


# ---------------------------------------------------------------------------- 申請一覧 (GET filters)

def case_query(args: MultiDict[str, str], today: date) -> tuple[CaseQuery, dict[str, str], list[str]]:
    """The list's filters (送信日時 range: the seed's default is three months back to today; empty
    fields mean open-ended), the values to show back in the form, and errors."""
    errors: list[str] = []
    default_from = date(today.year - (today.month <= 3), (today.month - 4) % 12 + 1, min(today.day, 28))
    shown = {"sent_from": args.get("sent_from", default_from.isoformat()),
             "sent_to": args.get("sent_to", today.isoformat()), "group": args.get("group", "全て"),
             "account": _text(args, "account"), "page": args.get("page", "1")}
    dates: dict[str, date | None] = {}
    for key, label in (("sent_from", "送信日時（開始）"), ("sent_to", "送信日時（終了）")):
        try:
            dates[key] = date.fromisoformat(shown[key]) if shown[key].strip() else None
        except ValueError:
            errors.append(f"{label}は日付（例: 2026-04-01）で入力してください（入力値: {shown[key]}）。")
            dates[key] = None
    if dates["sent_from"] and dates["sent_to"] and dates["sent_from"] > dates["sent_to"]:
        errors.append("送信日時の開始は終了より前の日付にしてください。")
    if shown["group"] not in STATUS_GROUPS:
        errors.append(f"到達状況は {'/'.join(STATUS_GROUPS)} から選んでください。")
        shown["group"] = "全て"
    page = int(shown["page"]) if shown["page"].isdigit() and int(shown["page"]) >= 1 else 1
    shown["page"] = str(page)
    query = CaseQuery(sent_from=dates["sent_from"], sent_to=dates["sent_to"], group=shown["group"],
                      account=shown["account"] or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return query, shown, errors


# ---------------------------------------------------------------------------- 時計

def clock_change(form: MultiDict[str, str]) -> dict[str, Any]:
    """Arguments of OpsBackend.set_clock for the button pressed."""
    errors: list[str] = []
    action = _text(form, "action")
    if action == "advance":
        args: dict[str, Any] = {"advance": _duration(form, "advance", "進める時間", errors)}
    elif action == "set":
        args = {"set_to": _datetime(form, "set_to", "設定する日時", errors)}
    elif action == "speed":
        speed = _float(form, "speed", "速さ", errors, low=0, high=1_000_000)
        if speed is None and not errors:
            errors.append("速さを入力してください（1 = 実時間、3600 = 1秒で1時間）。")
        args = {"speed": speed}
    elif action in ("freeze", "unfreeze"):
        args = {"frozen": action == "freeze"}
    elif action == "reset":
        args = {"reset": True}
    else:
        errors.append("操作を選んでください。")
        args = {}
    _Errors(errors).check()
    return args


# ---------------------------------------------------------------------------- メンテナンス

def maintenance_window(form: MultiDict[str, str]) -> dict[str, Any]:
    """The admin API's window body: one-off (開始・終了) or recurring (曜日・開始時刻・期間)."""
    errors: list[str] = []
    body: dict[str, Any] = {}
    if _text(form, "title"):
        body["title"] = _text(form, "title")
    if _text(form, "kind") == "recurring":
        days = [d for d in form.getlist("weekdays") if d in WEEKDAY_KEYS]
        if not days:
            errors.append("繰り返す曜日を1つ以上選んでください。")
        start = _text(form, "time")
        try:
            datetime.strptime(start, "%H:%M")
        except ValueError:
            errors.append(f"開始時刻は HH:MM（例: 18:00）で入力してください（入力値: {start}）。")
        duration = _duration(form, "duration", "期間", errors)
        body["recurrence"] = {"weekdays": days, "start": start, "duration": duration}
    else:
        start_at = _datetime(form, "start", "開始日時", errors)
        end_at = _datetime(form, "end", "終了日時", errors)
        if start_at and end_at and end_at <= start_at:
            errors.append("終了日時は開始日時より後にしてください。")
        body.update(start=start_at, end=end_at)
    lose = _duration(form, "lose_before", "直前に失われる送信の期間", errors, required=False)
    if lose:
        body["lose_before"] = lose
    for flag in ("auth_down", "expire_tokens", "end_sessions"):
        body[flag] = form.get(flag) == "on"
    body["announce"] = form.get("announce") == "on"
    _Errors(errors).check()
    return body


# ---------------------------------------------------------------------------- 障害注入

def fault_rule(form: MultiDict[str, str]) -> dict[str, Any]:
    """The admin API's rule body from the form's match, action and firing fields."""
    errors: list[str] = []
    match: dict[str, Any] = {}
    method = _text(form, "method").upper()
    if method not in METHODS:
        errors.append(f"メソッドは {'/'.join(m for m in METHODS if m)} から選んでください。")
    elif method:
        match["method"] = method
    for key in ("path", "account", "proc_id"):
        if _text(form, key):
            match[key] = _text(form, key)
    if not match:
        errors.append("対象（メソッド・パス・アカウント・手続ID）を1つ以上指定してください。")
    kind, value = _text(form, "kind"), _text(form, "value")
    action: dict[str, Any] = {}
    if kind == "status":
        code = _int(form, "value", "HTTPステータス", errors, low=400, high=599)
        if code is None and not value:
            errors.append("HTTPステータス（400〜599）を入力してください。")
        action["status"] = code
    elif kind == "latency":
        seconds = _float(form, "value", "遅延の秒数", errors, low=0, high=600)
        if seconds is None and not value:
            errors.append("遅延の秒数を入力してください。")
        action["latency"] = {"fixed": seconds}
    elif kind == "reset":
        action["reset"] = True
    elif kind == "hang":
        action["hang"] = True
        seconds = _float(form, "value", "応答しない秒数", errors, low=0, high=600)
        if seconds is not None:
            action["seconds"] = seconds
    elif kind == "arrival_check":
        action["arrival_check"] = _duration(form, "value", "到達確認中の期間", errors)
    elif kind == "auto_return":
        if not value:
            errors.append("自動返戻のケース名（例: missing_required）を入力してください。")
        action["auto_return"] = value
    else:
        errors.append("障害の種類を選んでください。")
    when = _text(form, "when") or "before"
    if when not in ("before", "after"):
        errors.append("タイミングは「処理前」か「処理後」です。")
    action["when"] = when
    rule: dict[str, Any] = {"match": match, "action": action}
    if _text(form, "name"):
        rule["name"] = _text(form, "name")
    times = _int(form, "times", "回数", errors, low=1, high=1_000_000)
    if times is not None:
        rule["times"] = times
    probability = _float(form, "probability", "確率", errors, low=0, high=1)
    if probability is not None:
        rule["probability"] = probability
    _Errors(errors).check()
    return rule


# ---------------------------------------------------------------------------- 案件: シナリオ

def scenario_choice(form: MultiDict[str, str], scenarios: list[str]) -> dict[str, Any]:
    errors: list[str] = []
    scenario = _text(form, "scenario")
    if scenario not in scenarios:
        errors.append(f"シナリオは {'/'.join(scenarios)} から選んでください。")
    count = _int(form, "count", "件数", errors, low=1, high=1000)
    _Errors(errors).check()
    return {"scenario": scenario, "account": _text(form, "account") or None, "proc_id": _text(form, "proc_id") or None,
            "count": count}
