"""Safe XML parsing for untrusted documents: no DTDs, no entities, no network, bounded trees."""

from __future__ import annotations

import codecs
import re

from lxml import etree

from .errors import UnsafeXmlError, XmlFormatError

__all__ = ["parse_xml", "serialize_xml"]

_FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")

# Encodings accepted for documents whose bytes are ASCII-compatible (what e-Gov forms use).
_ASCII_COMPATIBLE = frozenset(
    {
        "utf-8",
        "utf8",
        "us-ascii",
        "ascii",
        "iso-8859-1",
        "latin-1",
        "latin1",
        "shift_jis",
        "shift-jis",
        "sjis",
        "x-sjis",
        "cp932",
        "ms932",
        "windows-31j",
        "euc-jp",
        "iso-2022-jp",
    }
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NO_BOM_WIDE = (
    (b"<\0\0\0", "utf-32-le"),
    (b"\0\0\0<", "utf-32-be"),
    (b"<\0", "utf-16-le"),
    (b"\0<", "utf-16-be"),
)
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _label(what: str, file_name: str | None) -> str:
    return f"{what}({file_name})" if file_name else what


def _sniff(data: bytes) -> str | None:
    """The encoding implied by a BOM or a UTF-16/32 pattern; None for ASCII-compatible bytes."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return None if name == "utf-8" else name
    for head, name in _NO_BOM_WIDE:
        if data.startswith(head):
            return name
    return None


def _refuse_unsafe(data: bytes, label: str, file_name: str | None) -> None:
    """Look for DTDs and entity declarations before libxml2 sees the document."""
    wide = _sniff(data)
    if wide is not None:
        text = data.decode(wide, errors="replace")
        hit = any(token in text for token in _FORBIDDEN)
    else:
        body = data.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
        if body and not body.startswith(b"<"):  # e.g. EBCDIC, which libxml2 would auto-detect
            raise XmlFormatError(
                f"{label}の形式に誤りがあります",
                file_name=file_name or "-",
                detail="document does not start with '<'",
            )
        match = _DECLARED_ENCODING.match(body)
        if match and match.group(1).decode("ascii").lower() not in _ASCII_COMPATIBLE:
            raise UnsafeXmlError(
                f"{label}の文字コードはサポートされていません",
                file_name=file_name or "-",
                detail=f"unsupported encoding {match.group(1).decode('ascii')!r}",
            )
        hit = any(token.encode("ascii") in data for token in _FORBIDDEN)
    if hit:
        raise UnsafeXmlError(
            f"{label}に使用できない定義(DOCTYPE/ENTITY)が含まれています",
            file_name=file_name or "-",
            detail="DTDs and entity declarations are refused",
        )


def _new_parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep state and should not be shared across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
    )


def parse_xml(data: bytes, *, what: str = "XML", file_name: str | None = None) -> etree._Element:
    """Parse untrusted XML and return its root element (the tree keeps top-level PIs).

    Raises UnsafeXmlError for a DOCTYPE / ENTITY declaration or an unsupported encoding, and
    XmlFormatError for anything not well-formed.
    """
    label = _label(what, file_name)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml expects bytes")
    data = bytes(data)
    _refuse_unsafe(data, label, file_name)
    try:
        root = etree.fromstring(data, _new_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlFormatError(
            f"{label}の形式に誤りがあります", file_name=file_name or "-", detail=str(exc)
        ) from None
    if root is None:
        raise XmlFormatError(
            f"{label}の形式に誤りがあります", file_name=file_name or "-", detail="empty document"
        )
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError(
            f"{label}に使用できない定義(DOCTYPE/ENTITY)が含まれています",
            file_name=file_name or "-",
            detail="DTDs are refused",
        )
    if next(root.iter(etree.Entity), None) is not None:
        raise UnsafeXmlError(
            f"{label}に使用できない定義(DOCTYPE/ENTITY)が含まれています",
            file_name=file_name or "-",
            detail="entity references are refused",
        )
    return root


def serialize_xml(root: etree._Element, *, crlf: bool = False) -> bytes:
    """UTF-8 bytes with e-Gov's declaration style, keeping top-level PIs (xml-stylesheet)."""
    parts = [b'<?xml version="1.0" encoding="UTF-8"?>']
    parts.extend(etree.tostring(node, encoding="UTF-8") for node in _preceding_top_level(root))
    parts.append(etree.tostring(root, encoding="UTF-8", with_tail=False))
    out = b"\n".join(parts) + b"\n"
    return out.replace(b"\n", b"\r\n") if crlf else out


def _preceding_top_level(root: etree._Element) -> list[etree._Element]:
    nodes = []
    node = root.getprevious()
    while node is not None:
        nodes.append(node)
        node = node.getprevious()
    return list(reversed(nodes))
