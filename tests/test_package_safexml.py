"""Safe XML parsing: no DTDs, no entities, no surprises from encodings."""

from __future__ import annotations

import pytest
from egov_client.errors import PackageError, UnsafeXmlError, XmlFormatError
from egov_format.safexml import parse_xml, serialize_xml
from lxml import etree

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>"""


def test_parses_plain_xml_with_stylesheet_pi():
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet href="a.xsl" type="text/xsl"?>\n'
        "<DataRoot><様式ID>1</様式ID></DataRoot>"
    )
    root = parse_xml(data.encode())
    assert root.findtext("様式ID") == "1"
    out = serialize_xml(root)
    assert out.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet href="a.xsl"')
    assert parse_xml(out).findtext("様式ID") == "1"


def test_billion_laughs_is_refused_without_expansion():
    with pytest.raises(UnsafeXmlError, match="DOCTYPE") as exc:
        parse_xml(BILLION_LAUGHS, what="申請書XML", file_name="a.xml")
    assert exc.value.file_name == "a.xml"
    assert "申請書XML(a.xml)" in exc.value.message


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        b"<!DOCTYPE r><r/>",
        b'<r><!ENTITY x "y"></r>',
    ],
)
def test_doctype_and_entities_are_refused(doc):
    with pytest.raises(UnsafeXmlError):
        parse_xml(doc)


def test_doctype_hidden_in_utf16_is_refused():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(UnsafeXmlError):
        parse_xml(doc.encode("utf-16"))


def test_utf16_without_doctype_is_fine():
    doc = '<?xml version="1.0" encoding="UTF-16"?><r>申請</r>'
    assert parse_xml(doc.encode("utf-16")).text == "申請"


def test_shift_jis_document_is_fine():
    doc = '<?xml version="1.0" encoding="Shift_JIS"?><r>ソフト申請</r>'
    assert parse_xml(doc.encode("cp932")).text == "ソフト申請"


@pytest.mark.parametrize("encoding", ["UTF-7", "IBM037", "UTF-16"])
def test_unsupported_or_mismatched_declared_encoding_is_refused(encoding):
    with pytest.raises(UnsafeXmlError, match="文字コード"):
        parse_xml(f'<?xml version="1.0" encoding="{encoding}"?><r/>'.encode("ascii"))


def test_ebcdic_bytes_are_refused():
    with pytest.raises(PackageError):
        parse_xml('<?xml version="1.0" encoding="IBM037"?><r/>'.encode("cp037"))


@pytest.mark.parametrize("doc", [b"", b"   ", b"<r>", b"<r></s>", b"not xml", b"<r/><r/>"])
def test_malformed_xml_is_a_format_error(doc):
    with pytest.raises(XmlFormatError, match=r"構成管理XML\(kousei\.xml\)の形式に誤りがあります") as exc:
        parse_xml(doc, what="構成管理XML", file_name="kousei.xml")
    assert exc.value.to_report()["file_name"] == "kousei.xml"


def test_errors_are_package_errors_with_report_shape():
    with pytest.raises(PackageError) as exc:
        parse_xml(b"<r>")
    report = exc.value.to_report()
    assert set(report) == {"form_name", "attached_file_name", "file_name", "item", "content"}
    assert report["content"] == "XMLの形式に誤りがあります"
    assert report["form_name"] == report["item"] == "-"


def test_serialize_xml_crlf():
    root = parse_xml(b"<r>\r\n<a>1</a>\r\n</r>")
    out = serialize_xml(root, crlf=True)
    assert out.count(b"\r\n") == 4 and b"\n" not in out.replace(b"\r\n", b"")
    assert etree.tostring(parse_xml(out)) == etree.tostring(root)
