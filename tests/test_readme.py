"""Every shell block and Python snippet of README.md and loadtests/README.md runs, in order, as a newcomer
would paste them into one terminal, against a served simulator (`egov-sim serve` on a free port; the
README's port 8080 is replaced by it and placeholders like `<password of demo>` are filled from the
demo world it prints). An example that stops working fails this test.

A block is run unless the line before it is an HTML comment saying otherwise:
  <!-- example: skip — reason -->           not run (the reason is required, and printed)
  <!-- example: same as PATH -->             a data example that must equal the file PATH
Opt-in (~1–2 min): `make test-served`, run by .ci/run."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from served import OPT_IN, ROOT, clean_env, served

DOCS = ["README.md", "loadtests/README.md"]
RUN_LANGS = {"sh", "bash", "python"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
DIRECTIVE = re.compile(r"<!--\s*example:\s*(.*?)\s*-->\s*$")
PLACEHOLDER = re.compile(r"<(password of [\w.]+|data dir)>")


@dataclass
class Block:
    doc: str
    line: int
    lang: str
    text: str
    directive: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks(doc: str) -> list[Block]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = DIRECTIVE.search(before)
        found.append(Block(doc, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2),
                           directive.group(1) if directive else ""))
    return found


def test_every_block_is_run_or_says_why_not() -> None:
    for block in (b for doc in DOCS for b in blocks(doc)):
        if block.directive.startswith("skip"):
            assert len(block.directive) > len("skip — ") + 10, f"{block.where}: a skipped example needs a reason"
        elif block.directive.startswith("same as"):
            path = ROOT / block.directive.removeprefix("same as").strip()
            assert block.text == path.read_text(encoding="utf-8"), f"{block.where} differs from {path}"
        else:
            assert not block.directive, f"{block.where}: unknown directive {block.directive!r}"
            assert block.lang in RUN_LANGS | {"", "text"}, f"{block.where}: language {block.lang!r}"


def script(doc_blocks: list[Block], port: int, fill: dict[str, str]) -> str:
    """One bash script: each runnable block in order, marked so that a failure names its block."""
    parts = ["set -euo pipefail",
             # an example answering 4xx/5xx is a broken example (curl -s alone would hide it)
             'curl() { command curl --fail-with-body -sS "$@"; }']
    for i, block in enumerate(doc_blocks):
        text = block.text.replace("localhost:8080", f"localhost:{port}").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        text = PLACEHOLDER.sub(lambda m: fill[m.group(1)], text)
        parts.append(f"echo '@@ {block.where}' >&2")
        if block.lang == "python":
            parts.append(f"python - <<'PY_{i}'\n{text}PY_{i}")
        else:
            parts.append(text)
    return "\n".join(parts) + "\n"


@pytest.mark.skipif(not os.environ.get(OPT_IN), reason=f"serves a simulator and runs every example: set {OPT_IN}=1"
                    " (`make test-served`, run by .ci/run)")
def test_the_examples_run_against_a_served_simulator(tmp_path: Path) -> None:
    work = tmp_path / "work"  # the newcomer's checkout, seen from its root: .venv, examples, scripts, loadtests
    work.mkdir()
    for name in (".venv", "examples", "scripts", "loadtests", "features", "pyproject.toml", "client", "simulator",
                 "tests"):
        (work / name).symlink_to(ROOT / name)
    data_dir = tmp_path / "sim"
    env = clean_env(HOME=str(tmp_path), EGOV_HOME=str(tmp_path / "egov-home"),
                    PATH=f"{ROOT / '.venv/bin'}:{os.environ['PATH']}")
    runnable = [b for doc in DOCS for b in blocks(doc) if not b.directive and b.lang in RUN_LANGS]
    with served(ROOT / ".venv/bin/egov-sim", data_dir, cwd=tmp_path, env=env) as url:
        world = httpx.get(f"{url}/__admin/world").json()
        fill = {"data dir": str(data_dir)}
        fill |= {f"password of {a['alias']}": a["password"] for a in world["accounts"]}
        fill |= {f"password of {c['label']}": c["password"] for c in world["certificates"]}
        (tmp_path / "examples.sh").write_text(script(runnable, int(url.rsplit(":", 1)[1]), fill), encoding="utf-8")
        done = subprocess.run(["bash", str(tmp_path / "examples.sh")], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
    marks = [line for line in done.stderr.splitlines() if line.startswith("@@ ")]
    failed_at = marks[-1][3:] if marks else "(before the first block)"
    assert done.returncode == 0, (f"the example at {failed_at} failed (exit {done.returncode}):\n"
                                  f"--- stdout (tail)\n{done.stdout[-3000:]}\n--- stderr (tail)\n{done.stderr[-3000:]}")
    assert len(marks) == len(runnable)
    assert "Traceback" not in done.stderr
