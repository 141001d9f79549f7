"""A submission whose commit acknowledgement was lost (issue 14 item 6): the database may have
stored the row and then failed to say so (PostgreSQL stopped between COMMIT and its answer). The
server does not guess: once the database answers again (within a bound) it looks for the row by
its arrive_id, account and package; found → the submission arrived (200), not found → nothing was
stored (503, send again), no answer → the outcome is unknown (500, check the lists before sending
again: the status the client's safe path treats as "maybe delivered").

arrive_ids are never reused on PostgreSQL (a sequence); on SQLite a rolled-back rowid can be
taken again, so the package and account are compared too."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from ..store.db import Database
from ..store.models import Application
from ..store.outage import is_outage, log, summary, wait_for_database
from .errors import FilingError

UNKNOWN = "送信結果を確認できませんでした。申請案件一覧で到達を確認してから再度送信してください。"


def landed(db: Database, arrive_id: str, account_id: int, package: bytes, *, wait: float) -> bool | None:
    """Whether the submission's row is stored: True / False, or None when the database stays unreachable."""

    def look() -> bool:
        with db.session() as s:
            stored = s.scalars(select(Application.package).where(Application.arrive_id == arrive_id,
                                                                 Application.account_id == account_id)).first()
            return stored is not None and stored == package

    try:
        return wait_for_database(look, wait=wait, what=f"the commit check of {arrive_id}")
    except Exception as error:
        if not is_outage(error):
            raise
        return None


def settle(error: BaseException, check: Callable[[], bool | None], arrive_id: str) -> None:
    """After `error` at commit: return when the row landed, re-raise `error` (503) when it did not,
    raise the outcome-unknown 500 when the database could not say."""
    outcome = check()
    log.warning("commit of %s failed (%s): %s", arrive_id, summary(error),
                {True: "stored, answering 200", False: "not stored, answering 503",
                 None: "outcome unknown, answering 500"}[outcome])
    if outcome is True:
        return
    if outcome is False:
        raise error
    raise FilingError(500, UNKNOWN) from error
