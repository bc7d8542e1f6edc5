"""Bearer tokens: the one way a request becomes a caller.

Every route depends on ``current_caller`` except the minimal health route
(``GET /status``) and the OpenAPI document, so a route added without thinking
about auth is still closed. Tokens are checked by the accounts use case
(``authenticate_token``: stored hashed, expiring, revocable); a node has no
default account or token (fail closed). A missing, malformed, unknown,
expired or revoked token gets the same 401.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tessera.api.state import ApiState, state_of
from tessera.app import App, Caller
from tessera.app.accounts import authenticate_token
from tessera.errors import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="An API token: `tessera token create`")
MAX_TOKEN_LENGTH = 512


def accounts_authenticator(app: App, token: str) -> Caller:
    """The node's accounts decide (hashed, expiring, revocable tokens; no default)."""
    return authenticate_token(app, token)


def current_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    """The authenticated caller of this request, or 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("no bearer token")
    token = credentials.credentials.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("malformed token")
    st: ApiState = state_of(request)
    return st.authenticate(st.app, token)


__all__ = ["accounts_authenticator", "current_caller"]
