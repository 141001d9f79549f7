"""Finding the arrival of a send whose outcome is unknown — the one rule behind `safe_submit` and the
`egov` command's ledger (batch.py).

e-Gov has no idempotency key: after a time-out, a reset or a 5xx on `POST /apply` the only way to
know whether the package arrived is to list the applications by arrival date (`GET /apply/lists`)
and look for it. An arrival is the package's when it is not already accounted for (known before the
send, or claimed by another send — claims.py), not older than a lower bound, and names the same
applicant, corporation and procedure. Sends that the lists could not tell apart go one at a time
(`Identity.lock_key`, held by claims.py), so at most one candidate can be the package's: when more
than one is there (a sender outside the claims sent the same identity), `decide` refuses to guess
and raises OutcomeUnknownError.

The listing is described once as a generator of `Call`s (`listing_steps`), so the sync and async
safe-submit runners and the ledger's sync `find_arrival` all page through it the same way.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Generator, Iterable, Set
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from egov_format.package import ParsedPackage

from .calls import Call
from .errors import MaintenanceError, OutcomeUnknownError
from .models import Application, ApplicationPage

LIST_PAGE = 50  # GET /apply/lists: limit ≤ 50
MAX_PAGES = 20  # 1000 arrivals in the window is more than any one office sends around a lost answer


@dataclass(frozen=True)
class Wait:
    """A pause the runner performs (maintenance, or a while for arrival checks to finish)."""

    seconds: float


def norm(text: str | None) -> str:
    """Compare names as e-Gov may echo them: NFKC (full/half width), no spaces of either width."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def _known(text: str | None) -> bool:
    return norm(text) not in ("", "-")


@dataclass(frozen=True)
class Identity:
    """What identifies a package among the arrivals of a day (read from its kousei.xml)."""

    applicant: str = ""
    corporation: str = ""
    proc_name: str = ""

    @classmethod
    def of(cls, parsed: ParsedPackage) -> Identity:
        return cls(parsed.applicant.get("氏名", ""), parsed.applicant.get("法人団体名", ""), parsed.proc_name)

    @property
    def lock_key(self) -> str:
        """Identities whose arrivals `matches` could confuse share a key: the procedure and the first
        character of the applicant (names match by prefix; corporations are ignored when unknown)."""
        return f"{norm(self.proc_name)}|{norm(self.applicant)[:1]}"

    def matches(self, app: Application) -> bool:
        applicant, seen = norm(self.applicant), norm(app.applicant_name)
        # e-Gov may shorten a long name in the list: a prefix either way is the same person
        if applicant and not (seen and (seen == applicant or applicant.startswith(seen) or seen.startswith(applicant))):
            return False
        if _known(self.corporation) and _known(app.corporation_name) and \
                norm(self.corporation) != norm(app.corporation_name):
            return False
        return not (self.proc_name and app.proc_name and norm(self.proc_name) != norm(app.proc_name))


def decide(applications: Iterable[Application], who: Identity, *, exclude: Set[str] = frozenset(),
           after: datetime | None = None) -> Application | None:
    """The arrival that is the package's, None when there is none; OutcomeUnknownError when several
    unclaimed arrivals could be (the lists cannot decide which, so taking one could take another's)."""
    candidates = [a for a in applications
                  if a.arrive_id not in exclude and who.matches(a)
                  and not (after and a.arrive_date and a.arrive_date < after)]
    if len(candidates) > 1:
        ids = ", ".join(sorted(a.arrive_id for a in candidates))
        raise OutcomeUnknownError(f"{len(candidates)} unclaimed arrivals could be this package ({ids}); "
                                  "the lists cannot decide which", maybe_delivered=True, operation="submit")
    return candidates[0] if candidates else None


Step = Call[Any] | Wait


def listing_steps(client: Any, date_from: date, date_to: date,
                  on_maintenance: Callable[[MaintenanceError], float] | None = None,
                  ) -> Generator[Step, Any, list[Application]]:
    """Every arrival between the dates, page by page (yields list Calls; answered with pages).

    `on_maintenance` returns how long to wait before asking again, or raises; without it a
    maintenance answer propagates."""
    call = type(client).list_applications.__wrapped__(client, date_from=date_from, date_to=date_to,
                                                      limit=LIST_PAGE, offset=0)
    call = dataclasses.replace(call, name="list_applications")
    found: list[Application] = []
    for _ in range(MAX_PAGES):
        try:
            page: ApplicationPage = yield call
        except MaintenanceError as exc:
            if on_maintenance is None:
                raise
            yield Wait(on_maintenance(exc))
            continue
        found.extend(page.applications)
        if not page.has_next or not page.applications:
            break
        offset = (call.params or {}).get("offset", 0) + len(page.applications)
        call = dataclasses.replace(call, params={**(call.params or {}), "offset": offset})
    return found


def run_sync(client: Any, steps: Generator[Step, Any, Any], sleep: Callable[[float], None]) -> Any:
    """Drive a generator of Calls and Waits with a sync client (exceptions are handed back to it)."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(send)
        except StopIteration as stop:
            return stop.value
        send, error = None, None
        if isinstance(step, Wait):
            sleep(step.seconds)
            continue
        try:
            send = client._executor.execute(step)
        except Exception as exc:  # handed to the generator, which decides
            error = exc


async def run_async(client: Any, steps: Generator[Step, Any, Any], sleep: Callable[[float], Any]) -> Any:
    """The same as `run_sync`, for an async client."""
    send: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = steps.throw(error) if error is not None else steps.send(send)
        except StopIteration as stop:
            return stop.value
        send, error = None, None
        if isinstance(step, Wait):
            await sleep(step.seconds)
            continue
        try:
            send = await client._executor.execute(step)
        except Exception as exc:
            error = exc


def find_arrival(client: Any, who: Identity, date_from: date, date_to: date, *, exclude: Set[str] = frozenset(),
                 after: datetime | None = None) -> Application | None:
    """With a sync client: the arrival of a package whose send has no known outcome, or None
    (OutcomeUnknownError when the lists cannot decide)."""
    arrivals = run_sync(client, listing_steps(client, date_from, date_to), sleep=lambda s: None)
    return decide(arrivals, who, exclude=exclude, after=after)
