"""Exceptions of the client library.

Format-level errors (application packages, XML, zip, signatures) live with the formats
(`egov_format.errors`) and are re-exported here; EgovError is the base of both.
"""

from __future__ import annotations

from datetime import datetime

from egov_format.errors import (
    NA,
    AttachmentPolicyError,
    EgovError,
    NonAsciiFileNameWarning,
    PackageError,
    PackageTooLargeError,
    PinError,
    SignatureError,
    UnsafeXmlError,
    UnsafeZipError,
    XmlFormatError,
)

from .explain import explain

__all__ = [
    "NA",
    "ApiError",
    "AttachmentPolicyError",
    "CommunicationError",
    "EgovError",
    "MaintenanceError",
    "NonAsciiFileNameWarning",
    "NotFoundError",
    "OutcomeUnknownError",
    "PackageError",
    "PackageTooLargeError",
    "PayloadTooLargeError",
    "PinError",
    "RequestTimeoutError",
    "SignatureError",
    "UnauthorizedError",
    "UnsafeXmlError",
    "UnsafeZipError",
    "XmlFormatError",
]


# ---------------------------------------------------------------------------- API answers


class ApiError(EgovError):
    """e-Gov refused a call (400/413/500/503): the spec's title, detail and report_list."""

    def __init__(self, *, status: int, title: str = "", detail: str = "", report_list: list | None = None,
                 body: dict | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.report_list: list[dict] = list(report_list or [])
        self.body = body or {}
        contents = "; ".join(str(r.get("content", "")) for r in self.report_list if isinstance(r, dict))
        super().__init__(f"{status} {title}: {detail}" + (f" [{contents}]" if contents else ""))

    @property
    def messages(self) -> list[str]:
        """The Japanese messages of report_list (e-Gov's own wording)."""
        return [str(r.get("content", "")) for r in self.report_list if isinstance(r, dict)]

    @property
    def message(self) -> str:
        """The Japanese message a user should see: the first report item, else the detail."""
        return next((m for m in self.messages if m), "") or self.detail or self.title

    @property
    def explanation(self) -> str:
        """A short English explanation of `message` (or of the status)."""
        return explain(self.message, self.status) or explain(self.detail, self.status)


class PayloadTooLargeError(ApiError):
    """413: a file or the request is over e-Gov's upload limit."""


MAINTENANCE_MESSAGE = "e-Govはメンテナンス中です。メンテナンス終了後にご利用ください。"


class MaintenanceError(ApiError):
    """503: e-Gov is in maintenance (or overloaded). `retry_after` seconds when the server said, and
    `window_end` (aware datetime) when known — the simulator sends it, real e-Gov may not."""

    def __init__(self, *, retry_after: float | None = None, window_end: datetime | None = None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.window_end = window_end

    @property
    def message(self) -> str:
        return MAINTENANCE_MESSAGE

    @property
    def explanation(self) -> str:
        until = f" The window ends at {self.window_end.isoformat()}." if self.window_end else ""
        return explain(MAINTENANCE_MESSAGE) + until


# WWW-Authenticate error_description (ISO-8859-1, so English) → the Japanese message users know
_UNAUTHORIZED_MESSAGES = {
    "token expired": "トークンの有効期限が切れています",
    "token is not active": "トークンの有効期限が切れています",
    "session not active": "e-Govへのセッションが切れました。再度ログインしてください。",
}


class UnauthorizedError(EgovError):
    """401: the access token is missing, expired or revoked (e-Gov sends no body, only WWW-Authenticate)."""

    def __init__(self, description: str = "", *, refresh_failed: bool = False) -> None:
        super().__init__(f"401 Unauthorized: {description}" if description else "401 Unauthorized")
        self.description = description
        self.refresh_failed = refresh_failed  # the client tried to refresh and the auth server refused

    @property
    def message(self) -> str:
        if self.refresh_failed:
            return "e-Govへのセッションが切れました。再度ログインしてください。"
        return _UNAUTHORIZED_MESSAGES.get(self.description.strip().lower(), "トークンの有効期限が切れています")

    @property
    def explanation(self) -> str:
        return explain(self.message, 401)


class CommunicationError(EgovError):
    """The request failed on the network. `maybe_delivered`: it may have reached e-Gov (a timeout or a
    reset after sending), so the outcome of a send is unknown — check the lists before resending."""

    def __init__(self, reason: str, *, maybe_delivered: bool, operation: str = "") -> None:
        super().__init__(f"{operation or 'request'}: {reason}")
        self.reason = reason
        self.maybe_delivered = maybe_delivered
        self.operation = operation

    @property
    def message(self) -> str:
        return "通信エラーが発生しました。送信結果を確認してください。" if self.maybe_delivered \
            else "e-Govに接続できませんでした。"

    @property
    def explanation(self) -> str:
        return explain(self.message)


class RequestTimeoutError(CommunicationError):
    """No answer within the operation's timeout (seed 001: a send normally takes 3 s – 5 min)."""


class OutcomeUnknownError(CommunicationError):
    """A send whose outcome stayed unknown after checking the lists (safe_submit gave up without resending)."""


class NotFoundError(EgovError):
    """404: e-Gov answers with the status only (unknown arrive_id, procedure, …)."""

    def __init__(self, url: str = "") -> None:
        super().__init__(f"404 Not Found: {url}")
        self.url = url
