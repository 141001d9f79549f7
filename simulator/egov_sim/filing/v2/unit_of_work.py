"""One filing unit of work per request: a database session at the request's virtual "now", and the
FilingBackend over it with the ops hooks of this request (the ops middleware sets `g.filing_hooks`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from flask import g

from ...services import services
from ...settings import Settings
from ..backend import FilingBackend
from ..cases import FilingService
from ..hooks import NO_HOOKS
from ..staff import SandboxStaff


def request_now() -> datetime:
    access = g.get("access")  # the bearer check already read the clock: reuse that instant
    return access.now if access is not None and access.now is not None else services().clock.now()


@contextmanager
def backend() -> Iterator[FilingBackend]:
    """The backend of this request, committed when the block ends without an error."""
    svc = services()
    now = request_now()
    with svc.db.session() as session:
        yield FilingBackend(session, svc.catalogue, now, hooks=g.get("filing_hooks", NO_HOOKS),
                            max_file_bytes=svc.settings.max_file_bytes, staff=sandbox_staff(svc.settings),
                            form_item_max_chars=svc.settings.form_item_max_chars)


@lru_cache(maxsize=8)
def sandbox_staff(settings: Settings) -> SandboxStaff | None:
    """Sandbox mode's staff (None otherwise), made once per settings."""
    if not settings.sandbox_mode:
        return None
    return SandboxStaff.from_settings(settings.sandbox_staff_plan, settings.sandbox_staff_scale)


@contextmanager
def filing() -> Iterator[FilingService]:
    """The bare unit of work (the case admin of ops/ reads and records actions through it)."""
    svc = services()
    now = request_now()
    with svc.db.session() as session:
        yield FilingService(session, svc.catalogue, now)
