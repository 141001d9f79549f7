"""What the ops room refuses: an admin request it cannot carry out, with the HTTP status to answer."""

from __future__ import annotations


class OpsError(Exception):
    """An /__admin operation refused (the admin face renders it as {"title", "detail", "instance"})."""

    status = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class FaultError(OpsError, ValueError):
    """A fault rule the admin API refuses (400)."""
