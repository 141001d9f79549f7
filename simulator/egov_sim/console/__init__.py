"""/__console — the web console: worlds, cases, clock, maintenance, faults, journal, GビズID.

Server-rendered Japanese pages over the admin API's backend (OpsBackend): every action goes through
the same door as /__admin, behind the same guard (guard.py), with a CSRF token on every form."""

from .views import bp

__all__ = ["bp"]
