"""The one error of the legacy face: answered as the envelope with Code 1 and a Japanese Message."""

from __future__ import annotations


class LegacyError(Exception):
    def __init__(self, message: str, status: int = 400, *, echo: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.echo = echo or {}  # ApplData values the answer repeats (e.g. UserID, SendDateFrom/To)


SYSTEM_ERROR = "システムでエラーが発生したため処理が中断されました。電子政府利用支援センターまでご連絡ください。"
MALFORMED = "リクエストの形式に誤りがあります。"
