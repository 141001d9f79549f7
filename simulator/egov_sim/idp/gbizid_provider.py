"""GbizIdProvider: the GビズID OpenID provider (`/gbizid/oauth`) as one object with one method per
operation, apart from HTTP. The protocol rules live in gbizid_op (and the account lifecycle in
gbizid_accounts); the views in gbizid_http parse the request, call one method and render the result.

Built per request from the app's parts and the base URL the caller used (the issuer and the redirect
URIs registered as "/path" depend on it); each rule opens its own short transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import gbizid_op as op
from .egov_tokens import AuthorizationRequestError, LoginError
from .outcomes import CodeForm, LoginForm, Redirect, SignedIn

if TYPE_CHECKING:
    from ..clock import Clock
    from ..settings import Settings
    from ..store import Database
    from .context import IdpContext
    from .keys import KeyRing


class GbizIdProvider:
    __slots__ = ("clock", "db", "host_url", "keys", "settings")

    def __init__(self, db: Database, clock: Clock, keys: KeyRing, settings: Settings, *, host_url: str) -> None:
        self.db, self.clock, self.keys, self.settings = db, clock, keys, settings
        self.host_url = host_url

    @classmethod
    def of(cls, parts: IdpContext, host_url: str) -> GbizIdProvider:
        return cls(parts.db, parts.clock, parts.keys, parts.settings, host_url=host_url)

    @property
    def issuer(self) -> str:
        return op.issuer(self.settings, self.host_url)

    # ------------------------------------------------------------------------ metadata

    def discovery(self) -> dict[str, Any]:
        return op.discovery(self.settings, self.host_url)

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks(op.KEY_PURPOSE)

    # ------------------------------------------------------------------------ the browser login

    def authorize(self, params: Mapping[str, str], *, sso_session: str, binding: str) -> Redirect | LoginForm:
        """`GET /authorize`: a code at once for a live single sign-on session (unless prompt=login),
        login_required for prompt=none, else the ID/password form bound to `binding`. Raises
        AuthorizationRequestError when the request must not be redirected (unknown client or redirect_uri)."""
        try:
            auth_request = op.validate_authorization_request(self, params, op.origin(self.settings, self.host_url))
        except AuthorizationRequestError as exc:
            if exc.redirect_uri is None:
                raise
            return Redirect(exc.redirect_url())
        prompt = set((auth_request.prompt or "").split())
        existing = None if "login" in prompt else op.session_login(self, sso_session)
        if existing is not None:
            account_ref, auth_time = existing
            return Redirect(op.issue_code(self, auth_request, account_ref, auth_time))
        if "none" in prompt:
            return Redirect(op.redirect_error(auth_request, "login_required", "the user is not logged in"))
        return LoginForm(op.seal(self, auth_request, binding, stage="password"),
                         username=auth_request.login_hint or "")

    def login(self, sealed: str, binding: str, account_id: str, password: str) -> SignedIn | LoginForm | CodeForm:
        """ID and password: signed in (entry accounts), the second factor's form, or the form again
        with the reason. Raises LoginError (restart) when the pending login is unusable."""
        try:
            auth_request, claims = op.unseal(self, sealed, binding)
            if claims.get("stage") != "password":
                raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
            checked = op.check_password(self, account_id, password)
        except LoginError as exc:
            if exc.restart:
                raise
            return LoginForm(sealed, account_id, exc.message)
        if checked.second_factor == "none":
            return self._sign_in(auth_request, checked.account_ref, "pwd")
        return self._second_factor(auth_request, binding, checked.account_ref, checked.second_factor)

    def verify_code(self, sealed: str, binding: str, code: str) -> SignedIn | CodeForm:
        """The SMS or authenticator code: signed in, or the code form again with the reason."""
        auth_request, claims = self._code_stage(sealed, binding)
        factor, account_ref = claims["fac"], int(claims["acc"])
        try:
            if factor == "sms":
                op.verify_sms_code(self, account_ref, int(claims["msg"]), code)
            else:
                op.verify_app_code(self, account_ref, code)
        except LoginError as exc:
            if exc.restart:
                raise
            return CodeForm(sealed, factor, claims.get("masked", ""), exc.message)
        return self._sign_in(auth_request, account_ref, "sms" if factor == "sms" else "otp")

    def resend_code(self, sealed: str, binding: str) -> CodeForm:
        """A new SMS code (the previous one stays in the outbox)."""
        auth_request, claims = self._code_stage(sealed, binding)
        if claims.get("fac") != "sms":
            raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
        return self._second_factor(auth_request, binding, int(claims["acc"]), "sms")

    def _code_stage(self, sealed: str, binding: str) -> tuple[op.GbizAuthRequest, dict[str, Any]]:
        auth_request, claims = op.unseal(self, sealed, binding)
        if claims.get("stage") != "otp":
            raise LoginError(op.MSG_LOGIN_EXPIRED, restart=True)
        return auth_request, claims

    def _second_factor(self, auth_request: op.GbizAuthRequest, binding: str, account_ref: int,
                       factor: str) -> CodeForm:
        message_id, masked = op.send_sms_code(self, account_ref) if factor == "sms" else (0, "")
        sealed = op.seal(self, auth_request, binding, stage="otp", acc=account_ref, fac=factor, msg=message_id,
                         masked=masked)
        return CodeForm(sealed, factor, masked)

    def _sign_in(self, auth_request: op.GbizAuthRequest, account_ref: int, amr: str) -> SignedIn:
        session_id, auth_time = op.start_session(self, account_ref, amr)
        return SignedIn(op.issue_code(self, auth_request, account_ref, auth_time), session_id)

    # ------------------------------------------------------------------------ client endpoints

    def authenticate_client(self, authorization: str | None) -> str:
        """client_secret_basic → the client_id (raises OAuthError 401 `unauthorized`)."""
        return op.authenticate_client(self, authorization)

    def token(self, client_id: str, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /token` (authorization_code, refresh_token) for an authenticated client (raises OAuthError)."""
        return op.token(self, client_id, form, self.issuer)

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        """UserInfo for the Bearer access token, per the grant's scopes (raises UserinfoError)."""
        return op.userinfo(self, authorization)
