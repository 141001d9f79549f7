"""Which cases a caller may see: its own, plus those shared with it through アカウント間情報共有."""

from __future__ import annotations

from ..store.models import Account, Application
from .cases import Caller, FilingService
from .errors import NotFound
from .sharing import owners_sharing_with


def find_case(f: FilingService, caller: Caller, arrive_id: str, *, kind: str | None = None,
              need: str = "READ") -> Application:
    """The case, if it is the caller's own or (for `kind` official | post) shared with at least `need`."""
    owners = [caller.account_id]
    if kind is not None and not caller.trial:
        owners += owners_sharing_with(f, caller.account_id, kind, need)
    app = f.session.scalars(f.visible(owners, caller.trial).where(Application.arrive_id == arrive_id)).first()
    if app is None:
        raise NotFound(arrive_id)
    return app


def own_cases(f: FilingService, caller: Caller) -> list[Application]:
    return list(f.session.scalars(f.visible([caller.account_id], caller.trial).order_by(Application.id)))


def owner_of(f: FilingService, app: Application) -> Caller:
    """The account that filed the case (applied_account of a shared case)."""
    owner = f.session.get(Account, app.account_id)
    return Caller(app.account_id, owner.username if owner else "-", app.trial)
