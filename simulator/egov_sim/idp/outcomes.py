"""What a step of a browser login leads to, for the views to render: a redirect or a page with a form.
Shared by both servers' backends; no Flask here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Redirect:
    """Send the browser on (with a code, or with an error for the client)."""

    url: str


@dataclass(frozen=True)
class SignedIn:
    """A GビズID login finished: redirect with the code and keep the new single sign-on session."""

    url: str
    session_id: str


@dataclass(frozen=True)
class LoginForm:
    """The ID/password page for a pending login (`sealed`), again with the reason when refused."""

    sealed: str
    username: str = ""
    error: str | None = None


@dataclass(frozen=True)
class CodeForm:
    """GビズID's one-time code page: the code went by SMS to `masked`, or comes from an authenticator app."""

    sealed: str
    factor: str  # sms | app
    masked: str = ""
    error: str | None = None
