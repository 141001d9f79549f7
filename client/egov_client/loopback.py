"""Browser login with a loopback redirect (RFC 8252): the e-Gov login page opens in the user's
browser, and the authorization code comes back to a one-shot HTTP server on 127.0.0.1.

The redirect URI must be the one registered for the software (e.g. http://127.0.0.1:8765/callback);
its port is the port we listen on.
"""

from __future__ import annotations

import secrets
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx

from .auth import AuthClient, AuthError, TokenSet, authorization_url, pkce_pair
from .config import Endpoint

DONE_PAGE = ("<!doctype html><html lang='ja'><meta charset='utf-8'><title>e-Gov ログイン</title>"
             "<body><p>{message}</p><p>このウィンドウを閉じて、端末に戻ってください。</p></body></html>")


def _loopback_address(redirect_uri: str) -> tuple[str, int, str]:
    parts = urlsplit(redirect_uri)
    host = parts.hostname or ""
    if parts.scheme != "http" or host not in ("127.0.0.1", "localhost", "::1"):
        raise AuthError(400, "invalid_redirect_uri",
                        f"ブラウザーでのログインにはループバックのリダイレクトURI (http://127.0.0.1:PORT/...) が必要です: {redirect_uri}")
    return ("127.0.0.1" if host == "localhost" else host), parts.port or 80, parts.path or "/"


class _Callback:
    def __init__(self, path: str) -> None:
        self.path = path
        self.params: dict[str, str] | None = None
        self.done = threading.Event()


def _handler(callback: _Callback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != callback.path or callback.done.is_set():
                self.send_error(404)
                return
            callback.params = dict(parse_qsl(parts.query, keep_blank_values=True))
            ok = "code" in callback.params and "error" not in callback.params
            message = "ログインしました。" if ok else "ログインできませんでした。"
            body = DONE_PAGE.format(message=message).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            callback.done.set()

        def log_message(self, format: str, *args: object) -> None:  # keep the terminal clean
            return

    return Handler


def login_with_browser(endpoint: Endpoint, *, http: httpx.Client, open_browser: Callable[[str], object] | None = None,
                       on_url: Callable[[str], None] | None = None, timeout: float = 300.0) -> TokenSet:
    """Open the login page, wait for the redirect to the loopback URI, exchange the code (PKCE)."""
    redirect_uri = endpoint.redirect_uri
    host, port, path = _loopback_address(redirect_uri)
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    url = authorization_url(endpoint, state, challenge)
    callback = _Callback(path)
    try:
        server = HTTPServer((host, port), _handler(callback))
    except OSError as exc:
        raise AuthError(0, "loopback_unavailable", f"{host}:{port} で待ち受けできません: {exc}") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        if on_url:
            on_url(url)
        (open_browser or webbrowser.open)(url)
        if not callback.done.wait(timeout):
            raise AuthError(408, "login_timeout", "ブラウザーでのログインが時間内に完了しませんでした。")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    params = callback.params or {}
    if "error" in params:
        raise AuthError(400, params["error"], params.get("error_description", ""))
    if params.get("state") != state:
        raise AuthError(400, "invalid_state", "the state returned by the auth server does not match")
    if not params.get("code"):
        raise AuthError(400, "invalid_response", "the redirect carries no code")
    return AuthClient(endpoint, http).exchange_code(params["code"], verifier, redirect_uri)
