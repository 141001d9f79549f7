"""The scale-out topology: docker-compose.yml (validated, no engine needed) and the same topology
as plain processes (loadtests/topology.sh: PostgreSQL, two simulators, Locust master + workers)."""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest
from load_support import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_describes_postgres_scalable_simulator_and_locust() -> None:
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"postgres", "simulator", "locust-master", "locust-worker"} <= set(services)
    sim = services["simulator"]
    assert sim["environment"]["EGOV_SIM_DATABASE_URL"].startswith("postgresql+psycopg://")
    # published on loopback, one port of a range per replica (a fixed port would prevent scaling)
    [published] = sim["ports"]
    assert published.startswith("127.0.0.1:") and "-" in published and published.endswith(":8080")
    assert "ports" not in services["locust-master"], "headless: no web UI port"
    assert "--headless" in services["locust-master"]["command"]
    tokens = [sim["environment"]["EGOV_SIM_ADMIN_TOKEN"], services["locust-master"]["environment"]["LOAD_ADMIN_TOKEN"]]
    assert all(t.startswith("${EGOV_SIM_ADMIN_TOKEN:?") for t in tokens), "no default admin token: required"
    assert sim["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["locust-worker"]["command"][:3] == ["locust", "-f", "loadtests/locustfile.py"]
    assert "--master" in services["locust-master"]["command"]
    assert (ROOT / "Dockerfile").exists() and (ROOT / "loadtests" / "locustfile.py").exists()


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no docker client with compose on this machine")
    env = {k: v for k, v in os.environ.items() if k != "EGOV_SIM_ADMIN_TOKEN"}
    result = subprocess.run([*command, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, env={**env, "EGOV_SIM_ADMIN_TOKEN": "t0ken-for-the-check"})
    assert result.returncode == 0, result.stderr
    unset = subprocess.run([*command, "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True,
                           cwd=ROOT, timeout=60, env=env)
    assert unset.returncode != 0 and "set EGOV_SIM_ADMIN_TOKEN" in unset.stderr


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="PostgreSQL server not installed")
@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None or importlib.util.find_spec("locust") is None,
                    reason="needs the load extra (psycopg, locust)")
@pytest.mark.skipif(os.name != "posix", reason="bash script")
def test_plain_process_topology_on_postgresql_keeps_every_submission() -> None:
    result = subprocess.run(["bash", str(ROOT / "loadtests" / "topology.sh")], capture_output=True, text=True,
                            timeout=240, env={**os.environ, "PYTHON": sys.executable, "RUN_TIME": "8s",
                                              "USERS": "8"})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "OK" in result.stdout


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="needs the load extra (locust)")
def test_topology_knobs_are_not_locust_environment_variables() -> None:
    """Locust reads LOCUST_* variables itself (LOCUST_USERS is its user count: a list of classes there
    crashes the workers), so none of the script's own knobs may be one of them (Locust's parser says which)."""
    import re

    listing = subprocess.run(  # a process of its own: importing locust monkey-patches this one (gevent)
        [sys.executable, "-c", "from locust.argument_parser import get_parser\n"
         "print(*{a.env_var for a in get_parser()._actions if getattr(a, 'env_var', None)})"],
        capture_output=True, text=True, timeout=60, check=True)
    locust_vars = set(listing.stdout.split())
    assert "LOCUST_USERS" in locust_vars
    script = (ROOT / "loadtests" / "topology.sh").read_text()
    knobs = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):-", script))
    assert {"USERS", "RUN_TIME", "USER_CLASSES"} <= knobs
    assert not knobs & locust_vars, knobs & locust_vars
