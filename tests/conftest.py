"""Shared fixtures: a simulator per test (copied from a template database), and clients on it.

Every /shinsei/v2 response that passes through the `http` fixture is validated against the
official OpenAPI document, so any test that calls the API checks the contract too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from egov_client import EgovClient
from egov_client.config import Endpoint, simulator
from egov_format.signing import Signer, load_pkcs12
from egov_sim import Settings, create_app
from egov_sim.services import Services
from egov_sim.world.demo import DemoWorld, certificate_for, load_world
from flask import Flask
from openapi_schemas import find_path, validate_response

BASE = "http://sim.test"


@pytest.fixture(autouse=True)
def _own_egov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own `egov` home, so claims (claims.py) from another test's server never apply."""
    monkeypatch.setenv("EGOV_HOME", str(tmp_path / "egov-home"))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create the demo world once (keys, CA, certificates take a while) and copy it per test."""
    folder = tmp_path_factory.mktemp("template")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'sim.sqlite'}", data_dir=folder))
    app.extensions["egov_sim"].db.dispose()
    return folder / "sim.sqlite"


@pytest.fixture
def sim(template_db: Path, tmp_path: Path) -> Flask:
    db_file = tmp_path / "sim.sqlite"
    shutil.copy(template_db, db_file)
    app = create_app(Settings(database_url=f"sqlite:///{db_file}", data_dir=tmp_path, public_url=BASE))
    yield app
    app.extensions["egov_sim"].db.dispose()


@pytest.fixture
def services(sim: Flask) -> Services:
    return sim.extensions["egov_sim"]


@pytest.fixture
def world(services: Services) -> DemoWorld:
    w = load_world(services)
    assert w is not None
    return w


def _validate_against_spec(response: httpx.Response) -> None:
    path = response.request.url.path
    if not path.startswith("/shinsei/v2/") or path.endswith("/openapi.json"):
        return
    try:
        find_path(path)
    except LookupError:
        return  # not an operation of the document (e.g. a 404 for an unknown path)
    response.read()
    body = response.json() if response.content else None
    validate_response(path, response.request.method.lower(), response.status_code, body)


@pytest.fixture
def http(sim: Flask) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.WSGITransport(app=sim), base_url=BASE,
                      event_hooks={"response": [_validate_against_spec]}) as client:
        yield client


@pytest.fixture
def endpoint(world: DemoWorld) -> Endpoint:
    return simulator(BASE).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])


@pytest.fixture
def egov(endpoint: Endpoint, world: DemoWorld, http: httpx.Client) -> EgovClient:
    """A client logged in as the demo account through the login form."""
    account = world.account("demo")
    return EgovClient.login(endpoint, account["username"], account["password"], http=http)


@pytest.fixture
def signer(services: Services) -> Signer:
    return certificate_signer(services, "valid")


def certificate_signer(services: Services, label: str) -> Signer:
    p12, password, _cert = certificate_for(services, label)
    return load_pkcs12(p12, password)


def advance(services: Services, duration: str) -> dict[str, Any]:
    from egov_sim.clock import parse_duration

    return services.clock.update(advance=parse_duration(duration)).describe()


@pytest.fixture
def live_server(sim: Flask) -> Iterator[str]:
    """The simulator on a real loopback socket (for async clients and real HTTP)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, sim, threaded=True)
    svc = sim.extensions["egov_sim"]  # the public URL is the socket's (issuer, discovery, links)
    svc.settings = svc.settings.with_(public_url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
