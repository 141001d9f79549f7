"""A small, valid PDF 1.4 writer for the attachments of official documents and notices.

Hand-written rather than a dependency: the simulator needs pages of Japanese text, and the PDF
standard's predefined CJK font (HeiseiKakuGo-W5, UniJIS-UCS2-H) renders it in every viewer without
embedding a font. Output is deterministic (no creation time unless given), so a document fetched
twice has the same bytes and the same signature digest.
"""

from __future__ import annotations

from datetime import datetime

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN, LINE = 56, 18


def _hex_utf16(text: str) -> str:
    return "<" + text.encode("utf-16-be").hex().upper() + ">"


def _wrap(text: str, width: int = 38) -> list[str]:
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        while len(para) > width:
            lines.append(para[:width])
            para = para[width:]
        lines.append(para)
    return lines


def _page_streams(title: str, lines: list[str]) -> list[bytes]:
    """The content streams: the title in 16 pt on the first page, the lines in 11 pt, as many pages as they fill."""
    pages: list[list[str]] = [[f"BT /F1 16 Tf {MARGIN} {PAGE_H - MARGIN - 16} Td {_hex_utf16(title)} Tj ET"]]
    y = PAGE_H - MARGIN - 16 - 2 * LINE
    for line in (w for raw in lines for w in _wrap(raw)):
        if y < MARGIN:  # the page is full: go on on the next one
            pages.append([])
            y = PAGE_H - MARGIN - 11
        pages[-1].append(f"BT /F1 11 Tf {MARGIN} {y} Td {_hex_utf16(line)} Tj ET")
        y -= LINE
    return ["\n".join(body).encode("ascii") for body in pages]


def text_pdf(title: str, lines: list[str], *, created: datetime | None = None) -> bytes:
    """A4 pages: a title in 16 pt, then the lines in 11 pt (long lines wrapped, long text paginated)."""
    streams = _page_streams(title, lines)
    n = len(streams)
    font = 3 + 2 * n  # objects: catalog, pages, (page, contents) per page, the three font objects, info
    info = f"/Title <FEFF{_hex_utf16(title)[1:]} /Producer (egov-sandbox)"  # a text string: UTF-16BE + BOM
    if created is not None:
        info += f" /CreationDate (D:{created:%Y%m%d%H%M%S}+09'00')"
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, stream in enumerate(streams):
        objects += [
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode(),
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"]
    objects += [
        f"<< /Type /Font /Subtype /Type0 /BaseFont /HeiseiKakuGo-W5 /Encoding /UniJIS-UCS2-H "
        f"/DescendantFonts [{font + 1} 0 R] >>".encode(),
        f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HeiseiKakuGo-W5 "
        f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor {font + 2} 0 R >>"
        .encode(),
        b"<< /Type /FontDescriptor /FontName /HeiseiKakuGo-W5 /Flags 4 /FontBBox [-92 -250 1010 922] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 737 /StemV 114 >>",
        f"<< {info} >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)
