"""Persistence: SQLAlchemy models and the database handle (SQLite by default, PostgreSQL by URL)."""

from . import ops_tables as _ops_tables  # noqa: F401 - registers the ops tables on Base
from .db import Database
from .models import Base

__all__ = ["Base", "Database"]
