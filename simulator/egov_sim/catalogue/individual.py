"""個別署名形式: the separately signed 構成情報 files a procedure's skeleton ships beside kousei.xml.

e-Gov's document names them only in outline (``構成情報 × 個別署名必要数``, a 構成情報スタイルシート and
``configuration_file_name`` listing them after kousei.xml); the layout below is the catalogue's own:

    DataRoot/構成情報[@ID="構成情報"]/{手続番号/{受付行政機関ID, 手続ID}, 署名種別, 署名対象ファイル名称}

and each file is signed like kousei.xml: Reference ``#構成情報`` plus one Reference to the file it
names (the 申請書 for a "form" file, an attachment for an "attachment" file).
"""

from __future__ import annotations

from egov_format.package import CONFIGURATION_FORM_ID, CONFIGURATION_TARGET
from lxml import etree

from .catalogue import ConfigurationFile, Procedure

KINDS = {"form": "申請書署名", "attachment": "添付書類署名"}


def configuration_xml(proc: Procedure, config: ConfigurationFile) -> bytes:
    root = etree.Element("DataRoot")
    root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'href="{CONFIGURATION_FORM_ID}.xsl" type="text/xsl"'))
    for tag, text in (("様式ID", CONFIGURATION_FORM_ID), ("様式バージョン", "0001"),
                      ("STYLESHEET", f"{CONFIGURATION_FORM_ID}.xsl")):
        etree.SubElement(root, tag).text = text
    info = etree.SubElement(root, "構成情報", ID="構成情報")
    number = etree.SubElement(info, "手続番号")
    etree.SubElement(number, "受付行政機関ID").text = proc.agency_id
    etree.SubElement(number, "手続ID").text = proc.proc_id
    etree.SubElement(info, "署名種別").text = KINDS[config.signs]
    # the 申請書 is known in advance; the attachment's name is filled in by the applicant
    target = proc.forms[0].file_name if config.signs == "form" and proc.forms else ""
    etree.SubElement(info, CONFIGURATION_TARGET).text = target
    etree.indent(root, space="\t")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def configuration_skeleton_files(proc: Procedure, stylesheet: str) -> dict[str, str | bytes]:
    """The 構成情報 files and their stylesheet; nothing for a procedure signed as a whole."""
    if not proc.configuration_files:
        return {}
    files: dict[str, str | bytes] = {c.file_name: configuration_xml(proc, c) for c in proc.configuration_files}
    files[f"{CONFIGURATION_FORM_ID}.xsl"] = stylesheet
    return files
