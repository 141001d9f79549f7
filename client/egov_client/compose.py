"""Fill a skeleton (or an unzipped package folder) from a values file and sign it: what
`egov submit --dir/--proc --values --p12` does before sending.

Values file (JSON, or TOML by extension)::

    {"apply_type": "新規申請", "first_arrive_id": "",
     "applicant": {"name": "山田　太郎", "name_kana": "ヤマダ　タロウ", "corporation_name": "…", …},
     "contact": {…},                       # defaults to the applicant
     "destination": {"id": "…", "name": "…"},
     "forms": {"950A01070000500001": {"被保険者/氏名/氏": "山田", …}},
     "attachments": [{"path": "ininjou.pdf", "title": "委任状"}]}

Relative attachment paths are read from the values file's folder.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from egov_format.package import KOUSEI_FILE, ApplicationPackage, Skeleton
from egov_format.safexml import parse_xml
from egov_format.signing import Signer

from .errors import PackageError

MAX_DIR_FILES = 2000


def load_values(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    text = path.read_bytes()
    try:
        data = tomllib.loads(text.decode("utf-8")) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PackageError(f"値ファイル({path.name})の形式に誤りがあります: {exc}", detail="bad values file") from None
    if not isinstance(data, dict):
        raise PackageError(f"値ファイル({path.name})はオブジェクトで指定してください。", detail="bad values file")
    data.setdefault("_base_dir", str(path.parent))
    data.setdefault("_file", path.name)
    return data


KNOWN_KEYS = {"apply_type", "first_arrive_id", "applicant", "contact", "destination", "forms", "attachments"}


@contextmanager
def _at(values: Mapping[str, Any], where: str) -> Iterator[None]:
    """Errors while applying one part of a values file name that part (the path to fix)."""
    try:
        yield
    except PackageError as exc:
        if getattr(exc, "detail", "") == "bad values file":
            raise  # already names its place
        raise PackageError(f"値ファイル({values.get('_file', '')})の {where}: {exc.message}", file_name=exc.file_name,
                           item=exc.item, detail="bad values file") from None
    except (TypeError, ValueError, KeyError, AttributeError, OSError) as exc:
        raise PackageError(f"値ファイル({values.get('_file', '')})の {where} に誤りがあります: {exc}",
                           detail="bad values file") from None


def package_from_dir(folder: str | Path) -> ApplicationPackage:
    """An unzipped skeleton or package: kousei.xml in the folder, or in its single proc_id subfolder."""
    root = Path(folder)
    if not (root / KOUSEI_FILE).is_file():
        subs = [p for p in root.iterdir() if p.is_dir() and (p / KOUSEI_FILE).is_file()]
        if len(subs) != 1:
            raise PackageError(f"{root} に構成管理XMLファイル(kousei.xml)が見つかりません", file_name=KOUSEI_FILE,
                               detail="no kousei.xml in the folder or its one subfolder")
        root = subs[0]
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise PackageError(f"シンボリックリンク({path.name})は使用できません", detail="symlink in package folder")
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
            if len(files) > MAX_DIR_FILES:
                raise PackageError("ファイル数が多すぎます", detail="too many files")
    kousei = parse_xml(files[KOUSEI_FILE], what="構成管理XML", file_name=KOUSEI_FILE)
    proc_id = "".join(kousei.xpath("string(.//管理情報/手続番号/手続ID)")).strip() or root.name
    return ApplicationPackage(proc_id, files[KOUSEI_FILE], files)


def package_from_skeleton(skeleton_zip: bytes) -> ApplicationPackage:
    return ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton_zip))


def fill(package: ApplicationPackage, values: Mapping[str, Any]) -> ApplicationPackage:
    """Apply a values file to a package (before signing). An error names the part of the file to fix."""
    unknown = sorted(k for k in values if not k.startswith("_") and k not in KNOWN_KEYS)
    if unknown:
        raise PackageError(f"値ファイル({values.get('_file', '')})に不明なキーがあります: {', '.join(unknown)}"
                           f"（使えるキー: {', '.join(sorted(KNOWN_KEYS))}）", detail="bad values file")
    if values.get("apply_type") or values.get("first_arrive_id"):
        with _at(values, "apply_type / first_arrive_id"):
            package.set_apply_type(values.get("apply_type") or "新規申請", values.get("first_arrive_id") or None)
    applicant = values.get("applicant")
    if applicant:
        with _at(values, "applicant"):
            package.set_applicant(**applicant)
        with _at(values, "contact" if values.get("contact") else "applicant (連絡先にも使います)"):
            package.set_contact(**(values.get("contact") or applicant))
    elif values.get("contact"):
        with _at(values, "contact"):
            package.set_contact(**values["contact"])
    destination = values.get("destination")
    if destination:
        with _at(values, "destination"):
            package.set_destination(str(destination.get("id", "")), str(destination.get("name", "")))
    for form, items in (values.get("forms") or {}).items():
        with _at(values, f'forms."{form}"'):
            for path, value in items.items():
                with _at(values, f'forms."{form}"."{path}"'):
                    package.set_form_value(form, path, value)
    base = Path(values.get("_base_dir") or ".")
    for i, attachment in enumerate(values.get("attachments") or []):
        with _at(values, f"attachments[{i}]"):
            path = Path(attachment["path"])
            package.add_attachment(path if path.is_absolute() else base / path,
                                   title=attachment.get("title") or path.name, kind=attachment.get("kind") or "添付")
    return package


def compose(package: ApplicationPackage, values: Mapping[str, Any] | None, signer: Signer | None) -> bytes:
    """Fill, sign (replacing any earlier signature) and zip."""
    if values:
        if package.is_signed:
            package.drop_signatures()
        fill(package, values)
    if signer is not None:
        if package.is_signed:
            package.drop_signatures()
        package.sign(signer)
    return package.to_zip()
