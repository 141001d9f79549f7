"""The legacy envelope, written once: `DataRoot/{Result/{Code,Message}, ApplData}`, tab-indented,
empty elements kept (`<X></X>`), the response headers the recordings show."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Union

from flask import Response
from lxml import etree

Value = Union[str, int, None, "Sequence[Node]"]
Node = tuple[str, Value]
"""An element: (tag, text) or (tag, [children]); None and "" render as an empty element."""

_SELF_CLOSED = re.compile(rb"<([A-Za-z][\w.-]*)/>")  # the template writes <X></X>
HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store,no-cache", "Pragma": "no-cache",
           "Expires": "Thu, 01 Dec 1994 16:00:00 GMT", "X-UA-Compatible": "IE=EmulateIE7"}


def stamp(value: datetime | str | None) -> str:
    """JST `yyyyMMddHHmmss` (from a datetime or the backend's 'YYYY-MM-DD HH:MM:SS')."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y%m%d%H%M%S}"
    return "".join(ch for ch in value if ch.isdigit())


def day(value: date | str | None) -> str:
    """`yyyyMMdd`."""
    if value is None:
        return ""
    return f"{value:%Y%m%d}" if isinstance(value, date) else "".join(ch for ch in value if ch.isdigit())[:8]


def _build(parent: etree._Element, nodes: Sequence[Node]) -> None:
    for tag, value in nodes:
        name, _, attr = tag.partition("@")
        el = etree.SubElement(parent, name)
        if attr:
            key, _, val = attr.partition("=")
            el.set(key, val)
        if isinstance(value, list | tuple):
            _build(el, value)
        else:
            el.text = "" if value is None else str(value)


def document(appl: Sequence[Node], *, message: str = "") -> bytes:
    root = etree.Element("DataRoot")
    result = etree.SubElement(root, "Result")
    etree.SubElement(result, "Code").text = "1" if message else "0"
    etree.SubElement(result, "Message").text = message
    _build(etree.SubElement(root, "ApplData"), appl)
    etree.indent(root, space="\t")
    root.text = "\n\n\n\t"  # the template's blank lines before <Result>
    body = _SELF_CLOSED.sub(rb"<\1></\1>", etree.tostring(root, encoding="utf-8"))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"


def respond(appl: Sequence[Node], status: int = 200, *, message: str = "") -> Response:
    resp = Response(document(appl, message=message), status=status, content_type="text/xml;charset=UTF-8")
    resp.headers.update(HEADERS)
    return resp


def blank(appl: Sequence[Node]) -> list[Node]:
    """The same skeleton with every value emptied (error answers keep the elements, values empty)."""
    return [(tag, blank(v) if isinstance(v, list | tuple) else "") for tag, v in appl]
