"""Exceptions of the client library.

Format-level errors (application packages, XML, zip, signatures) carry the fields of an e-Gov
``report_list`` item so the simulator can turn them into its 400 body unchanged.
"""

from __future__ import annotations

NA = "-"  # e-Gov writes "-" for fields that do not apply


class EgovError(Exception):
    """Base of every error raised by egov_client."""


class PackageError(EgovError):
    """An application package (or one of its files) is not acceptable."""

    def __init__(
        self,
        message: str,
        *,
        file_name: str = NA,
        item: str = NA,
        form_name: str = NA,
        attached_file_name: str = NA,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file_name = file_name or NA
        self.item = item or NA
        self.form_name = form_name or NA
        self.attached_file_name = attached_file_name or NA
        self.detail = detail  # short English explanation for logs and developers

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message

    def to_report(self) -> dict[str, str]:
        """The e-Gov ``report_list`` item shape."""
        return {
            "form_name": self.form_name,
            "attached_file_name": self.attached_file_name,
            "file_name": self.file_name,
            "item": self.item,
            "content": self.message,
        }


class UnsafeXmlError(PackageError):
    """XML with a DOCTYPE, entity declarations or an unsupported encoding."""


class XmlFormatError(PackageError):
    """XML that is not well-formed."""


class UnsafeZipError(PackageError):
    """A zip whose entries could escape, explode or hide (traversal, symlinks, bombs, encryption)."""


class PackageTooLargeError(PackageError):
    """A file over the size limit (e-Gov: 50 MB per file; the API answers 413)."""

    def __init__(self, message: str, *, limit: int, **kwargs: str) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit


class SignatureError(PackageError):
    """An XML signature is missing, malformed or does not verify."""


class PinError(PackageError):
    """Wrong PKCS#12 password (the message e-Gov users know: 「PIN が不正です」)."""


class AttachmentPolicyError(PackageError):
    """An attachment the procedure (or the chosen policy) does not accept."""


class NonAsciiFileNameWarning(UserWarning):
    """A file name with kanji etc.: allowed, but some servers fail on it."""


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


class PayloadTooLargeError(ApiError):
    """413: a file or the request is over e-Gov's upload limit."""


class MaintenanceError(ApiError):
    """503: e-Gov is in maintenance (or overloaded); `retry_after` seconds when the server said."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class UnauthorizedError(EgovError):
    """401: the access token is missing, expired or revoked (e-Gov sends no body, only WWW-Authenticate)."""

    def __init__(self, description: str = "") -> None:
        super().__init__(f"401 Unauthorized: {description}" if description else "401 Unauthorized")
        self.description = description


class NotFoundError(EgovError):
    """404: e-Gov answers with the status only (unknown arrive_id, procedure, …)."""

    def __init__(self, url: str = "") -> None:
        super().__init__(f"404 Not Found: {url}")
        self.url = url
