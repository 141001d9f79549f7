"""The packaged product: the wheel holds every file of the tree's packages, and installed into a fresh
venv outside the checkout it serves, logs in, submits and polls (what `pip install egov-sandbox[sim]`
and the Docker image get). Opt-in (it builds and installs, ~40 s): `make test-served`, run by .ci/run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from served import OPT_IN, ROOT, clean_env, served

pytestmark = pytest.mark.skipif(not os.environ.get(OPT_IN), reason=f"builds and installs the wheel: set {OPT_IN}=1"
                                " (`make test-served`, run by .ci/run)")
PROC = "950A010700005000"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                   check=True, cwd=out, env=clean_env())
    [built] = out.glob("egov_sandbox-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_packages_in_the_tree(wheel: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", "client", "simulator"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout.split()
    want = {path.split("/", 1)[1] for path in tracked}  # client/egov_sim/… → egov_sim/…
    names = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(want - names) == []
    assert "egov_sim/catalogue/kousei_base.xml" in names and f"egov_sim/catalogue/forms/{PROC}01.xml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_installed_wheel_serves_logs_in_submits_and_polls(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", f"{wheel}[sim]"], check=True, cwd=tmp_path,
                   env=clean_env())
    env = clean_env(EGOV_HOME=str(tmp_path / "home"))

    def egov(*args: str, input: str | None = None, **extra: str) -> str:
        done = subprocess.run([str(venv / "bin/egov"), *args], cwd=tmp_path, env={**env, **extra}, input=input,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    with served(venv / "bin/egov-sim", tmp_path / "sim", cwd=tmp_path, env=env) as url:
        assert httpx.get(f"{url}/shinsei/v2/openapi.json").status_code == 200
        world = httpx.get(f"{url}/__admin/world").json()
        password = world["accounts"][0]["password"]
        pin = next(c["password"] for c in world["certificates"] if c["label"] == "valid")
        egov("profile", "add", "sim", "--simulator", url, "--from-world")
        egov("login", "--password-stdin", input=password + "\n")
        sent = json.loads(egov("--json", "submit", "--proc", PROC, "--values", str(ROOT / "examples/values.json"),
                               EGOV_P12_PASSWORD=pin))  # the skeleton comes from GET /procedure (package data)
        assert sent["outcome"] == "sent" and sent["arrive_id"]
        advanced = httpx.post(f"{url}/__admin/clock", json={"advance": "PT3H"})
        assert advanced.status_code == 200
        [case] = json.loads(egov("--json", "refresh"))["refreshed"]
        assert (case["arrive_id"], case["before"], case["after"]) == (sent["arrive_id"], "到達", "審査中")
