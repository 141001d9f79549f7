"""Connection-level faults on the server socket: a reset (RST) and a hang until the client gives up.

Werkzeug's server puts the socket in `environ["werkzeug.socket"]`, gunicorn in `gunicorn.socket`.
Without a socket (in-process WSGI) a reset surfaces as ConnectionResetError raised while the body
is read, and a hang simply sleeps for its maximum.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")
POLL = 0.05


def client_socket(environ: dict[str, Any]) -> socket.socket | None:
    for key in SOCKET_KEYS:
        sock = environ.get(key)
        if isinstance(sock, socket.socket):
            return sock
    return None


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def hang(environ: dict[str, Any], seconds: float) -> float:
    """Hold the request until the client closes the connection or `seconds` pass; returns the wait."""
    sock = client_socket(environ)
    start = time.monotonic()
    deadline = start + seconds
    while (now := time.monotonic()) < deadline:
        if sock is not None and _peer_closed(sock):
            break
        time.sleep(min(POLL, deadline - now))
    return time.monotonic() - start


def reset(environ: dict[str, Any]) -> bool:
    """Abort the connection with a TCP RST (SO_LINGER 0 and close). True when a socket was reset."""
    sock = client_socket(environ)
    if sock is None:
        return False
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # detach: the server's file wrappers keep a reference, so close() alone would not close the fd
        os.close(sock.detach())
    return True


def dropping_body(environ: dict[str, Any]) -> Iterator[bytes]:
    """A response body that resets the connection instead of sending anything.

    Raising ConnectionResetError while the server reads the body makes it drop the connection
    quietly (werkzeug treats it as the client going away) before any byte is written."""
    reset(environ)
    raise ConnectionResetError("connection reset by fault injection")
    yield b""  # pragma: no cover - makes this a generator
