"""What the ops room may do inside a filing operation: after authentication, inside the operation's
own transaction, never by reading the HTTP request itself.

The FilingBackend calls these at fixed points; ops/ provides the implementation that applies the
fault rules matched for this request (by account and proc_id, now known for certain). The default
does nothing, so a backend built without ops (tests, scripts, another face) behaves plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from egov_format.reports import ReportItem
from flask import Response


@dataclass(frozen=True)
class Submission:
    """A package about to be accepted: who sends it, for which procedure, through which operation."""

    operation: str  # "apply", "bulk-apply", "apply/amend", "post-apply"
    account: str  # the authenticated account's login name
    proc_id: str


class HookAnswer(Exception):
    """An answer given by a hook in place of the operation's (a fault's): raised inside the operation,
    so its transaction is rolled back; a face answers with `response` (in its own format)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class FilingHooks:
    def authenticated(self, account: str) -> None:
        """The face has authenticated its caller (the legacy access key, whose account no header tells):
        rules on that account act now. May raise HookAnswer."""

    def prepare(self, submissions: list[Submission]) -> None:
        """The submissions an operation is about to accept, told before it writes anything (a bulk send's
        folders), so rules on them are matched then. May raise HookAnswer."""

    def automatic_return(self, submission: Submission) -> tuple[str, list[ReportItem]] | None:
        """A (detail, report) to refuse the package with (400), as e-Gov's 自動返戻; None to go on."""
        return None

    def arrival_check(self, submission: Submission) -> timedelta | None:
        """How long the new arrival stays 'being checked' (not yet in the lists); None for not at all."""
        return None


NO_HOOKS = FilingHooks()
