"""Evidence of each exchanged request and response, as readable files laid out by test number.

For e-Gov's 最終確認試験 (the final acceptance test before production use) a team hands in what
its software sent and received per test item. Each exchange becomes one text file
`NNN_METHOD_path.txt` in the scenario's folder; secrets (tokens, passwords, API key) are masked.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

SECRET_FIELDS = frozenset({"password", "access_token", "refresh_token", "id_token", "code", "code_verifier",
                           "client_secret", "token", "login_request"})
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-admin-token"})
MAX_TEXT = 2 * 1024 * 1024  # larger bodies are cut (the file says so)


def mask(value: str) -> str:
    """Keep enough to tell values apart, never enough to use them."""
    return value[:6] + "…(masked)" if len(value) > 10 else "…(masked)"


def _mask_header(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {mask(rest)}" if rest and scheme in ("Bearer", "Basic") else mask(value)


def _mask_json(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: mask(str(v)) if k in SECRET_FIELDS and v else _mask_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_json(v) for v in data]
    return data


def _body_text(content: bytes, content_type: str) -> str:
    if not content:
        return "(empty body)"
    if "json" in content_type:
        try:
            return json.dumps(_mask_json(json.loads(content)), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    if "x-www-form-urlencoded" in content_type:
        pairs = parse_qsl(content.decode("utf-8", "replace"), keep_blank_values=True)
        return urlencode([(k, mask(v) if k in SECRET_FIELDS and v else v) for k, v in pairs])
    if content_type.startswith("text/") or "xml" in content_type or "html" in content_type:
        text = content.decode("utf-8", "replace")
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"\n…(cut: {len(text)} characters)"
    return f"({len(content)} bytes of {content_type or 'binary data'})"


def _slug(path: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "_", path.strip("/"))[:80] or "root"


def _mask_url(url: httpx.URL) -> str:
    if not url.query:
        return str(url)
    pairs = parse_qsl(url.query.decode(), keep_blank_values=True)
    return str(url.copy_with(query=urlencode([(k, mask(v) if k in SECRET_FIELDS and v else v)
                                              for k, v in pairs]).encode()))


class EvidenceRecorder:
    """Writes every exchange of an httpx client into `folder` (use `event_hooks()` on the client)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.count = 0
        self._lock = threading.Lock()
        self.files: list[Path] = []

    def _next(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def event_hooks(self) -> dict[str, list[Any]]:
        return {"response": [self.record]}

    def record(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        number = self._next()
        lines = [f"# {number:03d} {request.method} {request.url.path} → {response.status_code} "
                 f"{response.reason_phrase}", f"# recorded {datetime.now().astimezone().isoformat(timespec='seconds')}",
                 "", "## request", f"{request.method} {_mask_url(request.url)}"]
        lines += [f"{k}: {_mask_header(k, v)}" for k, v in request.headers.items()]
        lines += ["", _body_text(request.content, request.headers.get("content-type", "")), "", "## response",
                  f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
        lines += [f"{k}: {_mask_header(k, v)}" for k, v in response.headers.items()]
        lines += ["", _body_text(response.content, response.headers.get("content-type", "")), ""]
        self._write(f"{number:03d}_{request.method}_{_slug(request.url.path)}.txt", "\n".join(lines).encode())

    def attach(self, name: str, data: bytes) -> Path:
        """Another piece of evidence (a screenshot, a package zip) numbered in the same sequence."""
        return self._write(f"{self._next():03d}_{name}", data)

    def _write(self, name: str, data: bytes) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        path.write_bytes(data)
        self.files.append(path)
        return path
