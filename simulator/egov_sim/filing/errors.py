"""Errors raised by filing rules; the HTTP layer turns them into the spec's bodies."""

from __future__ import annotations

from egov_format.reports import ReportItem


class FilingError(Exception):
    """A request the API refuses, with the spec's status and title."""

    def __init__(self, status: int, detail: str, report: list[ReportItem] | None = None,
                 title: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.report = report or []
        self.title = title or {400: "Bad Request", 413: "Request Entity Too Large",
                               500: "Internal Server Error", 503: "Service Unavaiable"}.get(status, "Error")


class NotFound(Exception):
    """404 — the spec returns the status only."""


def bad_request(detail: str, report: list[ReportItem] | None = None) -> FilingError:
    return FilingError(400, detail, report)
