"""Skeleton zips for `GET /procedure/{proc_id}`: kousei.xml, forms, stylesheets and check files.

Each form's check file (`{form_id}check.xml`, e-Gov's `checkItem` format: egov_format.formcheck)
is written from the catalogue entry, and the simulator's 形式チェック at submission parses these
same bytes (`form_check`), so what a client downloads is what the server enforces. kousei.xml gets
its 構成管理形式チェックファイル `999000000000000001check.xml` the same way.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from egov_format.formcheck import KOUSEI_CHECK_FILE, CheckRule, FormCheck, parse_check_file, write_check_file
from egov_format.zipsafe import write_zip
from lxml import etree

from .catalogue import KOUSEI_FORM_ID, Catalogue, FormSpec, Procedure, RequiredItem
from .individual import configuration_skeleton_files

_XSL = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <xsl:template match="/DataRoot">
    <html lang="ja"><head><meta charset="UTF-8"/><title>{title}</title></head>
    <body><h1>{title}</h1><table border="1"><xsl:apply-templates select="*[not(self::STYLESHEET)]"/></table></body></html>
  </xsl:template>
  <xsl:template match="*[*]">
    <tr><th colspan="2"><xsl:value-of select="local-name()"/></th></tr><xsl:apply-templates select="*"/>
  </xsl:template>
  <xsl:template match="*[not(*)]">
    <tr><td><xsl:value-of select="local-name()"/></td><td><xsl:value-of select="."/></td></tr>
  </xsl:template>
</xsl:stylesheet>
"""


def _text(tag: str, value: str) -> etree._Element:
    el = etree.Element(tag)
    el.text = value
    return el


def kousei_xml(proc: Procedure) -> bytes:
    base = resources.files(__package__).joinpath("kousei_base.xml").read_bytes()
    root = etree.fromstring(base, etree.XMLParser(resolve_entities=False, no_network=True))
    info = root.find("構成情報")
    assert info is not None
    info.find("管理情報/手続番号/受付行政機関ID").text = proc.agency_id  # type: ignore[union-attr]
    info.find("管理情報/手続番号/手続ID").text = proc.proc_id  # type: ignore[union-attr]
    info.find("管理情報/手続名称").text = proc.name  # type: ignore[union-attr]
    if not proc.destination_required:  # otherwise the applicant chooses the 提出先 and sets it
        info.find("提出先情報/提出先識別子").text = proc.destination_id  # type: ignore[union-attr]
        info.find("提出先情報/提出先名称").text = proc.destination_name  # type: ignore[union-attr]
    for form in proc.forms:
        attrs = etree.SubElement(info, "申請書属性情報")
        attrs.append(_text("申請書様式ID", form.form_id))
        attrs.append(_text("申請書様式バージョン", f"{form.version:04d}"))
        attrs.append(_text("申請書様式名称", form.name))
        attrs.append(_text("申請書ファイル名称", form.file_name))
    etree.indent(root, space="\t")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def _rule(data_element: str, item: RequiredItem) -> CheckRule:
    return CheckRule(path=f"/DataRoot/{data_element}/{item.path.strip('/')}", label=item.label,
                     required=item.required, numeric=item.numeric, full_width=item.full_width,
                     max_length=item.max_length, length=item.length, int_digits=item.int_digits)


@lru_cache(maxsize=256)
def check_file(form: FormSpec) -> bytes:
    """The form's `{form_id}check.xml`: one checkItem per required / checked catalogue item."""
    return write_check_file(form.form_id, (_rule(form.data_element, item) for item in form.check_items))


@lru_cache(maxsize=256)
def form_check(form: FormSpec) -> FormCheck:
    """The rules the simulator enforces: parsed from the bytes the skeleton ships."""
    return parse_check_file(check_file(form), file_name=form.check_file_name)


_APPLICANT = "/DataRoot/構成情報/管理情報/申請者連絡先情報"
# The 構成管理 items checked through the check file (提出先情報 keeps e-Gov's own message).
KOUSEI_RULES = (
    CheckRule(f"{_APPLICANT}/申請者情報/氏名", "申請者情報.氏名", required=True),
    CheckRule(f"{_APPLICANT}/申請者情報/郵便番号", "申請者情報.郵便番号", numeric=True, length=7),
    CheckRule(f"{_APPLICANT}/連絡先情報/郵便番号", "連絡先情報.郵便番号", numeric=True, length=7),
)


@lru_cache(maxsize=1)
def kousei_check_file() -> bytes:
    return write_check_file(KOUSEI_FORM_ID, KOUSEI_RULES)


@lru_cache(maxsize=1)
def kousei_check() -> FormCheck:
    return parse_check_file(kousei_check_file(), file_name=KOUSEI_CHECK_FILE)


def schema_file(form: FormSpec, template: bytes) -> bytes:
    """An XML Schema mirroring the form template's structure (every leaf a string)."""
    xs = "http://www.w3.org/2001/XMLSchema"
    doc = etree.fromstring(template, etree.XMLParser(resolve_entities=False, no_network=True))
    schema = etree.Element(f"{{{xs}}}schema", nsmap={"xs": xs})

    def declare(parent: etree._Element, el: etree._Element) -> None:
        decl = etree.SubElement(parent, f"{{{xs}}}element", name=str(el.tag), minOccurs="0")
        if len(el):
            seq = etree.SubElement(etree.SubElement(decl, f"{{{xs}}}complexType"), f"{{{xs}}}sequence")
            for child in el:
                if isinstance(child.tag, str):
                    declare(seq, child)
        else:
            decl.set("type", "xs:string")

    declare(schema, doc)
    schema[0].attrib.pop("minOccurs")
    etree.indent(schema)
    return etree.tostring(schema, xml_declaration=True, encoding="UTF-8")


def skeleton_files(catalogue: Catalogue, proc: Procedure) -> dict[str, str | bytes]:
    """File name (inside the proc folder) → content."""
    files: dict[str, str | bytes] = {
        "kousei.xml": kousei_xml(proc),
        f"{KOUSEI_FORM_ID}.xsl": _XSL.format(title="構成管理情報"),
        KOUSEI_CHECK_FILE: kousei_check_file(),
    }
    for form in proc.forms:
        template = catalogue.form_templates[form.form_id]
        files[form.file_name] = template
        files[form.xsl_file_name] = _XSL.format(title=form.name)
        files[form.check_file_name] = check_file(form)
        files[form.schema_file_name] = schema_file(form, template)
    files.update(configuration_skeleton_files(proc, _XSL.format(title="構成情報")))  # 個別署名形式 only
    return files


@lru_cache(maxsize=64)
def _skeleton_zip(catalogue: Catalogue, proc_id: str) -> bytes:
    proc = catalogue.procedures[proc_id]
    files = {
        f"{proc.proc_id}/{name}": data.encode() if isinstance(data, str) else data
        for name, data in skeleton_files(catalogue, proc).items()
    }
    return write_zip(files)


def skeleton_zip(catalogue: Catalogue, proc: Procedure) -> bytes:
    return _skeleton_zip(catalogue, proc.proc_id)
