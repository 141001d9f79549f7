"""Sending without duplicates when the outcome of a send is unknown.

The vendor manuals warn that a second send before the first completes loses the first
(「申請が完了する前に次の申請を行うと、先に行った申請が送信されません」), that a send can take
minutes in busy periods, and that data sent around a maintenance window may not have arrived.
So after a timeout, a reset or a 5xx on `POST /apply`, this module does not resend blindly: it
lists the applications by arrival date (e-Gov has no idempotency key) and looks for the one just
sent — new since the send began, same applicant — waiting a while for arrival checks to finish.
Only when it has not appeared does it send again. During maintenance it can wait for the window
to end (the window end comes from the 503) and send then.

The steps are described once as a generator of `Call`s and waits; `safe_submit` runs them with an
EgovClient and `safe_submit_async` with an AsyncEgovClient. Which arrival is the package's is decided
by arrivals.py, the same rule the `egov` command's ledger uses. Under concurrency (threads, processes,
batch runs sharing a `Claims` directory) sends the lists could not tell apart go one at a time, and
every arrival taken is claimed once (claims.py): an arrival another send owns is never returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from egov_format.package import parse_package

from .arrivals import Identity, Step, Wait, decide, listing_steps, run_async, run_sync
from .calls import Call
from .claims import DEFAULT_WAIT, Claims
from .errors import ApiError, CommunicationError, MaintenanceError, OutcomeUnknownError
from .models import Application, ApplyResult

JST = timezone(timedelta(hours=9), "JST")
UNKNOWN_STATUSES = (500, 502, 504)  # the request may have been processed


@dataclass(frozen=True)
class SafeSubmitPolicy:
    sends: int = 2  # at most this many POST /apply in total
    checks: int = 4  # list checks after an unknown outcome before resending
    check_interval: float = 60.0  # seconds between checks (arrival checks take minutes in busy periods)
    wait_for_maintenance: bool = False  # sleep until a maintenance window ends, then send
    max_maintenance_wait: float = 2 * 86400.0
    days_back: int = 1  # list arrivals from this many days before "today" (a send near midnight)
    busy_wait: float = DEFAULT_WAIT  # wait this long for another send of the same identity, then SendBusyError


@dataclass
class SafeSubmitResult:
    arrive_id: str
    result: ApplyResult | None  # the 200 answer, when one arrived
    application: Application | None  # the list entry, when found by checking
    sends: int
    recovered: bool  # True when the application was found in the lists after an unknown outcome
    events: list[str] = field(default_factory=list)


Plan = Generator[Step, Any, SafeSubmitResult]


def scope_of(client: Any) -> str:
    """Claims are kept per server: its API base."""
    return str(client.endpoint.api_base)


def plan(client: Any, proc_id: str, package_zip: bytes, *, file_name: str | None = None,
         policy: SafeSubmitPolicy = SafeSubmitPolicy(),
         today: Callable[[], date] = lambda: datetime.now(JST).date(),
         claims: Claims | None = None, who: Identity | None = None) -> Plan:
    """The safe-submit steps: yields Calls (answered with results, or thrown their exceptions) and Waits.

    Run it while holding the identity's lock (`safe_submit` does); with `claims` every arrival it
    returns is claimed, and arrivals claimed by other sends are never taken."""
    who = who or Identity.of(parse_package(package_zip))
    scope, owner = scope_of(client), uuid.uuid4().hex
    ops = type(client)
    submit_call: Call[ApplyResult] = ops.submit.__wrapped__(client, proc_id, package_zip, file_name)
    submit_call = dataclasses.replace(submit_call, name="submit")
    events: list[str] = []

    def maintenance_wait(exc: MaintenanceError) -> float:
        """Seconds to wait for the window to end, or re-raise when the policy does not wait."""
        wait = exc.retry_after  # on the server's clock; the window end is informative
        if wait is None and exc.window_end is not None:
            wait = max((exc.window_end - datetime.now(JST)).total_seconds(), 0.0)
        if not policy.wait_for_maintenance or wait is None or wait > policy.max_maintenance_wait:
            raise exc
        events.append(f"maintenance until {exc.window_end or '?'}: waiting {wait:.0f}s")
        return wait + 1

    def arrivals() -> Generator[Step, Any, list[Application]]:
        end = today()
        return (yield from listing_steps(client, end - timedelta(days=policy.days_back), end, maintenance_wait))

    def owned(arrive_id: str, arrived: datetime | None) -> bool:
        return claims is None or claims.claim(scope, arrive_id, owner, arrived)

    before = {a.arrive_id for a in (yield from arrivals())}
    sends = 0
    while True:
        if sends >= policy.sends:
            raise OutcomeUnknownError(f"not found in the lists after {sends} send(s); not sending again",
                                      maybe_delivered=True, operation="submit")
        sends += 1
        try:
            result: ApplyResult = yield submit_call
            events.append(f"send {sends}: arrived {result.arrive_id}")
            owned(result.arrive_id, result.arrive_date)  # a 200 is ours whatever the store says; claimed so no one else takes it
            return SafeSubmitResult(result.arrive_id, result, None, sends, False, events)
        except MaintenanceError as exc:
            sends -= 1  # refused by the maintenance gateway: nothing was processed
            yield Wait(maintenance_wait(exc))
            continue
        except CommunicationError as exc:
            if not exc.maybe_delivered:
                events.append(f"send {sends}: not delivered ({exc.reason})")
                sends -= 1
                yield Wait(policy.check_interval / 4)
                continue
            events.append(f"send {sends}: outcome unknown ({exc.reason})")
        except ApiError as exc:
            if exc.status not in UNKNOWN_STATUSES:
                raise
            events.append(f"send {sends}: outcome unknown ({exc.status})")
        # the outcome is unknown: look before sending again
        for check in range(policy.checks):
            listed = yield from arrivals()
            found = decide(listed, who, exclude=before | (claims.excluded(scope, listed) if claims else set()))
            if found is not None:
                if not owned(found.arrive_id, found.arrive_date):  # claimed by another send meanwhile: not ours to take
                    raise OutcomeUnknownError(f"{found.arrive_id} was claimed by another send; not resending",
                                              maybe_delivered=True, operation="submit")
                events.append(f"check {check + 1}: found {found.arrive_id}; not sending again")
                return SafeSubmitResult(found.arrive_id, None, found, sends, True, events)
            events.append(f"check {check + 1}: not in the lists yet")
            if check + 1 < policy.checks:
                yield Wait(policy.check_interval)


def safe_submit(client: Any, proc_id: str, package_zip: bytes, *, file_name: str | None = None,
                policy: SafeSubmitPolicy = SafeSubmitPolicy(), today: Callable[[], date] | None = None,
                sleep: Callable[[float], None] = time.sleep, claims: Claims | None = None) -> SafeSubmitResult:
    """Send once, check the lists after an unknown outcome, and resend only if it did not arrive.

    Sends of an identity the lists could not tell apart wait for each other (across threads and
    processes sharing `claims`, by default the `egov` home's claims directory); SendBusyError after
    `policy.busy_wait` seconds, with nothing sent."""
    claims = claims or Claims()
    who = Identity.of(parse_package(package_zip))
    with claims.hold(scope_of(client), who.lock_key, policy.busy_wait):
        steps = plan(client, proc_id, package_zip, file_name=file_name, policy=policy, claims=claims, who=who,
                     **({"today": today} if today else {}))
        return run_sync(client, steps, sleep)


async def safe_submit_async(client: Any, proc_id: str, package_zip: bytes, *, file_name: str | None = None,
                            policy: SafeSubmitPolicy = SafeSubmitPolicy(), today: Callable[[], date] | None = None,
                            sleep: Callable[[float], Any] = asyncio.sleep,
                            claims: Claims | None = None) -> SafeSubmitResult:
    """The same as `safe_submit`, for an AsyncEgovClient."""
    claims = claims or Claims()
    who = Identity.of(parse_package(package_zip))
    async with claims.hold_async(scope_of(client), who.lock_key, policy.busy_wait):
        steps = plan(client, proc_id, package_zip, file_name=file_name, policy=policy, claims=claims, who=who,
                     **({"today": today} if today else {}))
        return await run_async(client, steps, sleep)
