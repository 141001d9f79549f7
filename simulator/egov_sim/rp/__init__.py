"""経営革新計画電子申請システム (seed 004) under /keieikakushin: a GビズID relying party over HTTP.

models.py (tables), config.py (settings), forms.py (the five pages' rules), backend.py (KeieiBackend),
oidc.py (GbizIdClient), sessions.py (page sessions, CSRF and page helpers of both),
views.py (applicant pages), shinsa.py (the prefecture reviewers' pages), review.py (the same actions as JSON
under /__admin).
"""

from . import models  # noqa: F401  (the tables exist before create_schema)
