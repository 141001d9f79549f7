"""What the auth servers' rules read: the database, the virtual clock, the signing keys and the
settings. The backends (EgovAuthServer, GbizIdProvider) are such a context, and so is the app's
Services bag, so scripts and tests may call a rule with either."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..clock import Clock
    from ..settings import Settings
    from ..store import Database
    from .keys import KeyRing


class IdpContext(Protocol):
    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def keys(self) -> KeyRing: ...

    @property
    def settings(self) -> Settings: ...
