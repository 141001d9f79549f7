"""Application packages: build and sign them (client), parse untrusted ones (simulator).

A package is a zip with one root folder named after the proc_id holding kousei.xml (構成管理XML),
one 申請書XML per form, their XSL / server-check files and the attachments.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TypedDict

from lxml import etree

from .errors import (
    AttachmentPolicyError,
    NonAsciiFileNameWarning,
    PackageError,
    PackageTooLargeError,
    SignatureError,
)
from .formcheck import (
    KOUSEI_CHECK_FILE,
    CheckProblem,
    FormCheck,
    check_file_name,
    parse_check_file,
)
from .safexml import parse_xml, serialize_xml
from .signing import (
    DS_NS,
    HOLDER_TAG,
    KOUSEI_ID,
    SignatureInfo,
    Signer,
    listed_form_files,
    sign_kousei,
    verify_kousei,
)
from .zipsafe import MAX_FILE_BYTES, read_zip, write_zip

__all__ = [
    "APPLY_TYPES",
    "CONFIGURATION_FORM_ID",
    "CONFIGURATION_TARGET",
    "PERSON_FIELDS",
    "WITHDRAWAL_PROC_ID",
    "ApplicationPackage",
    "AttachmentEntry",
    "AttachmentPolicy",
    "FormEntry",
    "ParsedPackage",
    "RequiredItemStatus",
    "Skeleton",
    "build_withdrawal_package",
    "parse_package",
    "verify_configuration",
]

KOUSEI_FILE = "kousei.xml"
# 個別署名形式: a separately signed 構成情報 file names the one file it signs here (catalogue's own layout)
CONFIGURATION_FORM_ID = "999000000000000002"
CONFIGURATION_TARGET = "署名対象ファイル名称"
WITHDRAWAL_PROC_ID = "9990000000000003"
WITHDRAWAL_FORM_FILE = "torisageirai.xml"
APPLY_TYPES = ("新規申請", "再提出", "部分補正", "取下げ依頼")
_NEEDS_FIRST_ARRIVE_ID = frozenset({"再提出", "部分補正", "取下げ依頼"})

# friendly key -> child of 申請者情報 / 連絡先情報, in schema order
PERSON_FIELDS: dict[str, str] = {
    "name": "氏名",
    "name_kana": "氏名フリガナ",
    "title": "役職",
    "corporation_name": "法人団体名",
    "corporation_name_kana": "法人団体名フリガナ",
    "department": "部門名",
    "department_kana": "部門名フリガナ",
    "postal_code": "郵便番号",
    "address": "住所",
    "address_kana": "住所フリガナ",
    "phone": "電話番号",
    "fax": "FAX番号",
    "email": "電子メールアドレス",
}
_PERSON_ORDER = tuple(PERSON_FIELDS.values())
_KOUSEI_ORDER = (
    "管理情報",
    "添付書類属性情報",
    "手数料情報",
    "通信欄",
    "府省照会情報",
    "提出先情報",
    "申請書属性情報",
)
_KANRI_ORDER = ("手続番号", "手続名称", "初回受付番号", "申請種別", "申請者連絡先情報")
_CONTACTS_ORDER = ("申請者情報", "連絡先情報", "委任登録票添付情報")
_DESTINATION_ORDER = ("提出先識別子", "提出先名称")
_FORM_META = frozenset({"様式ID", "様式バージョン", "STYLESHEET", "様式コピー情報", "Doctype"})
_DATA_DIR = "data"


# ---------------------------------------------------------------------------- small XML helpers


def _elements(parent: etree._Element) -> Iterable[etree._Element]:
    return (child for child in parent if isinstance(child.tag, str))


def _insert_in_order(parent: etree._Element, element: etree._Element, order: Sequence[str]) -> etree._Element:
    """Insert after the last child that comes no later than ``element`` in ``order``; keep indentation."""
    rank = order.index(element.tag) if element.tag in order else len(order)
    anchor = None
    for child in _elements(parent):
        if child.tag in order and order.index(child.tag) <= rank:
            anchor = child
    if anchor is not None:
        anchor.addnext(element)
        element.tail = anchor.tail
    else:
        parent.insert(0, element)
        element.tail = parent.text
    return element


def _ensure_child(parent: etree._Element, tag: str, order: Sequence[str]) -> etree._Element:
    found = parent.find(tag)
    return found if found is not None else _insert_in_order(parent, etree.Element(tag), order)


def _text(parent: etree._Element | None, path: str) -> str:
    el = parent.find(path) if parent is not None else None
    return (el.text or "").strip() if el is not None else ""


def _walk(start: etree._Element, parts: Sequence[str]) -> etree._Element | None:
    el: etree._Element | None = start
    for part in parts:
        el = next((child for child in _elements(el) if child.tag == part), None)
        if el is None:
            return None
    return el


def _data_element(form_root: etree._Element) -> etree._Element:
    """The form's data element below DataRoot (the first child that is not 様式ID / STYLESHEET / ...)."""
    return next((child for child in _elements(form_root) if child.tag not in _FORM_META), form_root)


def _locate(form_root: etree._Element, path: str) -> etree._Element | None:
    """'/a/b' is anchored at DataRoot ('/DataRoot/a/b', a check file's errtag, too); 'a/b' is tried
    below the data element, then searched for."""
    parts = path.strip("/").split("/")
    if not path.strip("/") or any(not part for part in parts):
        raise ValueError(f"invalid element path {path!r}")
    if path.startswith("/"):
        if len(parts) > 1 and parts[0] == form_root.tag:
            parts = parts[1:]
        return _walk(form_root, parts)
    hit = _walk(_data_element(form_root), parts)
    if hit is not None:
        return hit
    for candidate in form_root.iter(etree.Element):
        if candidate.tag == parts[0] and (hit := _walk(candidate, parts[1:])) is not None:
            return hit
    return None


def _leaf_paths(start: etree._Element) -> dict[str, str]:
    values: dict[str, str] = {}

    def visit(el: etree._Element, prefix: str) -> None:
        children = list(_elements(el))
        if not children:
            values.setdefault(prefix, el.text or "")
        for child in children:
            visit(child, f"{prefix}/{child.tag}" if prefix else child.tag)

    for child in _elements(start):
        visit(child, child.tag)
    return values


def _base_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _resource(name: str) -> bytes:
    return resources.files(__package__).joinpath(_DATA_DIR, name).read_bytes()


# ---------------------------------------------------------------------------- entries of kousei.xml


class FormEntry(TypedDict):
    form_id: str
    version: str
    name: str
    file_name: str


class AttachmentEntry(TypedDict):
    kind: str
    name: str
    file_name: str
    submission: str  # 提出情報: "1" = attached electronically


def _form_entries(kousei: etree._Element) -> list[FormEntry]:
    return [
        FormEntry(
            form_id=_text(el, "申請書様式ID"),
            version=_text(el, "申請書様式バージョン"),
            name=_text(el, "申請書様式名称"),
            file_name=_text(el, "申請書ファイル名称"),
        )
        for el in kousei.iterfind(f"{KOUSEI_ID}/申請書属性情報")
    ]


def _attachment_entries(kousei: etree._Element) -> list[AttachmentEntry]:
    return [
        AttachmentEntry(
            kind=_text(el, "添付種別"),
            name=_text(el, "添付書類名称"),
            file_name=_text(el, "添付書類ファイル名称"),
            submission=_text(el, "提出情報"),
        )
        for el in kousei.iterfind(f"{KOUSEI_ID}/添付書類属性情報")
    ]


def _person(el: etree._Element | None) -> dict[str, str]:
    """{element name: text} of 申請者情報 / 連絡先情報 (keys as in the XML: 氏名, 住所, ...)."""
    return {tag: _text(el, tag) for tag in _PERSON_ORDER} if el is not None else {}


def _split_root(entries: Mapping[str, bytes]) -> tuple[str, dict[str, bytes]]:
    """Require exactly one root folder; return it and the files relative to it."""
    roots = {name.split("/", 1)[0] for name in entries}
    if not entries or len(roots) != 1 or any("/" not in name for name in entries):
        raise PackageError(
            "申請データのフォルダ構成に誤りがあります",
            detail="a package holds exactly one root folder named after the proc_id",
        )
    return roots.pop(), {name.split("/", 1)[1]: content for name, content in entries.items()}


def _parse_kousei(data: bytes) -> etree._Element:
    root = parse_xml(data, what="構成管理XML", file_name=KOUSEI_FILE)
    if root.tag != "DataRoot" or root.find(f"{KOUSEI_ID}/管理情報") is None:
        raise PackageError(
            "構成管理XMLファイルの形式に誤りがあります",
            file_name=KOUSEI_FILE,
            item=KOUSEI_ID,
            detail="DataRoot/構成情報/管理情報 is required",
        )
    if len(root.findall(KOUSEI_ID)) > 1:  # the forms and attachments read must be the ones signed
        raise PackageError(
            "構成管理XMLファイルの形式に誤りがあります",
            file_name=KOUSEI_FILE,
            item=KOUSEI_ID,
            detail="more than one DataRoot/構成情報",
        )
    return root


# ---------------------------------------------------------------------------- 個別署名形式


def _parse_configuration(name: str, data: bytes) -> etree._Element:
    root = parse_xml(data, what="構成情報XML", file_name=name)
    if root.tag != "DataRoot" or len(root.findall(KOUSEI_ID)) != 1:
        raise PackageError(
            f"構成情報ファイル({name})の形式に誤りがあります",
            file_name=name,
            item=KOUSEI_ID,
            detail="DataRoot with one 構成情報 is required",
        )
    return root


def is_configuration_file(data: bytes) -> bool:
    """Whether a package file is a separately signed 構成情報 file (個別署名形式)."""
    try:
        root = parse_xml(data)
    except PackageError:
        return False
    return root.tag == "DataRoot" and root.find(f"{KOUSEI_ID}/{CONFIGURATION_TARGET}") is not None


def verify_configuration(
    name: str, files: Mapping[str, bytes], *, kind: str = "申請書"
) -> tuple[str, list[SignatureInfo]]:
    """Verify the 構成情報 file ``name``: signed, Reference #構成情報 plus exactly the file it names.

    Returns that file's name and the signatures (co-signers included). ``kind`` names the signed
    file in messages (申請書ファイル(…) / 添付書類ファイル(…)); other errors name ``name``.
    """
    if name not in files:
        raise PackageError(f"構成情報ファイル({name})が存在しません", file_name=name, detail="missing")
    root = _parse_configuration(name, files[name])
    target = _text(root, f"{KOUSEI_ID}/{CONFIGURATION_TARGET}")
    if not target or target not in files or target == name:
        raise SignatureError(
            f"構成情報ファイル({name})の署名対象ファイル({target or '未設定'})が存在しません",
            file_name=name,
            item=CONFIGURATION_TARGET,
            detail="the file a 構成情報 file signs must be in the package",
        )
    try:
        infos = verify_kousei(root, dict(files), required=True, signed_files=[target])
    except SignatureError as exc:
        exc.file_name = name if exc.file_name == KOUSEI_FILE else exc.file_name
        exc.message = exc.message.replace(f"申請書ファイル({target})", f"{kind}ファイル({target})")
        raise
    for info in infos:
        if info.referenced_files != [target]:
            raise SignatureError(
                f"署名の検証に失敗しました。構成情報ファイル({name})の署名対象に誤りがあります。",
                file_name=name,
                item="署名情報",
                detail=f"references {info.referenced_files}, expected only {target!r}",
            )
    return target, infos


# ---------------------------------------------------------------------------- attachment policy


DEFAULT_EXTENSIONS = frozenset(
    {"pdf", "jpg", "jpeg", "png", "gif", "tif", "tiff", "txt", "csv", "xml", "doc", "docx", "xls", "xlsx"}
)


@dataclass(frozen=True)
class AttachmentPolicy:
    """Which attachments to accept. Default: what the real sandbox accepted; strict(): the vendor manual."""

    extensions: frozenset[str] = DEFAULT_EXTENSIONS
    max_bytes: int | None = None  # None: the e-Gov limit of 50 MB per file

    @classmethod
    def default(cls) -> AttachmentPolicy:
        return cls()

    @classmethod
    def strict(cls) -> AttachmentPolicy:
        return cls(extensions=frozenset({"jpg", "jpeg", "pdf"}))

    @property
    def limit(self) -> int:
        return self.max_bytes if self.max_bytes is not None else MAX_FILE_BYTES

    def allows(self, file_name: str) -> bool:
        stem, dot, ext = file_name.rpartition(".")
        return bool(dot and stem) and ext.lower() in self.extensions

    def check(self, file_name: str, size: int) -> None:
        if size > self.limit:
            raise PackageTooLargeError(
                f"添付書類ファイル({file_name})のサイズが上限({self.limit / (1024 * 1024):g}MB)を超えています",
                limit=self.limit,
                attached_file_name=file_name,
                detail=f"{size} bytes > {self.limit}",
            )
        if not self.allows(file_name):
            allowed = ", ".join(sorted(self.extensions))
            raise AttachmentPolicyError(
                f"添付書類ファイル({file_name})の形式は添付できません(添付可能な形式: {allowed})",
                attached_file_name=file_name,
                detail="file extension not allowed by the attachment policy",
            )


# ---------------------------------------------------------------------------- form-check files


def _form_checks(kousei: etree._Element, files: Mapping[str, bytes]) -> dict[str, tuple[FormEntry | None, FormCheck]]:
    """{file checked: (its kousei entry, the rules)} from the check files present: each listed form's
    ``{form_id}check.xml`` and kousei.xml's ``999000000000000001check.xml``."""
    checks: dict[str, tuple[FormEntry | None, FormCheck]] = {}
    if KOUSEI_CHECK_FILE in files:
        checks[KOUSEI_FILE] = (None, parse_check_file(files[KOUSEI_CHECK_FILE], file_name=KOUSEI_CHECK_FILE))
    for entry in _form_entries(kousei):
        name = check_file_name(entry["form_id"])
        if entry["file_name"] and name in files and entry["file_name"] not in checks:
            checks[entry["file_name"]] = (entry, parse_check_file(files[name], file_name=name))
    return checks


@dataclass(frozen=True)
class RequiredItemStatus:
    """A required item (omitDisabled) of a form or of kousei.xml, and whether it is filled."""

    file_name: str  # the form's file name, or kousei.xml
    form_name: str  # "-" for kousei.xml
    item: str  # the name e-Gov reports (errname)
    path: str  # errtag: '/DataRoot/...'; set_form_value(file_name, path, value) fills a form item
    value: str | None  # None: the element is absent

    @property
    def filled(self) -> bool:
        return bool((self.value or "").strip())


# ---------------------------------------------------------------------------- skeleton


@dataclass(frozen=True)
class Skeleton:
    """The skeleton zip of ``GET /procedure/{proc_id}``: kousei.xml, empty forms, XSL, check files."""

    proc_id: str
    files: dict[str, bytes]  # relative to the root folder, kousei.xml included
    kousei: etree._Element
    form_files: list[str]

    @classmethod
    def from_zip(cls, data: bytes) -> Skeleton:
        entries = read_zip(data)
        try:
            folder: str | None
            folder, files = _split_root(entries)
        except PackageError:
            if KOUSEI_FILE not in entries:  # tolerate a skeleton without the wrapper folder
                raise
            folder, files = None, dict(entries)
        if KOUSEI_FILE not in files:
            raise PackageError(
                "構成管理XMLファイルが存在しません", file_name=KOUSEI_FILE, detail="no kousei.xml"
            )
        kousei = _parse_kousei(files[KOUSEI_FILE])
        proc_id = folder or _text(kousei, f"{KOUSEI_ID}/管理情報/手続番号/手続ID")
        return cls(proc_id=proc_id, files=files, kousei=kousei, form_files=listed_form_files(kousei))

    @property
    def form_checks(self) -> dict[str, FormCheck]:
        """{form file name (or kousei.xml): the rules of its check file}, for the check files present."""
        return {name: check for name, (_entry, check) in _form_checks(self.kousei, self.files).items()}

    def form_check(self, form_file_or_id: str) -> FormCheck | None:
        """The check rules of one form (by file name or form_id), None without a check file."""
        for entry in _form_entries(self.kousei):
            if form_file_or_id in (entry["file_name"], entry["form_id"]):
                return self.form_checks.get(entry["file_name"])
        return self.form_checks.get(form_file_or_id)


# ---------------------------------------------------------------------------- builder


class ApplicationPackage:
    """A mutable package builder. Sign last: changes after signing raise until drop_signatures()."""

    def __init__(self, proc_id: str, kousei_xml: bytes, files: Mapping[str, bytes] | None = None) -> None:
        self.proc_id = proc_id
        self._kousei = _parse_kousei(kousei_xml)
        self._crlf: dict[str, bool] = {KOUSEI_FILE: b"\r\n" in kousei_xml}
        self._files: dict[str, bytes] = {n: bytes(b) for n, b in (files or {}).items() if n != KOUSEI_FILE}
        self._form_cache: dict[str, etree._Element] = {}

    @classmethod
    def from_skeleton(cls, skeleton: Skeleton) -> ApplicationPackage:
        return cls(skeleton.proc_id, skeleton.files[KOUSEI_FILE], skeleton.files)

    @classmethod
    def from_zip(cls, data: bytes) -> ApplicationPackage:
        """Reopen a package (e.g. to co-sign it or to fix it after dropping its signatures)."""
        parsed = parse_package(data)
        return cls(parsed.folder, parsed.files[KOUSEI_FILE], parsed.files)

    # -- reading

    @property
    def kousei(self) -> etree._Element:
        """The DataRoot of kousei.xml (edit it directly only before signing)."""
        return self._kousei

    @property
    def form_files(self) -> list[str]:
        return listed_form_files(self._kousei)

    @property
    def attachments(self) -> list[AttachmentEntry]:
        return _attachment_entries(self._kousei)

    @property
    def signatures(self) -> list[etree._Element]:
        return self._kousei.findall(f"{HOLDER_TAG}/{{{DS_NS}}}Signature")

    @property
    def is_signed(self) -> bool:
        return bool(self.signatures)

    @property
    def files(self) -> dict[str, bytes]:
        """Every file of the package (a copy), kousei.xml first."""
        return {KOUSEI_FILE: self.kousei_bytes(), **self._files}

    def kousei_bytes(self) -> bytes:
        return serialize_xml(self._kousei, crlf=self._crlf[KOUSEI_FILE])

    def file_bytes(self, name: str) -> bytes:
        return self.kousei_bytes() if name == KOUSEI_FILE else self._files[name]

    def form_value(self, form_file_or_id: str, path: str) -> str:
        name = self._form_name(form_file_or_id)
        return self._form_element(name, path).text or ""

    def form_values(self, form_file_or_id: str, *paths: str) -> dict[str, str]:
        """{path: value} for the given paths, or for every leaf below the data element."""
        name = self._form_name(form_file_or_id)
        if paths:
            return {path: self._form_element(name, path).text or "" for path in paths}
        return _leaf_paths(_data_element(self._form_root(name)))

    def verify(self, *, required: bool = False) -> list[SignatureInfo]:
        return verify_kousei(self._kousei, self._files, required=required)

    # -- 形式チェック (from the skeleton's check files)

    def _checked_files(self, skeleton: Skeleton | None) -> list[tuple[str, str, FormCheck, etree._Element | None]]:
        """(file name, form name, rules, parsed root or None) for every file with a check file."""
        sources = skeleton.files if skeleton is not None else self._files
        out = []
        for name, (entry, check) in _form_checks(self._kousei, sources).items():
            if name == KOUSEI_FILE:
                out.append((name, "-", check, self._kousei))
            else:
                root = self._form_root(name) if name in self._files else None
                out.append((name, (entry["name"] if entry else "") or "-", check, root))
        return out

    def required_items(self, skeleton: Skeleton | None = None) -> list[RequiredItemStatus]:
        """Every required item (omitDisabled) the check files name, with its current value.

        The check files come from ``skeleton`` or, by default, from the package itself (a package
        made with from_skeleton carries them). ``[i for i in ... if not i.filled]`` is what is left.
        """
        items = []
        for name, form_name, check, root in self._checked_files(skeleton):
            for rule in check.required:
                values = check.values(root, rule) if root is not None else [None]
                items.extend(RequiredItemStatus(file_name=name, form_name=form_name, item=rule.name, path=rule.path,
                                                value=value) for value in values)
        return items

    def missing_required(self, skeleton: Skeleton | None = None) -> list[RequiredItemStatus]:
        return [item for item in self.required_items(skeleton) if not item.filled]

    def check(self, skeleton: Skeleton | None = None) -> list[CheckProblem]:
        """What the server's 形式チェック of items would refuse: every broken check-file rule.

        Report-like items (``.to_report()`` is a report_list item) in e-Gov's wording; [] when the
        package passes. Structure, attachments and signatures are not covered (see validate/verify).
        """
        problems: list[CheckProblem] = []
        for name, form_name, check, root in self._checked_files(skeleton):
            if root is None:
                continue  # a missing form file: validate() reports it
            problems.extend(check.problems(root, file_name=name, form_name=form_name))
        return problems

    # -- 構成情報

    def _check_mutable(self) -> None:
        if self.is_signed:
            raise PackageError(
                "署名済みの申請データは変更できません。変更する場合は署名を削除してください。",
                file_name=KOUSEI_FILE,
                item=HOLDER_TAG,
                detail="any change after signing invalidates the signature; call drop_signatures()",
            )

    def _kanri(self) -> etree._Element:
        info = self._kousei.find(KOUSEI_ID)
        return _ensure_child(info, "管理情報", _KOUSEI_ORDER)

    def set_apply_type(self, kind: str, first_arrive_id: str | None = None) -> None:
        """申請種別 (新規申請 / 再提出 / 部分補正 / 取下げ依頼 ...) and 初回受付番号 (the original arrive_id)."""
        if not kind:
            raise ValueError("申請種別 is required")
        if kind in _NEEDS_FIRST_ARRIVE_ID and not first_arrive_id:
            raise ValueError(f"{kind} requires first_arrive_id (初回受付番号 = the original arrive_id)")
        self._check_mutable()
        kanri = self._kanri()
        _ensure_child(kanri, "申請種別", _KANRI_ORDER).text = kind
        _ensure_child(kanri, "初回受付番号", _KANRI_ORDER).text = first_arrive_id or ""

    def set_procedure_name(self, name: str) -> None:
        self._check_mutable()
        _ensure_child(self._kanri(), "手続名称", _KANRI_ORDER).text = name

    def _set_person(self, which: str, fields: Mapping[str, object]) -> None:
        unknown = sorted(set(fields) - set(PERSON_FIELDS))
        if unknown:
            raise TypeError(f"unknown field(s) {unknown}; known: {list(PERSON_FIELDS)}")
        self._check_mutable()
        contacts = _ensure_child(self._kanri(), "申請者連絡先情報", _KANRI_ORDER)
        person = _ensure_child(contacts, which, _CONTACTS_ORDER)
        for key, value in fields.items():
            _ensure_child(person, PERSON_FIELDS[key], _PERSON_ORDER).text = (
                "" if value is None else str(value)
            )

    def set_applicant(self, **fields: object) -> None:
        """申請者情報: name, name_kana, title, corporation_name, ..., phone, fax, email."""
        self._set_person("申請者情報", fields)

    def set_contact(self, **fields: object) -> None:
        """連絡先情報, same keys as set_applicant."""
        self._set_person("連絡先情報", fields)

    def set_destination(self, identifier: str, name: str) -> None:
        """提出先情報 (提出先識別子, 提出先名称)."""
        self._check_mutable()
        destination = _ensure_child(self._kousei.find(KOUSEI_ID), "提出先情報", _KOUSEI_ORDER)
        _ensure_child(destination, "提出先識別子", _DESTINATION_ORDER).text = identifier
        _ensure_child(destination, "提出先名称", _DESTINATION_ORDER).text = name

    # -- forms

    def _form_name(self, form_file_or_id: str) -> str:
        forms = _form_entries(self._kousei)
        name = next(
            (f["file_name"] for f in forms if form_file_or_id in (f["file_name"], f["form_id"])), None
        )
        if not name:
            raise PackageError(
                f"申請書({form_file_or_id})が存在しません",
                file_name=form_file_or_id,
                detail="no such form in 構成情報/申請書属性情報",
            )
        if name not in self._files:
            raise PackageError(
                f"申請書ファイル({name})が存在しません", file_name=name, detail="form file missing"
            )
        return name

    def _form_root(self, name: str) -> etree._Element:
        if name not in self._form_cache:
            data = self._files[name]
            self._form_cache[name] = parse_xml(data, what="申請書XML", file_name=name)
            self._crlf[name] = b"\r\n" in data
        return self._form_cache[name]

    def _form_element(self, name: str, path: str) -> etree._Element:
        el = _locate(self._form_root(name), path)
        if el is None:
            raise PackageError(
                f"申請書({name})に項目({path})が存在しません",
                file_name=name,
                item=path,
                detail="no element at this path",
            )
        return el

    def set_form_value(self, form_file_or_id: str, path: str, value: str | int) -> None:
        """Set a leaf of a form: path below the data element ('被保険者氏名', '生年月日/年') or '/'-anchored."""
        self._check_mutable()
        name = self._form_name(form_file_or_id)
        el = self._form_element(name, path)
        if next(iter(_elements(el)), None) is not None:
            raise PackageError(
                f"申請書({name})の項目({path})には値を設定できません",
                file_name=name,
                item=path,
                detail="element has child elements",
            )
        el.text = str(value)
        self._files[name] = serialize_xml(self._form_root(name), crlf=self._crlf[name])

    def set_form_values(self, form_file_or_id: str, values: Mapping[str, str | int]) -> None:
        for path, value in values.items():
            self.set_form_value(form_file_or_id, path, value)

    # -- attachments

    def add_attachment(
        self,
        file_path_or_name: str | Path,
        data: bytes | None = None,
        *,
        title: str,
        kind: str = "添付",
        policy: AttachmentPolicy | None = None,
    ) -> str:
        """Add a file and its 添付書類属性情報; reads ``file_path_or_name`` when ``data`` is None. Returns the name."""
        self._check_mutable()
        policy = policy or AttachmentPolicy.default()
        name = _base_name(str(file_path_or_name))
        source = Path(file_path_or_name) if data is None else None
        policy.check(name, source.stat().st_size if source is not None else len(data or b""))
        self._check_new_file_name(name)
        if not name.isascii():
            warnings.warn(
                f"添付書類ファイル名({name})に漢字等を使用すると、サーバーで文字コードの処理に失敗し、"
                "エラーになる場合があります (non-ASCII file names may fail on some servers)",
                NonAsciiFileNameWarning,
                stacklevel=2,
            )
        content = source.read_bytes() if source is not None else bytes(data or b"")
        policy.check(name, len(content))  # the file may have changed since stat()
        self._insert_attachment_entry(kind=kind, title=title, file_name=name)
        self._files[name] = content
        return name

    def _check_new_file_name(self, name: str) -> None:
        if not name or name in (".", "..") or "\x00" in name:
            raise PackageError(
                f"添付書類ファイル名({name!r})に誤りがあります",
                attached_file_name=name or "-",
                detail="invalid file name",
            )
        if name == KOUSEI_FILE or name in self._files:
            raise PackageError(
                f"同じ名前のファイル({name})が既に存在します",
                attached_file_name=name,
                detail="duplicate file name in the package",
            )

    def _insert_attachment_entry(self, *, kind: str, title: str, file_name: str) -> None:
        entry = _insert_in_order(
            self._kousei.find(KOUSEI_ID), etree.Element("添付書類属性情報"), _KOUSEI_ORDER
        )
        indent = entry.tail or ""
        entry.text = indent + "\t" if indent else None
        values = (
            ("添付種別", kind),
            ("添付書類名称", title),
            ("添付書類ファイル名称", file_name),
            ("提出情報", "1"),
        )
        for i, (tag, value) in enumerate(values):
            child = etree.SubElement(entry, tag)
            child.text = value
            child.tail = (indent + "\t" if i < len(values) - 1 else indent) if indent else None

    def remove_attachment(self, file_name: str) -> None:
        """Remove an attachment file and its 添付書類属性情報 (e.g. a placeholder from the skeleton)."""
        self._check_mutable()
        for el in self._kousei.iterfind(f"{KOUSEI_ID}/添付書類属性情報"):
            if _text(el, "添付書類ファイル名称") == file_name:
                previous = el.getprevious()
                if previous is not None:
                    previous.tail = el.tail
                el.getparent().remove(el)
        self._files.pop(file_name, None)

    # -- signing and output

    def sign(self, signer: Signer) -> ApplicationPackage:
        """Sign 構成情報 and every form (call last; calling again adds a co-signer)."""
        sign_kousei(self._kousei, self._files, signer, form_files=self.form_files)
        return self

    @property
    def configuration_files(self) -> list[str]:
        """The separately signed 構成情報 files of a 個別署名形式 package (from the skeleton)."""
        return [name for name, data in self._files.items() if name.endswith(".xml") and is_configuration_file(data)]

    def sign_configuration(self, file_name: str, signer: Signer, *, target: str | None = None) -> str:
        """個別署名形式: sign the 構成情報 file ``file_name`` and the one file it names.

        ``target`` sets that file first (e.g. the attachment an 添付書類署名 file signs). Sign after
        the forms and attachments are final; calling again adds a co-signer. Returns the target.
        """
        root = _parse_configuration(file_name, self._files[file_name]) if file_name in self._files else None
        if root is None or root.find(f"{KOUSEI_ID}/{CONFIGURATION_TARGET}") is None:
            raise PackageError(
                f"構成情報ファイル({file_name})が存在しません", file_name=file_name, detail="not a 構成情報 file"
            )
        element = root.find(f"{KOUSEI_ID}/{CONFIGURATION_TARGET}")
        if target is not None and (element.text or "").strip() != target:
            if root.find(HOLDER_TAG) is not None:
                raise PackageError(
                    "署名済みの申請データは変更できません。変更する場合は署名を削除してください。",
                    file_name=file_name,
                    item=HOLDER_TAG,
                    detail="the 構成情報 file is signed already",
                )
            element.text = target
        name = (element.text or "").strip()
        sign_kousei(root, self._files, signer, form_files=[name])
        self._files[file_name] = serialize_xml(root)
        return name

    def verify_configurations(self) -> dict[str, list[SignatureInfo]]:
        """{構成情報 file: its signatures}, each verified as the server does (SignatureError if not)."""
        return {name: verify_configuration(name, self._files)[1] for name in self.configuration_files}

    def drop_signatures(self) -> None:
        holder = self._kousei.find(HOLDER_TAG)
        if holder is not None:
            previous = holder.getprevious()
            if previous is not None:
                previous.tail = holder.tail
            self._kousei.remove(holder)

    def validate(self) -> None:
        """Every listed form and every electronically submitted attachment must be in the package."""
        for name in self.form_files:
            if name not in self._files:
                raise PackageError(
                    f"申請書ファイル({name})が存在しません", file_name=name, detail="form file missing"
                )
        for entry in self.attachments:
            if entry["submission"] == "1" and entry["file_name"] not in self._files:
                raise PackageError(
                    f"添付書類ファイル({entry['file_name']})が存在しません",
                    attached_file_name=entry["file_name"] or "-",
                    detail="attachment file missing",
                )

    def to_zip(self, *, validate: bool = True) -> bytes:
        """The package zip: one root folder named after the proc_id, kousei.xml and forms first."""
        if validate:
            self.validate()
        forms = [name for name in self.form_files if name in self._files]
        order = [*forms, *(name for name in self._files if name not in forms)]
        entries = {f"{self.proc_id}/{KOUSEI_FILE}": self.kousei_bytes()}
        entries.update((f"{self.proc_id}/{name}", self._files[name]) for name in order)
        return write_zip(entries)


# ---------------------------------------------------------------------------- withdrawal (取下げ依頼)


def build_withdrawal_package(
    *,
    target_arrive_id: str,
    proc_name: str,
    applicant_name: str,
    reason: str,
    request_date: date,
    applicant: Mapping[str, object] | None = None,
    contact: Mapping[str, object] | None = None,
) -> ApplicationPackage:
    """A 取下げ依頼 package for proc 9990000000000003 targeting ``target_arrive_id``.

    ``applicant`` / ``contact`` take the keys of set_applicant; the contact defaults to the applicant.
    """
    package = ApplicationPackage(
        WITHDRAWAL_PROC_ID,
        _resource(f"{WITHDRAWAL_PROC_ID}_base_kousei.xml"),
        {WITHDRAWAL_FORM_FILE: _resource(WITHDRAWAL_FORM_FILE)},
    )
    package.set_apply_type("取下げ依頼", target_arrive_id)
    package.set_procedure_name(proc_name)
    person = {"name": applicant_name, **(applicant or {})}
    package.set_applicant(**person)
    package.set_contact(**{"name": applicant_name, **(contact or person)})
    package.set_form_values(
        WITHDRAWAL_FORM_FILE,
        {
            "到達番号": target_arrive_id,
            "手続名称": proc_name,
            "申請者氏名": applicant_name,
            "依頼年月日/年": request_date.year,
            "依頼年月日/月": request_date.month,
            "依頼年月日/日": request_date.day,
            "理由": reason,
        },
    )
    return package


# ---------------------------------------------------------------------------- parsing (simulator side)


@dataclass(frozen=True)
class ParsedPackage:
    folder: str  # the root folder (should equal proc_id)
    files: dict[str, bytes]  # relative to the root folder, kousei.xml included
    kousei: etree._Element  # DataRoot of kousei.xml
    proc_id: str
    agency_id: str
    proc_name: str
    apply_type: str
    first_arrive_id: str
    applicant: dict[
        str, str
    ]  # 申請者情報 {氏名: ..., 住所: ...}; {} when absent (PERSON_FIELDS maps friendly keys)
    contact: dict[str, str]  # 連絡先情報, same keys
    destination: dict[str, str]  # {"提出先識別子": ..., "提出先名称": ...}
    forms: list[FormEntry]
    attachments: list[AttachmentEntry]
    form_roots: dict[str, etree._Element] = field(default_factory=dict)  # file name -> DataRoot

    def verify_signatures(self, *, required: bool = False) -> list[SignatureInfo]:
        return verify_kousei(self.kousei, self.files, required=required)


def parse_package(
    data: bytes,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = 200 * 1024 * 1024,
    max_entries: int = 2000,
) -> ParsedPackage:
    """Parse an untrusted package zip. Raises PackageError (and subclasses) in e-Gov's words."""
    entries = read_zip(
        data, max_entries=max_entries, max_file_bytes=max_file_bytes, max_total_bytes=max_total_bytes
    )
    folder, files = _split_root(entries)
    if KOUSEI_FILE not in files:
        raise PackageError("構成管理XMLファイルが存在しません", file_name=KOUSEI_FILE, detail="no kousei.xml")
    kousei = _parse_kousei(files[KOUSEI_FILE])
    kanri = kousei.find(f"{KOUSEI_ID}/管理情報")
    contacts = kanri.find("申請者連絡先情報")
    forms = _form_entries(kousei)
    return ParsedPackage(
        folder=folder,
        files=files,
        kousei=kousei,
        proc_id=_text(kanri, "手続番号/手続ID"),
        agency_id=_text(kanri, "手続番号/受付行政機関ID"),
        proc_name=_text(kanri, "手続名称"),
        apply_type=_text(kanri, "申請種別"),
        first_arrive_id=_text(kanri, "初回受付番号"),
        applicant=_person(contacts.find("申請者情報") if contacts is not None else None),
        contact=_person(contacts.find("連絡先情報") if contacts is not None else None),
        destination={tag: _text(kousei, f"{KOUSEI_ID}/提出先情報/{tag}") for tag in _DESTINATION_ORDER},
        forms=forms,
        attachments=_attachment_entries(kousei),
        form_roots=_parse_forms(forms, files),
    )


def _parse_forms(forms: list[FormEntry], files: Mapping[str, bytes]) -> dict[str, etree._Element]:
    roots: dict[str, etree._Element] = {}
    for form in forms:
        name = form["file_name"]
        if not name or name in roots:
            continue
        if name not in files:
            raise PackageError(
                f"申請書ファイル({name})が存在しません",
                file_name=name,
                form_name=form["name"] or "-",
                detail="form file listed in kousei.xml is missing",
            )
        try:
            roots[name] = parse_xml(files[name], what="申請書XML", file_name=name)
        except PackageError as exc:
            exc.form_name = form["name"] or "-"
            raise
    return roots
