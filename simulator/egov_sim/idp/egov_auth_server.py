"""EgovAuthServer: the e-Gov auth server (`/auth`, Keycloak-like) as one object with one method per
operation, apart from HTTP. The rules live in egov_tokens (tokens, sessions, the bearer check) and
egov_federation (「GビズIDでログイン」); the views in egov_auth / egov_broker parse the request, call
one method and render what it returns.

Built per request (or per script step) from the app's parts and the base URL the caller used; it
holds no state of its own. Each rule opens its own short transactions, as before: the clock and the
keys are read outside them and the RSA signing stays outside the refresh grant's write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import egov_federation as federation
from . import egov_tokens as tokens
from .egov_federation import BrokerStart
from .egov_tokens import AccessContext, AuthorizationRequestError, LoginError
from .outcomes import LoginForm, Redirect

if TYPE_CHECKING:
    from ..clock import Clock
    from ..settings import Settings
    from ..store import Database
    from .context import IdpContext
    from .keys import KeyRing

CLAIMS_SUPPORTED = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "email", "email_verified",
                    "preferred_username", "egov_idp"]


class EgovAuthServer:
    __slots__ = ("clock", "db", "host_url", "issuer", "keys", "settings")

    def __init__(self, db: Database, clock: Clock, keys: KeyRing, settings: Settings, *, host_url: str) -> None:
        self.db, self.clock, self.keys, self.settings = db, clock, keys, settings
        self.host_url = host_url  # the caller's base URL (not used for anything a client trusts)
        self.issuer = tokens.issuer_of(settings)

    @classmethod
    def of(cls, parts: IdpContext, host_url: str) -> EgovAuthServer:
        return cls(parts.db, parts.clock, parts.keys, parts.settings, host_url=host_url)

    # ------------------------------------------------------------------------ metadata

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "introspection_endpoint": f"{base}/token/introspect",
            "end_session_endpoint": f"{base}/logout",
            "jwks_uri": f"{base}/certs",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(tokens.SUPPORTED_SCOPES),
            "claims_supported": CLAIMS_SUPPORTED,
        }

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks(tokens.KEY_PURPOSE)

    # ------------------------------------------------------------------------ the browser login

    def authorize(self, params: Mapping[str, str], binding: str) -> Redirect | LoginForm:
        """`GET /auth/auth`: the login form for a valid request (bound to the browser's `binding`), or
        the redirect back with the error. Raises AuthorizationRequestError when it must not redirect."""
        try:
            auth_request = tokens.validate_authorization_request(self, params)
        except AuthorizationRequestError as exc:
            if exc.redirect_uri is None:
                raise
            return Redirect(exc.redirect_url())
        return LoginForm(tokens.seal_login_request(self, auth_request, binding))

    def login(self, sealed: str, binding: str, username: str, password: str) -> Redirect | LoginForm:
        """The login form posted: the redirect with a code, or the form again with the reason.
        Raises LoginError (restart) when the pending request itself is unusable."""
        try:
            auth_request = tokens.open_login_request(self, sealed, binding)
            result = tokens.login(self, auth_request, username, password)
        except LoginError as exc:
            if exc.restart:
                raise
            return LoginForm(sealed, username, exc.message)
        return Redirect(result.redirect_url(auth_request))

    def start_federation(self, sealed: str, binding: str) -> BrokerStart:
        """「GビズIDでログイン」 from the login form: where to send the browser, and the state to keep."""
        return federation.start(self, tokens.open_login_request(self, sealed, binding), self.host_url)

    def finish_federation(self, sealed_state: str, params: Mapping[str, str], binding: str) -> Redirect | LoginForm:
        """GビズID's redirect back: the e-Gov code, or the e-Gov login form with the reason.
        Raises LoginError (restart) when the broker state is unusable."""
        try:
            egov_request, result = federation.complete(self, sealed_state, params, self.host_url)
        except LoginError as exc:
            if exc.restart:
                raise
            egov_request, _claims = federation.pending_request(self, sealed_state)
            return LoginForm(tokens.seal_login_request(self, egov_request, binding), error=exc.message)
        return Redirect(result.redirect_url(egov_request))

    # ------------------------------------------------------------------------ client endpoints (raise OAuthError)

    def token(self, authorization: str | None, form: Mapping[str, str]) -> dict[str, Any]:
        """`POST /auth/token` (authorization_code, refresh_token) for a client authenticated by Basic."""
        return tokens.token(self, tokens.authenticate_client(self, authorization), form, self.issuer)

    def introspect(self, authorization: str | None, form: Mapping[str, str]) -> dict[str, Any]:
        tokens.authenticate_client(self, authorization)
        if not form.get("token"):
            raise tokens.invalid_request("Missing parameter: token")
        return tokens.introspect(self, form["token"], form.get("token_type_hint"))

    def logout(self, authorization: str | None, form: Mapping[str, str]) -> None:
        tokens.logout(self, tokens.authenticate_client(self, authorization), form.get("refresh_token", ""))

    # ------------------------------------------------------------------------ the API's bearer check

    def authenticate_bearer(self, token_value: str, *, issuer: str | None = None) -> AccessContext:
        """Who calls the API with this access token (raises InvalidTokenError); see
        egov_tokens.authenticate_bearer, which the filing face calls with the app's parts directly."""
        return tokens.authenticate_bearer(self, token_value, issuer=issuer)
