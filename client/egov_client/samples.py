"""Sample application data (applicant, form items per procedure) from a TOML file, and a sample PDF.

The bundled file covers the procedures of the egov-sandbox catalogue; EGOV_SAMPLES points at
another file with the same layout.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Samples:
    applicant: dict[str, str]
    procedures: dict[str, dict[str, dict[str, str]]]  # proc_id → form_id → {path: value}

    def forms(self, proc_id: str) -> dict[str, dict[str, str]]:
        try:
            return self.procedures[proc_id]
        except KeyError:
            raise KeyError(f"no sample data for procedure {proc_id} (add it to your EGOV_SAMPLES file)") from None

    @classmethod
    def from_toml(cls, text: str) -> Samples:
        data: dict[str, Any] = tomllib.loads(text)
        procedures = {proc_id: {form_id: {k: str(v) for k, v in values.items()}
                                for form_id, values in (entry.get("forms") or {}).items()}
                      for proc_id, entry in (data.get("procedures") or {}).items()}
        return cls({k: str(v) for k, v in (data.get("applicant") or {}).items()}, procedures)


def load_samples(path: str | os.PathLike[str] | None = None) -> Samples:
    path = path or os.environ.get("EGOV_SAMPLES")
    if path:
        return Samples.from_toml(Path(path).read_text(encoding="utf-8"))
    return Samples.from_toml(resources.files(__package__).joinpath("data", "samples.toml").read_text("utf-8"))


def sample_pdf(title: str) -> bytes:
    """A small, valid one-page PDF (what an attachment scan would be)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({title.encode('ascii', 'replace').decode()}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
