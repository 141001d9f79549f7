"""The claims of a pending browser login sealed into a login form, for both servers (egov_tokens.py,
gbizid_op.py; each signs and verifies them with its own key).

They are bound to the browser's login cookie (by a hash of its value), so a form cannot be replayed from
another browser, and they expire on the virtual clock. No Flask, no keys here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any


def _bound(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()[:32]


def login_claims(typ: str, request: dict[str, Any], binding: str, iat: int, exp: int,
                 **extra: Any) -> dict[str, Any]:
    """The claims to sign: the pending request (`req`) bound to `binding`, valid from `iat` until `exp`."""
    return {"typ": typ, "req": request, "bnd": _bound(binding), "iat": iat, "exp": exp,
            "jti": secrets.token_urlsafe(12), **extra}


def opens(claims: Mapping[str, Any], typ: str, binding: str, now: int) -> bool:
    """Whether verified claims are a live pending login of kind `typ` for this browser."""
    return (claims.get("typ") == typ and bool(binding)
            and hmac.compare_digest(str(claims.get("bnd", "")), _bound(binding))
            and claims["exp"] > now)
