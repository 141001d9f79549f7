"""Flask's request with the body limit kept however the body is framed: a body without Content-Length
(chunked) over MAX_CONTENT_LENGTH raises RequestEntityTooLarge — each face renders its own 413 — instead
of being cut at the limit (werkzeug reads only the first MAX_CONTENT_LENGTH bytes of such a stream, so the
view saw a truncated body and answered 400)."""

from __future__ import annotations

import io
from typing import IO, Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property


class _Capped(io.RawIOBase):
    """The raw input, refusing with 413 as soon as more than `limit` bytes arrive."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw, self._limit, self._seen = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(min(len(buffer), self._limit + 1 - self._seen))
        self._seen += len(data)
        if self._seen > self._limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


class BodyLimitedRequest(Request):
    @cached_property
    def stream(self) -> IO[bytes]:  # type: ignore[override]
        limit = self.max_content_length
        if self.content_length is None and limit is not None and self.environ.get("wsgi.input_terminated"):
            return _Capped(self.environ["wsgi.input"], limit)  # type: ignore[return-value]
        return super().stream
