"""What one scenario knows as it runs: the target, the logged-in client, the package being
built, the last answer and the last error. Steps share it through the `egov_context` fixture.

A `When` step that calls e-Gov records an error instead of raising it, so a `Then` step can say
what should have happened (accepted, or refused with e-Gov's message).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from egov_client.admin import SimulatorAdmin
from egov_client.api import EgovClient
from egov_client.auth import AuthError, TokenSet
from egov_client.errors import ApiError, EgovError, PackageError
from egov_client.evidence import EvidenceRecorder
from egov_client.models import Application, ApplyResult, ProcedureSkeleton
from egov_client.samples import Samples, load_samples
from egov_format.package import ApplicationPackage
from egov_format.signing import Signer

from .target import Account, Target, TargetUnavailable

T = TypeVar("T")


def unavailable(call: Callable[[], T]) -> T:
    """Run `call`; what the target cannot do becomes a skip with the reason."""
    try:
        return call()
    except TargetUnavailable as exc:
        pytest.skip(str(exc))


@dataclass
class ScenarioContext:
    target: Target
    recorder: EvidenceRecorder | None = None
    samples: Samples = field(default_factory=load_samples)
    client: EgovClient | None = None
    account: Account | None = None
    login_tokens: TokenSet | None = None
    skeleton: ProcedureSkeleton | None = None
    package: ApplicationPackage | None = None
    signer: Signer | None = None
    result: ApplyResult | None = None
    application: Application | None = None
    error: Exception | None = None
    statuses: list[str] = field(default_factory=list)  # statuses seen while polling
    notes: dict[str, Any] = field(default_factory=dict)  # room for steps added later
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    # -- resources

    def http(self) -> httpx.Client:
        """A new HTTP client whose exchanges are kept as evidence (when evidence is on)."""
        hooks = self.recorder.event_hooks() if self.recorder else {}
        http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), event_hooks=hooks)
        self._closers.append(http.close)
        return http

    def on_close(self, closer: Callable[[], Any]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            with contextlib.suppress(Exception):  # closing must go on
                self._closers.pop()()

    @property
    def evidence_dir(self) -> Path | None:
        return self.recorder.folder if self.recorder else None

    # -- what the target offers (a skip with the reason when it cannot)

    def find_account(self, alias: str) -> Account:
        return unavailable(lambda: self.target.account(alias))

    def find_gbizid_account(self, alias: str) -> Account:
        return unavailable(lambda: self.target.gbizid_account(alias))

    def find_signer(self, label: str) -> Signer:
        return unavailable(lambda: self.target.signer(label))

    def admin(self, what: str = "this step") -> SimulatorAdmin:
        return unavailable(lambda: self.target.require_simulator(what))

    # -- the logged-in client

    def logged_in(self) -> EgovClient:
        if self.client is None:
            raise AssertionError("no one is logged in: add a login step (「demo」のe-Govアカウントでログインしている)")
        return self.client

    def use_tokens(self, account: Account, tokens: TokenSet) -> EgovClient:
        self.account, self.login_tokens = account, tokens
        self.client = EgovClient(self.target.endpoint, tokens, http=self.http())
        return self.client

    # -- calls that may be refused

    def attempt(self, call: Callable[[], T]) -> T | None:
        """Run an e-Gov call; keep its error for the Then steps instead of failing here."""
        self.error = None
        try:
            return call()
        except EgovError as exc:
            self.error = exc
            return None

    def expect_success(self) -> None:
        if self.error is not None:
            raise AssertionError(f"e-Gov refused the call: {describe_error(self.error)}")

    def expect_error(self, kind: type[Exception] = Exception) -> Exception:
        if self.error is None:
            raise AssertionError("the call succeeded, but an error was expected")
        if not isinstance(self.error, kind):
            raise AssertionError(f"expected {kind.__name__}, got {describe_error(self.error)}")
        return self.error

    def last_arrive_id(self) -> str:
        if self.result is None:
            raise AssertionError("nothing has arrived yet in this scenario (send an application first)")
        return self.result.arrive_id


def error_messages(error: Exception) -> list[str]:
    """Every human-readable text an error carries (e-Gov's report_list wording first)."""
    texts: list[str] = [str(getattr(error, "message", "") or "")]  # what a user sees (client's own wording)
    if isinstance(error, ApiError):
        texts += [*error.messages, error.detail, error.title]
    if isinstance(error, PackageError):
        texts.append(error.message)
    if isinstance(error, AuthError):
        texts += [error.error_description, error.error]
    texts.append(str(error))
    return [t for t in texts if t]


def describe_error(error: Exception) -> str:
    return f"{type(error).__name__}: {' / '.join(dict.fromkeys(error_messages(error)))}"
