"""Scenarios and their steps, typed with their defaults (`[scenarios.<name>]` in the TOML files).

A step is `{after = "P2D", status = "...", notice = {...}, document = {...}, payment = {...}, post = {...}}`.
At submission the steps are stored with the application as timeline entries (the same tables with an
absolute `at`: `ScenarioStep.extra`); filing/timeline.py reads them back with `TimelineStep.stored`.
Unset fields keep their default here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import cache
from typing import Any, ClassVar

from ..clock import parse_duration
from .tables import CatalogueError, table, tables

DEFAULT_DOWNLOAD_DAYS = 90
DEFAULT_FACILITY_NUMBER = "00200"
WITHDRAWAL_PROCESSING = "取下げ処理中"


def _attachments(data: Any, where: str) -> tuple[dict[str, str], ...]:
    return tuple(dict(table(a, f"{where}[{i}]", {"file_name", "title"}, ("file_name",)))
                 for i, a in enumerate(tables(data, where)))


@dataclass(frozen=True)
class _Part:
    """One optional table of a step; `entry()` writes back only what was set (the stored form)."""

    KEY: ClassVar[str]

    @classmethod
    def parse(cls, data: Any, where: str) -> Any:
        values = dict(table(data, where, _names(cls)))
        if "attachments" in values:
            values["attachments"] = cls._attachments(values["attachments"], f"{where}.attachments")
        try:
            return cls(**values)
        except TypeError as exc:
            raise CatalogueError(f"{where}: {exc}") from None

    @classmethod
    def stored(cls, data: dict[str, Any]) -> Any:
        if "attachments" in data:
            data = {**data, "attachments": tuple(data["attachments"])}
        return cls(**data)

    @classmethod
    def _attachments(cls, data: Any, where: str) -> tuple[Any, ...]:
        return _attachments(data, where)

    def entry(self) -> dict[str, Any]:
        defaults = type(self)()
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                if getattr(self, f.name) != getattr(defaults, f.name)}


@cache
def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _plain(value: Any) -> Any:
    return [dict(v) if isinstance(v, dict) else v for v in value] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class NoticeStep(_Part):
    """A 通知 (お知らせ, 補正 with correct_type 部分補正 / 再提出 that pauses the steps after it)."""

    KEY: ClassVar[str] = "notice"
    type: str = "お知らせ"
    title: str = "お知らせ"
    sentence: str | None = None  # default: the title
    issuer: str | None = None  # default: the case's 提出先
    correct_type: str | None = None  # 補正 only: 部分補正 (the default) or 再提出 pause the steps after it
    correct_days: int = 14
    attachments: tuple[str, ...] = ()

    @classmethod
    def _attachments(cls, data: Any, where: str) -> tuple[Any, ...]:
        if not all(isinstance(a, str) for a in tables(data, where)):
            raise CatalogueError(f"{where}: file names (strings) expected")
        return tuple(data)


@dataclass(frozen=True)
class DocumentStep(_Part):
    """A 公文書 issued to the applicant."""

    KEY: ClassVar[str] = "document"
    title: str | None = None  # default: 公文書(NNN) by its notice_sub_id
    sentence: str = "申請について、別添のとおり通知します。"
    issuer: str | None = None
    download_days: int = DEFAULT_DOWNLOAD_DAYS
    sign: bool = True
    attachments: tuple[dict[str, str], ...] = ({"file_name": "tsuchisho.pdf", "title": "通知書"},)


@dataclass(frozen=True)
class PaymentStep(_Part):
    """A fee to pay (電子納付), with its 納付のお知らせ notice unless notice = false."""

    KEY: ClassVar[str] = "payment"
    fee: int = 0
    name_kana: str = "テスウリョウ"
    pay_days: int = 30
    facility_number: str = DEFAULT_FACILITY_NUMBER
    notice: bool = True


@dataclass(frozen=True)
class PostStep(_Part):
    """A 電子送達 document."""

    KEY: ClassVar[str] = "post"
    type: str = "通知"
    title: str = "電子送達のお知らせ"
    sentence: str = "通知文書を電子送達により送付します。"
    name: str | None = None  # default: the title
    issuer: str | None = None
    download_days: int = DEFAULT_DOWNLOAD_DAYS
    attachments: tuple[dict[str, str], ...] = ({"file_name": "tsuchi.pdf", "title": "通知文書"},)


PARTS: tuple[type[_Part], ...] = (NoticeStep, DocumentStep, PaymentStep, PostStep)


@dataclass(frozen=True)
class TimelineStep:
    """What a step does (status and its parts), as the catalogue gives it or a timeline entry stores it."""

    status: str | None = None
    notice: NoticeStep | None = None
    document: DocumentStep | None = None
    payment: PaymentStep | None = None
    post: PostStep | None = None

    @classmethod
    def from_entry(cls, entry: dict[str, Any], where: str = "timeline entry") -> TimelineStep:
        """A catalogue step's tables, checked (`where` names them in errors)."""
        return cls(status=entry.get("status"),
                   **{p.KEY: p.parse(entry[p.KEY], f"{where}.{p.KEY}") for p in PARTS if p.KEY in entry})

    @classmethod
    def stored(cls, entry: dict[str, Any]) -> TimelineStep:
        """A stored timeline entry (written from checked steps: read on every status poll, so unchecked;
        a status-only step, the common one, is shared)."""
        if len(entry) == 1 + ("status" in entry):  # `at` and at most a status
            return _status_only(entry.get("status"))
        return cls(entry.get("status"), *(p.stored(entry[p.KEY]) if p.KEY in entry else None for p in PARTS))

    @property
    def extra(self) -> dict[str, Any]:
        """The parts as stored in a timeline entry (beside `at` and `status`)."""
        return {p.KEY: part.entry() for p in PARTS if (part := getattr(self, p.KEY)) is not None}


@cache
def _status_only(status: str | None) -> TimelineStep:
    return TimelineStep(status)


@dataclass(frozen=True)
class ScenarioStep(TimelineStep):
    after: timedelta = timedelta(0)

    @classmethod
    def parse(cls, data: Any, where: str) -> ScenarioStep:
        entry = table(data, where, {"after", "status", *(p.KEY for p in PARTS)}, ("after",))
        step = TimelineStep.from_entry(entry, where)
        try:
            after = parse_duration(str(entry["after"]))
        except ValueError as exc:
            raise CatalogueError(f"{where}.after: {exc}") from None
        return cls(after=after, **{f.name: getattr(step, f.name) for f in fields(TimelineStep)})


@dataclass(frozen=True)
class ScenarioOptions:
    """How a case of this scenario answers a 取下げ依頼."""

    withdrawal: str = "accept"  # "accept" | "refuse"
    withdrawal_after: timedelta = timedelta(hours=2)
    withdrawal_refusal_reason: str = "審査が進んでいるため、取下げ依頼を受理できませんでした。提出先にお問い合わせください。"
    withdrawal_processing_status: str = WITHDRAWAL_PROCESSING

    @property
    def accepts_withdrawal(self) -> bool:
        return self.withdrawal != "refuse"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[ScenarioStep, ...]
    options: ScenarioOptions = field(default_factory=ScenarioOptions)

    @classmethod
    def parse(cls, name: str, data: Any, where: str) -> Scenario:
        where = f"{where}.{name}"
        s = table(data, where, {"description", "steps", *(f.name for f in fields(ScenarioOptions))})
        options: dict[str, Any] = {k: s[k] for k in ("withdrawal", "withdrawal_refusal_reason",
                                                     "withdrawal_processing_status") if k in s}
        if options.get("withdrawal", "accept") not in ("accept", "refuse"):
            raise CatalogueError(f"{where}.withdrawal: accept or refuse")
        if "withdrawal_after" in s:
            try:
                options["withdrawal_after"] = parse_duration(str(s["withdrawal_after"]))
            except ValueError as exc:
                raise CatalogueError(f"{where}.withdrawal_after: {exc}") from None
        steps = tuple(ScenarioStep.parse(step, f"{where}.steps[{i}]")
                      for i, step in enumerate(tables(s.get("steps", []), f"{where}.steps")))
        return cls(name, str(s.get("description", "")), steps, ScenarioOptions(**options))


def parse_scenarios(data: Any, where: str) -> dict[str, Scenario]:
    return {name: Scenario.parse(name, s, where) for name, s in table(data, where, set(data or {})).items()}
