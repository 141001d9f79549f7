"""The status poll — GET /shinsei/v2/apply/{arrive_id}, the call clients make most — in one
statement: the token's session and account, the clock, the case (without its package blob), its
hold and its actions, read together on a prepared statement (store/prepared.py). The rules are
the usual ones: `bearer_context` for the token, `FilingService.visible`'s for the case (checked
here in Python on the rows), lifecycle for the status. No Flask here.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select

from ..idp.egov_tokens import BEARER_COLUMNS, AccessContext, bearer_context
from ..store import Database
from ..store.models import Account, Application, ApplicationAction, AuthSession, ClockRow
from ..store.ops_tables import ApplicationHold

# What the status poll presents (FilingService.detail, lifecycle.view): not the package blob, forms or attachments.
_CASE_COLUMNS = [c for c in Application.__table__.c if c.key not in ("package", "forms", "attachments")]
_HOLD_COLUMNS = [ApplicationHold.hidden_until, ApplicationHold.lost_reason]
_ACTION_COLUMNS = list(ApplicationAction.__table__.c)

BearerState = namedtuple("BearerState", [c.key for c in BEARER_COLUMNS])  # type: ignore[misc]
CaseRow = namedtuple("CaseRow", [c.key for c in _CASE_COLUMNS])  # type: ignore[misc]
ActionRow = namedtuple("ActionRow", [c.key for c in _ACTION_COLUMNS])  # type: ignore[misc]

_B = len(BEARER_COLUMNS)
_C = _B + len(_CASE_COLUMNS)
_A = _C + len(_HOLD_COLUMNS)

STATEMENT = (
    select(*BEARER_COLUMNS, *_CASE_COLUMNS, *_HOLD_COLUMNS, *_ACTION_COLUMNS)
    .select_from(AuthSession)
    .join(Account, Account.id == AuthSession.account_id)
    .join(ClockRow, ClockRow.id == 1)
    .outerjoin(Application, (Application.arrive_id == bindparam("arrive_id"))
               & (Application.account_id == Account.id) & (Application.trial == bindparam("trial")))
    .outerjoin(ApplicationHold, ApplicationHold.application_id == Application.id)
    .outerjoin(ApplicationAction, ApplicationAction.application_id == Application.id)
    .where(AuthSession.id == bindparam("sid"))
    .order_by(ApplicationAction.at, ApplicationAction.id)
)


@dataclass
class OwnCase:
    """The caller (token checked) and, when it is one of the caller's own visible cases, the case."""

    access: AccessContext
    case: Any = None  # a CaseRow (Application's attributes but the package), or None
    actions: list[Any] = field(default_factory=list)  # ActionRows in order
    extra: tuple[Any, ...] = ()  # the values of `extra` columns (read_own_case)


def with_columns(*columns: Any) -> Any:
    """STATEMENT with `columns` (scalar subqueries) read in the same round trip, after the others."""
    return STATEMENT.add_columns(*columns)


def read_own_case(db: Database, claims: dict[str, Any], arrive_id: str, trial: bool, *,
                  statement: Any = STATEMENT, extra: int = 0) -> OwnCase:
    """One round trip. Raises InvalidTokenError as `authenticate_bearer` does. `statement`: STATEMENT or
    one `with_columns(...)` of `extra` more columns (OwnCase.extra)."""
    with db.reads.connection() as conn:
        rows = db.prepared(statement).rows(conn, {"sid": claims["sid"], "arrive_id": arrive_id, "trial": trial})
    if not rows:
        bearer_context(claims, None)  # raises: the session does not exist
    first = rows[0]
    if extra:
        rows = [r[:-extra] for r in rows]
    access = bearer_context(claims, BearerState._make(first[:_B]))
    more = tuple(first[len(first) - extra:]) if extra else ()
    case = CaseRow._make(first[_B:_C])
    hidden_until, lost_reason = first[_C:_A]
    now = access.now
    assert now is not None
    if (case.id is None or case.arrive_at > now or lost_reason is not None
            or (hidden_until is not None and hidden_until > now)):
        return OwnCase(access, extra=more)  # not visible as the caller's own: arrived later, held, or someone else's
    actions = [ActionRow._make(r[_A:]) for r in rows if r[_A] is not None]
    return OwnCase(access, case, actions, more)
