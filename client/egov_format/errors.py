"""Errors of the e-Gov formats (application packages, XML, zip, signatures, check files).

Each carries the fields of an e-Gov ``report_list`` item, so a server can turn it into its 400 body
unchanged and a client can show what e-Gov would have said.
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
