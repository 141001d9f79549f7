"""The floor plan holds: which room may import which (pyproject's [tool.importlinter] contracts).

import-linter (an outside tool) reads every module's imports, lazy ones included; a forbidden or
upward import, or a cycle between rooms, breaks a contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(cwd: Path, extra_path: str = "") -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    path = os.pathsep.join(p for p in (extra_path, str(ROOT / "client"), str(ROOT / "simulator")) if p)
    return subprocess.run([exe, "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": path}, timeout=300)


def test_every_room_imports_only_what_the_floor_plan_allows() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The check can fail: a copy of egov_format that imports the client breaks its contract."""
    shutil.copytree(ROOT / "client" / "egov_format", tmp_path / "egov_format")
    (tmp_path / "egov_format" / "leak.py").write_text("from egov_client import config\n", encoding="utf-8")
    result = _lint(ROOT, extra_path=str(tmp_path))
    assert result.returncode != 0 and "egov_format imports no other room BROKEN" in result.stdout
