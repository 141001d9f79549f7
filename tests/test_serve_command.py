"""`egov-sim serve` as a newcomer meets it: a second serve on a busy port refuses with a message, a new
world is announced (a mistyped --data-dir is visible), `egov-sim world` prints the port it was served on
and refuses a data dir without a world."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from served import clean_env, served

EGOV_SIM = Path(sys.executable).parent / "egov-sim"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EGOV_SIM), *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=60)


def test_busy_port_new_world_and_world_command(tmp_path: Path) -> None:
    with served(EGOV_SIM, tmp_path / "sim", cwd=tmp_path) as url:
        port = url.rsplit(":", 1)[1]
        log = next(tmp_path.glob("sim-*.log")).read_text()
        assert "新しいデモ環境を作成しました" in log and str(tmp_path / "sim" / "egov-sim.sqlite") in log

        second = _run("serve", "--port", port, "--data-dir", str(tmp_path / "other"), cwd=tmp_path)
        assert second.returncode != 0 and "already in use" in second.stderr and port in second.stderr
        assert not (tmp_path / "other").exists()  # refused before any work

        shown = _run("world", "--data-dir", str(tmp_path / "sim"), cwd=tmp_path)
        assert shown.returncode == 0 and f"{url}/shinsei/v2" in shown.stdout

    typo = _run("world", "--data-dir", str(tmp_path / "smi"), cwd=tmp_path)
    assert typo.returncode != 0 and "no simulator data in" in typo.stderr and not (tmp_path / "smi").exists()


def test_serve_starts_its_server_with_the_garbage_collector_on_and_the_start_up_objects_frozen(
        tmp_path: Path, monkeypatch) -> None:
    """The cyclic GC is off while the app is made (cli.serve) and on when the server runs: a server
    left with it off would never collect a cycle. Checked with the gc module, at the server's start."""
    import gc

    from click.testing import CliRunner
    from egov_sim import cli, serving

    seen: dict[str, object] = {}

    def run(host: str, port: int, **options: object) -> None:
        seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())

    monkeypatch.setattr(serving, "run", run)
    monkeypatch.setenv("EGOV_SIM_DATA_DIR", str(tmp_path / "sim"))
    environ = dict(os.environ)  # serve exports its settings to its workers' environment
    try:
        done = CliRunner().invoke(cli.main, ["serve", "--port", "0", "--quiet", "--server", "granian"])
    finally:
        gc.unfreeze()
        os.environ.clear()
        os.environ.update(environ)
    assert done.exit_code == 0, done.output
    assert seen["enabled"] is True and seen["frozen"] > 10_000
    assert gc.isenabled()
