"""Things that happen to accounts and certificates outside the API: a cut session, a revoked certificate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ..store.models import Account, AuthSession, Certificate


def find_account_id(session, name: str) -> int | None:  # type: ignore[no-untyped-def]
    """An account by login ID or demo alias (profile.alias)."""
    acc = session.scalars(select(Account).where(Account.username == name)).first()
    if acc is not None:
        return acc.id
    for acc in session.scalars(select(Account)):
        if (acc.profile or {}).get("alias") == name:
            return acc.id
    return None


def cut_sessions(db, account_id: int, now: datetime) -> int:  # type: ignore[no-untyped-def]
    """End every live login session of an account (seed 002: 「e-Govへのセッションが一時的に切れた」).
    Its tokens get 401 and refreshing fails; a new login works."""
    with db.session() as s:
        return s.execute(update(AuthSession).where(AuthSession.account_id == account_id,
                                                   AuthSession.revoked_at.is_(None))
                         .values(revoked_at=now)).rowcount


def revoke_certificate(db, label: str, at: datetime) -> bool:  # type: ignore[no-untyped-def]
    """Revoke a demo certificate from `at` (a registry change: 社名・所在地・代表者の変更登記)."""
    with db.session() as s:
        cert = s.scalars(select(Certificate).where(Certificate.label == label)).first()
        if cert is None:
            return False
        cert.revoked_at = at
        return True
