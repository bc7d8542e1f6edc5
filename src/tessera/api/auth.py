"""Bearer tokens: the one way a request becomes a caller.

Every route depends on ``current_caller`` except the minimal health route
(``GET /status``) and the OpenAPI document, so a route added without thinking
about auth is still closed. Tokens are checked by the accounts use case
(``authenticate_token``: stored hashed, expiring, revocable); a node has no
default account or token (fail closed). A missing, malformed, unknown,
expired or revoked token gets the same 401.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tessera.api.state import ApiState, Authenticator, state_of
from tessera.app import App, Caller, audit
from tessera.app.accounts import authenticate_token
from tessera.errors import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="An API token: `tessera token create`")
MAX_TOKEN_LENGTH = 512


def accounts_authenticator(app: App, token: str) -> Caller:
    """The node's accounts decide (hashed, expiring, revocable tokens; no default)."""
    return authenticate_token(app, token)


TOKEN_CACHE_SECONDS = 5.0
"""How long a verified token is trusted without asking the database again: the
bound on how late a revocation, expiry or disabled account takes effect in a
running server (the process that revokes forgets the token at once)."""


class TokenCache:
    """Verified tokens of one server process, for ``ttl`` seconds.

    Without it every request opens a transaction to check its token (and writes
    ``last_used_at``): the largest cost of a lookup after the search itself. Only
    successes are kept, under the SHA-256 of the token (never the token); each
    hit gets a caller with a fresh request id. Bounded: full, it starts over.
    """

    def __init__(
        self,
        authenticate: Authenticator,
        ttl: float = TOKEN_CACHE_SECONDS,
        *,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authenticate = authenticate
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._lock = threading.Lock()
        self._items: dict[bytes, tuple[float, Caller]] = {}

    def cached(self, token: str, request_id: str | None = None) -> Caller | None:
        """The caller of a token verified less than ``ttl`` seconds ago, else None
        (no database: what ``current_caller`` answers without leaving the event loop),
        with ``request_id`` (default: a new one)."""
        if self.ttl <= 0:
            return None
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return replace(hit[1], request_id=request_id or uuid.uuid4().hex)
        return None

    def __call__(self, app: App, token: str) -> Caller:
        if self.ttl <= 0:
            return self.authenticate(app, token)
        hit = self.cached(token)
        if hit is not None:
            return hit
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        caller = self.authenticate(app, token)  # Unauthenticated: nothing kept
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (now, caller)
        return caller

    def forget_all(self) -> None:
        """Check every token again on its next use (after a revocation here)."""
        with self._lock:
            self._items.clear()


async def current_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
) -> Caller:
    """The authenticated caller of this request, or 401.

    Async so a token verified within the cache's ``ttl`` costs no trip through the
    thread pool (a sync dependency runs in a worker thread: ~0.06 ms of CPU per hop,
    measured, more under contention); asking the database still happens in a
    thread, never on the event loop."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("no bearer token")
    token = credentials.credentials.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("malformed token")
    st: ApiState = state_of(request)
    auth = st.authenticate
    entry = audit.current_request()
    rid = entry.request_id if entry is not None else None
    caller = auth.cached(token, rid) if isinstance(auth, TokenCache) else None
    if caller is None:
        caller = await anyio.to_thread.run_sync(auth, st.app, token)
        if rid is not None:
            caller = replace(caller, request_id=rid)
    if entry is not None:  # the request's audit entry names the caller, by its id
        entry.caller = caller
    return caller


__all__ = ["TOKEN_CACHE_SECONDS", "TokenCache", "accounts_authenticator", "current_caller"]
