"""個別署名形式: every 構成情報 file the procedure lists must be present, signed and verify.

A 構成情報 file signs ``#構成情報`` plus the one file it names: a 申請書 listed in kousei.xml for a
"form" file, an attachment listed in kousei.xml's 添付書類属性情報 for an "attachment" file.
"""

from __future__ import annotations

from egov_format.errors import PackageError
from egov_format.package import ParsedPackage, verify_configuration
from egov_format.reports import ReportItem
from egov_format.signing import SignatureInfo

from ..catalogue import Procedure


def check_configuration_files(proc: Procedure, package: ParsedPackage) -> tuple[list[SignatureInfo], list[ReportItem]]:
    """The signatures of the procedure's 構成情報 files and the problems found, in e-Gov's wording."""
    signatures: list[SignatureInfo] = []
    report: list[ReportItem] = []
    forms = {f["file_name"] for f in package.forms}
    attachments = {a["file_name"] for a in package.attachments}
    for config in proc.configuration_files:
        name = config.file_name
        expected, kind = (forms, "申請書") if config.signs == "form" else (attachments, "添付書類")
        try:
            target, infos = verify_configuration(name, package.files, kind=kind)
        except PackageError as exc:
            report.append(ReportItem(content=exc.message, file_name=exc.file_name if exc.file_name != "-" else name,
                                     item="署名情報" if exc.item in ("-", "") else exc.item))
            continue
        if target not in expected:
            report.append(ReportItem(content=f"構成情報ファイル({name})の署名対象ファイル({target})は"
                                             f"構成管理XMLに設定された{kind}ではありません",
                                     file_name=name, item="署名対象ファイル名称"))
            continue
        signatures.extend(infos)
    return signatures, report
