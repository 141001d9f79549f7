"""e-Gov's form-check file (形式チェックファイル, ``{form_id}check.xml``): read, write and apply it.

The one implementation of the format: the client reads it from a skeleton to list, fill and
pre-check items (``Skeleton.form_checks``, ``ApplicationPackage.check``); the simulator writes it
into the skeleton it serves and runs its 形式チェック at ``/apply`` from the very same bytes.

The file sits beside the form in the skeleton of ``GET /procedure`` (``file_info.server_check_file_name``;
the skeleton's 構成管理形式チェックファイル is ``999000000000000001check.xml``). It is a list of
``checkItem`` entries, one per checked item::

    <?xml version="1.0" encoding="UTF-8"?>
    <checkItems formId="950A01070000500001">
      <checkItem>
        <errtag>/DataRoot/資格取得届/被保険者/氏名/氏</errtag>   <!-- the item's tag path -->
        <errname>被保険者氏名（氏）</errname>                   <!-- the name e-Gov reports -->
        <omitDisabled>true</omitDisabled>                      <!-- required -->
        <fullAllChar>true</fullAllChar>                        <!-- 全角 only -->
        <char><range><number>12</number></range></char>       <!-- at most 12 characters -->
      </checkItem>
      <checkItem>
        <errtag>/DataRoot/資格取得届/被保険者/報酬月額/合計</errtag>
        <omitDisabled>true</omitDisabled>
        <numerical>true</numerical>                            <!-- 半角数字 -->
        <intDigit><number>9</number></intDigit>                <!-- at most 9 integer digits -->
      </checkItem>
      <checkItem>
        <errtag>/DataRoot/資格取得届/被保険者/住所/郵便番号</errtag>
        <numerical>true</numerical>
        <char><range><number>7</number><equal>true</equal></range></char>  <!-- exactly 7 -->
      </checkItem>
    </checkItems>

Where it comes from: the rule elements (``checkItem``, ``errtag``, ``omitDisabled``, ``numerical``,
``fullAllChar``, ``char/range/number`` with ``equal``, ``intDigit/number``) are the ones real
clients read from e-Gov's files. e-Gov's manuals and the OpenAPI document do not spell out the
rest, so these are this project's choice of what such a file most plausibly looks like: the root
element ``checkItems``, ``errname`` for the reported item name, flags written as ``true`` (an empty
element counts as true, ``false``/``0`` as off), ``equal`` inside ``range``, and ``errtag`` written
as an absolute path from ``DataRoot`` (so ``doc.xpath(errtag)`` finds the element). The reader is
lenient about what it cannot know: any root element, relative ``errtag`` paths (taken below
``DataRoot``), ``[n]`` steps, unknown elements (ignored), ``equal`` anywhere below ``char``.

Wording: 未入力のままになっている必須入力項目があります。… is what e-Gov reports (seed manuals); the
messages of the other rules are this project's, written to match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from .errors import NA, PackageError
from .safexml import parse_xml

__all__ = [
    "KOUSEI_CHECK_FILE",
    "MISSING_REQUIRED",
    "NOT_FULL_WIDTH",
    "NOT_NUMERIC",
    "CheckProblem",
    "CheckRule",
    "FormCheck",
    "check_file_name",
    "parse_check_file",
    "write_check_file",
]

KOUSEI_FORM_ID = "999000000000000001"

# e-Gov's message for an empty required item. The seed manual (001, エラー一覧) shows it as
# 「…あります。入力内容を再度確認してください。」; the project has always used the form below
# (features, 自動返戻 cases in the TOMLs), kept here unchanged so one constant serves both.
MISSING_REQUIRED = "未入力のままになっている必須入力項目があります。入力内容を確認してください。"
# the other rules: this project's wording in the same style
NOT_NUMERIC = "半角数字で入力してください。"
NOT_FULL_WIDTH = "全角文字で入力してください。"


def too_long(limit: int) -> str:
    return f"{limit}文字以内で入力してください。"


def wrong_length(length: int) -> str:
    return f"{length}文字で入力してください。"


def too_many_digits(digits: int) -> str:
    return f"整数部は{digits}桁以内で入力してください。"


def check_file_name(form_id: str) -> str:
    """``{form_id}check.xml``, beside the form in the skeleton."""
    return f"{form_id}check.xml"


KOUSEI_CHECK_FILE = check_file_name(KOUSEI_FORM_ID)

_NUMERIC = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_STEP_PREDICATE = re.compile(r"\[[^\]]*\]$")
WHOLE_INDEX_RULES = 8  # a check file with more rules looks them up in one index of the form (ElementIndex)
_OFF = frozenset({"false", "0", "no", "off"})
# 全角: wide, fullwidth and the East Asian ambiguous characters (※, ○, ×, Greek, Cyrillic, ...),
# i.e. what Shift_JIS writes in two bytes; half-width katakana (H) and ASCII (Na) are not.
_FULL_WIDTH = frozenset({"F", "W", "A"})


# ---------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class CheckRule:
    """One ``checkItem``."""

    path: str  # errtag: '/DataRoot/<data element>/a/b'
    label: str = ""  # errname; the last step of the path when empty
    required: bool = False  # omitDisabled
    numeric: bool = False  # numerical (半角数字, optional sign and decimal part)
    full_width: bool = False  # fullAllChar
    max_length: int | None = None  # char/range/number
    length: int | None = None  # char/range/number with equal
    int_digits: int | None = None  # intDigit/number

    @property
    def name(self) -> str:
        return self.label or _steps(self.path)[-1]

    def problems(self, value: str | None) -> list[str]:
        """The messages for one value (None: the element is absent)."""
        text = (value or "").strip()
        if not text:
            return [MISSING_REQUIRED] if self.required else []
        found = []
        numeric_ok = True
        if self.numeric and not _NUMERIC.fullmatch(text):
            found.append(NOT_NUMERIC)
            numeric_ok = False
        if self.full_width and not all(unicodedata.east_asian_width(ch) in _FULL_WIDTH for ch in text):
            found.append(NOT_FULL_WIDTH)
        if self.length is not None and len(text) != self.length:
            found.append(wrong_length(self.length))
        elif self.max_length is not None and len(text) > self.max_length:
            found.append(too_long(self.max_length))
        if self.int_digits is not None and numeric_ok:
            integer = text.lstrip("+-").split(".", 1)[0]
            if sum(ch.isdigit() for ch in integer) > self.int_digits:
                found.append(too_many_digits(self.int_digits))
        return found


@dataclass(frozen=True)
class CheckProblem:
    """A broken rule, in the fields of an e-Gov ``report_list`` item."""

    content: str
    item: str
    file_name: str = NA
    form_name: str = NA
    path: str = ""  # errtag of the rule

    def to_report(self) -> dict[str, str]:
        return {"form_name": self.form_name, "attached_file_name": NA, "file_name": self.file_name,
                "item": self.item, "content": self.content}


@dataclass(frozen=True)
class FormCheck:
    """The parsed check file of one form (or of kousei.xml)."""

    form_id: str
    rules: tuple[CheckRule, ...]

    @property
    def required(self) -> tuple[CheckRule, ...]:
        return tuple(rule for rule in self.rules if rule.required)

    def values(self, root: etree._Element, rule: CheckRule, index: ElementIndex | None = None) -> list[str | None]:
        """The texts of the rule's elements in a parsed form ([None] when there is none). `index`: the
        form's ElementIndex, when several rules are looked up in it."""
        found = (index or ElementIndex(root)).find(rule.path)
        return [el.text for el in found] if found else [None]

    def problems(self, root: etree._Element, *, file_name: str = NA, form_name: str = NA) -> list[CheckProblem]:
        """Every broken rule of a parsed form (its DataRoot), in file order."""
        out = []
        index = ElementIndex(root, whole=len(self.rules) > WHOLE_INDEX_RULES)
        for rule in self.rules:
            for value in self.values(root, rule, index):
                out.extend(CheckProblem(content=message, item=rule.name, file_name=file_name, form_name=form_name,
                                        path=rule.path) for message in rule.problems(value))
        return out


# ---------------------------------------------------------------------------- paths


@lru_cache(maxsize=4096)
def _steps(path: str) -> tuple[str, ...]:
    steps = tuple(_STEP_PREDICATE.sub("", step) for step in path.strip().strip("/").split("/"))
    if not steps or any(not step for step in steps):
        raise ValueError(f"invalid errtag {path!r}")
    return steps


def find_elements(root: etree._Element, path: str) -> list[etree._Element]:
    """The elements an errtag names: '/DataRoot/a/b' from the document root, 'a/b' below it."""
    return ElementIndex(root).find(path)


class ElementIndex:
    """A form's elements by their path of tags below the root, in document order: one walk of the form
    answers every errtag of its check file (instead of one walk from the root per rule)."""

    def __init__(self, root: etree._Element, *, whole: bool = False) -> None:
        """`whole`: index the whole tree on the first look-up (worth it for many look-ups); else each
        look-up follows its path from the root."""
        self.root = root
        self.whole = whole
        self._by_path: dict[tuple[str, ...], list[etree._Element]] | None = None

    def find(self, path: str) -> list[etree._Element]:
        steps = _steps(path)
        if steps[0] == self.root.tag:
            steps = steps[1:]
        elif path.lstrip().startswith("/"):
            return []
        if not steps:
            return [self.root]
        if self._by_path is None:
            if not self.whole:
                return _follow(self.root, steps)
            self._by_path = {}
            self._walk(self.root, ())
        return self._by_path.get(steps, [])

    def _walk(self, element: etree._Element, prefix: tuple[str, ...]) -> None:
        for child in element:
            if isinstance(child.tag, str):
                key = (*prefix, child.tag)
                self._by_path.setdefault(key, []).append(child)  # type: ignore[union-attr]
                self._walk(child, key)


def _follow(root: etree._Element, steps: tuple[str, ...]) -> list[etree._Element]:
    current = [root]
    for step in steps:
        current = [child for el in current for child in el if isinstance(child.tag, str) and child.tag == step]
        if not current:
            break
    return current


# ---------------------------------------------------------------------------- reading


def _flag(item: etree._Element, tag: str) -> bool:
    el = item.find(tag)
    return el is not None and (el.text or "").strip().lower() not in _OFF


def _number(item: etree._Element, path: str, file_name: str) -> int | None:
    el = item.find(path)
    if el is None:
        return None
    text = (el.text or "").strip()
    if not text.isdigit() or int(text) < 1:
        raise PackageError("形式チェックファイルの形式に誤りがあります", file_name=file_name, item=path,
                           detail=f"{path} must be a positive integer, not {text!r}")
    return int(text)


def parse_check_file(data: bytes, *, file_name: str = NA) -> FormCheck:
    """Parse a form-check file (untrusted XML). Raises PackageError in e-Gov's words."""
    root = parse_xml(data, what="形式チェックファイル", file_name=file_name)
    rules = []
    for item in root.iter("checkItem"):
        errtag = item.find("errtag")
        path = (errtag.text or "").strip() if errtag is not None else ""
        try:
            _steps(path)
        except ValueError:
            raise PackageError("形式チェックファイルの形式に誤りがあります", file_name=file_name, item="errtag",
                               detail=f"checkItem without a valid errtag ({path!r})") from None
        char = item.find("char")
        exact = char is not None and any((el.text or "").strip().lower() not in _OFF for el in char.iter("equal"))
        size = _number(item, "char/range/number", file_name)
        rules.append(CheckRule(
            path=path,
            label=(item.findtext("errname") or "").strip(),
            required=_flag(item, "omitDisabled"),
            numeric=_flag(item, "numerical"),
            full_width=_flag(item, "fullAllChar"),
            max_length=None if exact else size,
            length=size if exact else None,
            int_digits=_number(item, "intDigit/number", file_name),
        ))
    form_id = root.get("formId") or (file_name.removesuffix("check.xml") if file_name != NA else "")
    return FormCheck(form_id=form_id, rules=tuple(rules))


# ---------------------------------------------------------------------------- writing


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def write_check_file(form_id: str, rules: Iterable[CheckRule]) -> bytes:
    """The check file of a form, in the structure parse_check_file reads."""
    root = etree.Element("checkItems", formId=form_id)
    for rule in rules:
        item = _sub(root, "checkItem")
        _sub(item, "errtag", rule.path)
        if rule.label:
            _sub(item, "errname", rule.label)
        for flag, tag in ((rule.required, "omitDisabled"), (rule.numeric, "numerical"),
                          (rule.full_width, "fullAllChar")):
            if flag:
                _sub(item, tag, "true")
        size = rule.length if rule.length is not None else rule.max_length
        if size is not None:
            rng = _sub(_sub(item, "char"), "range")
            _sub(rng, "number", str(size))
            if rule.length is not None:
                _sub(rng, "equal", "true")
        if rule.int_digits is not None:
            _sub(_sub(item, "intDigit"), "number", str(rule.int_digits))
    etree.indent(root, space="\t")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8",
                                                                     xml_declaration=False) + b"\n"
