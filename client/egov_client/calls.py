"""One description of a request, for the API, the auth server and GビズID alike.

A `Call` says what to send and how to read the answer; a flow is a generator that yields Calls (and is
sent their results) when one operation takes several requests. Neither does I/O: an executor
(executor.py) runs them, synchronously or asynchronously. `operation` and `flow` turn a Call builder
or a flow into a client method that returns the result (sync client) or an awaitable of it (async client).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

import httpx

T = TypeVar("T")
P = ParamSpec("P")

ANY_STATUS = tuple(range(100, 600))  # the parser reads error answers itself (auth server, GビズID, pages)


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request to make and how to parse its answer."""

    method: str
    url: str  # absolute, or a path under the executor's API base
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None  # form fields
    headers: dict[str, str] = field(default_factory=dict)
    bearer: bool = True  # send the access token (and refresh it when needed)
    idempotent: bool = False  # safe to resend when the outcome is unknown
    timeout: float | None = None
    ok_status: tuple[int, ...] = (200,)  # other statuses are mapped to e-Gov errors
    name: str = ""  # the operation (for the timeout policy and errors)


Flow = Generator[Call[Any], Any, T]  # yields Calls, is sent their results (or thrown their errors)


def page(method: str, url: str, data: dict[str, str] | None = None) -> Call[httpx.Response]:
    """A browser-like request (login pages, redirects): the raw response, whatever its status."""
    return Call(method, url, lambda r: r, data=data, bearer=False, ok_status=ANY_STATUS)


def operation(build: Callable[Concatenate[Any, P], Call[T]]) -> Callable[Concatenate[Any, P], Any]:
    """A Call builder as a client method: runs the Call on `self._executor` (named after the builder)."""

    @wraps(build)
    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> Any:
        call = build(self, *args, **kwargs)
        return self._executor.execute(call if call.name else dataclasses.replace(call, name=build.__name__))

    return method


def flow(steps: Callable[Concatenate[Any, P], Flow[T]]) -> Callable[Concatenate[Any, P], Any]:
    """A flow as a client method: runs the generator on `self._executor`."""

    @wraps(steps)
    def method(self: Any, *args: P.args, **kwargs: P.kwargs) -> Any:
        return self._executor.run(steps(self, *args, **kwargs))

    return method
