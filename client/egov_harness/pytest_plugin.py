"""pytest plugin of egov-sandbox: targets, fixtures, Gherkin tags and the conformance report.

Loaded through the `pytest11` entry point (or `-p egov_harness.pytest_plugin`). It imports the
simulator only when a test needs the in-process one, so it costs nothing elsewhere.

Targets (`--egov-target`, or EGOV_TARGET):
  (unset) / inprocess   a simulator in this process on a loopback port; fresh state per test
  http://host:port      a running egov-sandbox simulator; reset per test (--egov-isolation none to keep state;
                        --egov-isolation world: a world of its own per test, or per xdist worker with
                        --egov-isolation-scope worker, deleted afterwards)
  sandbox               e-Gov's 検証環境, with EGOV_CLIENT_ID, EGOV_CLIENT_SECRET, EGOV_REDIRECT_URI,
                        EGOV_USERNAME, EGOV_PASSWORD (and EGOV_P12, EGOV_P12_PASSWORD) from the environment

Fixtures: egov_target, egov_simulator, egov_admin, egov_clock, egov_maintenance, egov_faults, egov_world,
egov_client, egov_evidence (and egov_context, the scenario state, from egov_harness.steps).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from egov_client import EgovClient
    from egov_client.admin import SimulatorAdmin
    from egov_client.evidence import EvidenceRecorder
    from egov_sim.embedded import EmbeddedSimulator

    from egov_harness.target import Target

INPROCESS, SIMULATOR, SANDBOX = "inprocess", "simulator", "sandbox"
SIMULATOR_ONLY = ("simulator_only", "シミュレーターのみ")


@dataclass(frozen=True)
class TargetChoice:
    kind: str
    url: str = ""
    reset: bool = True
    admin_token: str = ""
    world: str = ""  # "test" | "worker": a world of the simulator per test / per xdist worker ("" = none)

    def describe(self, url: str = "") -> str:
        if self.kind == INPROCESS:
            return f"egov-sandbox シミュレーター (in-process{', ' + url if url else ''})"
        if self.kind == SIMULATOR:
            return f"egov-sandbox シミュレーター ({self.url})"
        return "e-Gov 検証環境 (sandbox)"


def choose_target(value: str | None, isolation: str | None = None, scope: str | None = None) -> TargetChoice:
    value = (value or "").strip()
    token = os.environ.get("EGOV_SIM_ADMIN_TOKEN", "")
    isolation = isolation or os.environ.get("EGOV_ISOLATION") or "reset"
    reset = isolation != "none"
    world = (scope or os.environ.get("EGOV_ISOLATION_SCOPE") or "test") if isolation == "world" else ""
    if world and not re.match(r"^https?://", value):
        raise pytest.UsageError("--egov-isolation world needs --egov-target URL (a running simulator)")
    if value.lower() in ("", "inprocess", "in-process", "local"):
        return TargetChoice(INPROCESS)
    if value.lower() in ("sandbox", "検証環境"):
        return TargetChoice(SANDBOX)
    if value.lower() == "production" or "api.e-gov.go.jp" in value:
        raise pytest.UsageError("egov-sandbox does not run conformance scenarios against production e-Gov; "
                                "use --egov-target sandbox (検証環境)")
    if re.match(r"^https?://", value):
        return TargetChoice(SIMULATOR, value.rstrip("/"), reset, token, world)
    raise pytest.UsageError(f"--egov-target {value!r}: give inprocess, sandbox or the URL of a simulator")


# ---------------------------------------------------------------------------- options and configuration

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("egov", "egov-sandbox conformance harness")
    group.addoption("--egov-target", default=os.environ.get("EGOV_TARGET"),
                    help="inprocess (default), the URL of a running simulator, or sandbox (e-Gov 検証環境). "
                         "Env: EGOV_TARGET")
    group.addoption("--egov-isolation", choices=("reset", "none", "world"), default=None,
                    help="against a running simulator: reset it before each test (default), keep its state, "
                         "or give each test (or worker) a world of its own. Env: EGOV_ISOLATION")
    group.addoption("--egov-isolation-scope", choices=("test", "worker"), default=None,
                    help="with --egov-isolation world: a new world per test (default) or one per xdist worker, "
                         "reset before each test. Env: EGOV_ISOLATION_SCOPE")
    group.addoption("--egov-report-dir", default=os.environ.get("EGOV_REPORT_DIR", "reports"),
                    help="where the conformance report, JUnit XML and evidence go (default: reports)")
    group.addoption("--egov-no-report", action="store_true", help="write no conformance report")
    group.addoption("--egov-evidence", action="store_true", default=os.environ.get("EGOV_EVIDENCE") == "1",
                    help="keep every request/response as evidence files under <report dir>/evidence/<test number>/")


_choice_key = pytest.StashKey[TargetChoice]()
_url_key = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in ("simulator_only: needs control of the simulator (clock, faults, maintenance)",
                 "シミュレーターのみ: simulator_only (as a tag on Examples)",
                 "browser: runs a real browser (headless Chromium)",
                 "egov_test_id(number): the test number of a scenario (evidence is laid out by it)",
                 "egov_final_item(item): the e-Gov 最終確認試験 item a scenario covers (final_test/items.toml)"):
        config.addinivalue_line("markers", line)
    choice = choose_target(config.getoption("egov_target"), config.getoption("egov_isolation"),
                           config.getoption("egov_isolation_scope"))
    config.stash[_choice_key] = choice
    if config.getoption("egov_no_report") or not _has_bdd():
        return
    report_dir = Path(config.getoption("egov_report_dir"))
    if not config.option.xmlpath and not hasattr(config, "workerinput"):
        config.option.xmlpath = str(report_dir / "junit.xml")
    from egov_harness.report import ConformanceReport

    config.pluginmanager.register(
        ConformanceReport(report_dir, lambda: choice.describe(config.stash.get(_url_key, ""))), "egov-conformance")


def _has_bdd() -> bool:
    try:
        import pytest_bdd  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    from egov_harness.tags import apply_tag

    return apply_tag(tag, function)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    choice = config.stash[_choice_key]
    if choice.kind != SANDBOX:
        return
    skip = pytest.mark.skip(reason="シミュレーターのみ: needs control of a simulator (clock, faults, test "
                                   "certificates); the target is e-Gov 検証環境")
    for item in items:
        if any(item.get_closest_marker(name) for name in SIMULATOR_ONLY):
            item.add_marker(skip)


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def egov_embedded_simulator(tmp_path_factory: pytest.TempPathFactory,
                            pytestconfig: pytest.Config) -> Iterator[EmbeddedSimulator]:
    """The in-process simulator of this session (one port; state renewed per test by egov_target)."""
    from egov_sim.embedded import EmbeddedSimulator

    with EmbeddedSimulator(tmp_path_factory.mktemp("egov-sim")) as sim:
        pytestconfig.stash[_url_key] = sim.url
        yield sim


@pytest.fixture
def egov_target(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Iterator[Target]:
    """Where this test runs, with a fresh state on simulators (see the module doc)."""
    from egov_harness.target import TargetUnavailable, sandbox_target, simulator_target

    choice = pytestconfig.stash[_choice_key]
    if choice.kind == INPROCESS:
        sim = request.getfixturevalue("egov_embedded_simulator")
        sim.fresh()
        target = simulator_target(sim.url, name=choice.describe(sim.url))
    elif choice.kind == SIMULATOR and choice.world == "test":
        with _world(choice) as world_id:
            target = simulator_target(choice.url, admin_token=choice.admin_token, name=choice.describe(),
                                      world=world_id)
            yield target
            target.admin.close()  # type: ignore[union-attr]
        return
    elif choice.kind == SIMULATOR and choice.world == "worker":
        world_id = request.getfixturevalue("egov_worker_world")
        target = simulator_target(choice.url, admin_token=choice.admin_token, reset=True, name=choice.describe(),
                                  world=world_id)
    elif choice.kind == SIMULATOR:
        target = simulator_target(choice.url, admin_token=choice.admin_token, reset=choice.reset,
                                  name=choice.describe())
    else:
        target = sandbox_target()
        try:
            target.require_usable()
        except TargetUnavailable as exc:
            pytest.skip(str(exc))
    yield target
    if target.admin is not None:
        target.admin.close()


@contextmanager
def _world(choice: TargetChoice) -> Iterator[str]:
    """A world of the simulator for as long as it is needed, deleted afterwards (even after a failure)."""
    from egov_client.admin import SimulatorAdmin

    with SimulatorAdmin(choice.url, token=choice.admin_token) as admin:
        world_id = admin.create_world()["id"]
        try:
            yield world_id
        finally:
            admin.delete_world(world_id)


@pytest.fixture(scope="session")
def egov_worker_world(pytestconfig: pytest.Config) -> Iterator[str]:
    """With --egov-isolation world --egov-isolation-scope worker: this session's (xdist worker's) world."""
    with _world(pytestconfig.stash[_choice_key]) as world_id:
        yield world_id


def _require_admin(target: Target) -> SimulatorAdmin:
    if target.admin is None:
        pytest.skip(f"needs a simulator; the target is {target.name}")
    return target.admin


@dataclass(frozen=True)
class SimulatorHandle:
    url: str
    admin: SimulatorAdmin


@pytest.fixture
def egov_simulator(egov_target: Target) -> SimulatorHandle:
    """A running simulator with a fresh demo world: its URL and its admin API."""
    admin = _require_admin(egov_target)
    return SimulatorHandle(admin.base_url, admin)


@pytest.fixture
def egov_admin(egov_target: Target) -> SimulatorAdmin:
    return _require_admin(egov_target)


@pytest.fixture
def egov_clock(egov_target: Target) -> Any:
    """The simulator's virtual clock: .now(), .advance("P3D"), .freeze(), .set("2026-04-01T09:00:00")."""
    from egov_client.admin import VirtualClock

    return VirtualClock(_require_admin(egov_target))


@pytest.fixture
def egov_maintenance(egov_target: Target) -> Any:
    """Maintenance windows relative to virtual now: .window(starts_in="PT10M", duration="PT3H",
    expire_tokens=True), .weekly(["mon"], "18:00", "PT6H"), .current(), .wait_until_over(), .clear()."""
    from egov_client.admin import Maintenance

    return Maintenance(_require_admin(egov_target))


@pytest.fixture
def egov_faults(egov_target: Target) -> Any:
    """Fault injection: .fail("/shinsei/v2/apply", 500, method="POST", after_processing=True), .slow(path, 2.0),
    .reset_connection(path), .auto_return("missing_salary"), .arrival_check("PT30M"), .rules(), .clear()."""
    from egov_client.admin import Faults

    return Faults(_require_admin(egov_target))


@pytest.fixture
def egov_world(egov_target: Target) -> dict[str, Any]:
    """The fresh demo world: software credentials, accounts with passwords, certificate labels."""
    return _require_admin(egov_target).world()


@pytest.fixture
def egov_evidence(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> EvidenceRecorder | None:
    """Evidence recorder of this test (None unless --egov-evidence)."""
    if not pytestconfig.getoption("egov_evidence"):
        return None
    from egov_client.evidence import EvidenceRecorder

    from egov_harness.tags import test_id_of

    folder = Path(pytestconfig.getoption("egov_report_dir")) / "evidence" / evidence_folder_name(
        test_id_of(request.node), request.node)
    request.node.egov_evidence_dir = folder
    return EvidenceRecorder(folder)


def evidence_folder_name(test_id: str, item: pytest.Item) -> str:
    from egov_harness.tags import example_index, scenario_template

    template = scenario_template(item)
    name = template.name if template is not None else item.name
    index = example_index(item)
    if test_id == "-" and index is not None:
        name = f"{name}_{index}"
    label = re.sub(r"[\s/\\:*?\"<>|]+", "_", name).strip("_")[:80]
    return f"{test_id}_{label}" if test_id != "-" else label


@pytest.fixture
def egov_client(egov_target: Target, egov_evidence: EvidenceRecorder | None) -> Iterator[EgovClient]:
    """An EgovClient logged in as the target's demo account (exchanges kept as evidence when on)."""
    import httpx
    from egov_client import EgovClient

    from egov_harness.target import TargetUnavailable

    try:
        account = egov_target.account()
    except TargetUnavailable as exc:
        pytest.skip(str(exc))
    http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0),
                        event_hooks=egov_evidence.event_hooks() if egov_evidence else {})
    with http:
        yield EgovClient.login(egov_target.endpoint, account.username, account.password, http=http)
