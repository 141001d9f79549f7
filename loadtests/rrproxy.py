"""A round-robin TCP proxy on 127.0.0.1: each accepted connection goes to the next backend, as a load
balancer without affinity does — so one client's connections land on different server processes.

asyncio in a thread of its own; bounded (at most MAX_CONNECTIONS at once, idle connections closed
after IDLE_SECONDS); counts the connections each backend took. For tests and load scripts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_CONNECTIONS = 256
IDLE_SECONDS = 120.0
CHUNK = 65536


class RoundRobin:
    def __init__(self, backends: list[tuple[str, int]]) -> None:
        self.backends = backends
        self.taken = [0] * len(backends)  # connections each backend took
        self._next = itertools.cycle(range(len(backends)))
        self._slots: asyncio.Semaphore | None = None
        self._open: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await asyncio.wait_for(reader.read(CHUNK), IDLE_SECONDS):
                writer.write(data)
                await writer.drain()
        except (TimeoutError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        assert self._slots is not None
        task = asyncio.current_task()
        if task is not None:
            self._open.add(task)
            task.add_done_callback(self._open.discard)
        async with self._slots:
            index = next(self._next)
            self.taken[index] += 1
            try:
                server_r, server_w = await asyncio.open_connection(*self.backends[index])
            except OSError:
                client_w.close()
                return
            self._writers |= {client_w, server_w}
            try:
                await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))
            finally:
                self._writers -= {client_w, server_w}

    async def serve(self, port: int, started: threading.Event, stop: asyncio.Event) -> None:
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        server = await asyncio.start_server(self.handle, "127.0.0.1", port)
        started.set()
        async with server:
            await stop.wait()
        for writer in list(self._writers):  # connections still open: closed, not left to a dead loop
            writer.transport.abort()
        await asyncio.gather(*self._open, return_exceptions=True)


@contextmanager
def round_robin(port: int, backends: list[tuple[str, int]]) -> Iterator[RoundRobin]:
    """The proxy listening on 127.0.0.1:`port` for the duration (its loop in a daemon thread)."""
    proxy, started = RoundRobin(backends), threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.serve(port, started, stop))

    thread = threading.Thread(target=run, name="rrproxy", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError(f"the proxy did not listen on 127.0.0.1:{port}")
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
