"""Sample application data (applicant, form items per procedure) from a TOML file.

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
