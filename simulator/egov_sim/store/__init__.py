"""Persistence: SQLAlchemy models and the database handle (SQLite by default, PostgreSQL by URL)."""

from .db import Database
from .models import Base

__all__ = ["Base", "Database"]
