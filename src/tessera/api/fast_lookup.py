"""``GET /api/v1/lookup?type=T&hash=H`` without FastAPI's routing and dependency solving.

Why: the single lookup is the service's hottest request (an agency's script asks it
once per file), and FastAPI spent more CPU on it than the use case spends on a
miss: route matching, the dependency tree (the token check, five query parameters
validated one by one), its exception and exit-stack layers. Driven in process on a
1M-hash home (load ~17), the same route with the use case stubbed out cost 255-269
us of CPU a request through FastAPI and 117-128 us through this.

This ASGI middleware answers the plain form only: exactly the parameters ``type``
and ``hash`` (each once, valid as the route declares them) with a bearer token this
process verified within ``TOKEN_CACHE_SECONDS`` (``TokenCache.cached``, what
``api.auth.current_caller`` answers without a thread too). It calls the same use
case with the route's defaults in the same worker-thread pool, inside the same audit
middleware and body limit, names the route to the request's audit entry as the
router does, and answers with the route's own serialisation (``v1.json_answer``); an
error of the use case goes to the handler the app registered for its class. Anything
else (another or a repeated parameter, an invalid value, an unknown or not recently
verified token, another method) goes on to FastAPI unchanged, so validation errors,
401s and the OpenAPI document stay FastAPI's. ``tests/api/test_fast_lookup.py``
holds both ways to the same bytes and audit entries.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.api.auth import MAX_TOKEN_LENGTH, TokenCache
from tessera.api.routes import v1
from tessera.api.state import ApiState
from tessera.app import Caller, audit
from tessera.app import lookup as lookup_uc

PATH = "/api/v1/lookup"
_HASH = re.compile(r"[0-9a-fA-F]{32,64}")
_TYPES = frozenset(lookup_uc.HASH_TYPES)
_NAMES = ("type", "hash")


def plain_query(query_string: bytes) -> tuple[str, str] | None:
    """(type, hash) when the query string is exactly ``type=T&hash=H`` (either order),
    each valid as the route declares it; else None (FastAPI decides)."""
    try:
        text = query_string.decode("ascii")
    except UnicodeDecodeError:
        return None
    found: dict[str, str] = {}
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if not eq or name in found or name not in _NAMES:
            return None
        found[name] = unquote_plus(value) if "%" in value or "+" in value else value
    kind, digest = found.get("type"), found.get("hash")
    if kind not in _TYPES or digest is None or not _HASH.fullmatch(digest):
        return None
    return kind, digest


def bearer_token(scope: Scope) -> str | None:
    """The token of the first ``Authorization: Bearer`` header, as ``HTTPBearer`` and
    ``current_caller`` read it (None: absent, another scheme, empty or too long)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            ok = scheme.lower() == "bearer" and token and len(token) <= MAX_TOKEN_LENGTH
            return token if ok else None
    return None


def _route() -> APIRoute:
    """The route this stands in for: its name goes into the audit entry."""
    for r in v1.router.routes:
        if isinstance(r, APIRoute) and r.path == PATH and "GET" in (r.methods or ()):
            return r
    raise LookupError(f"no GET {PATH} route")  # pragma: no cover (v1 declares it)


class FastLookup:
    """ASGI middleware: the plain single lookup answered directly (module docstring)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.route = _route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            query = plain_query(scope.get("query_string", b""))
            caller = self._caller(scope) if query is not None else None
            if query is not None and caller is not None:
                await self._serve(scope, receive, send, caller, query)
                return
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> Caller | None:
        """The caller of a token verified lately, named on the request's audit entry."""
        st = getattr(self.api.state, "tessera", None)
        token = bearer_token(scope)
        if not isinstance(st, ApiState) or not isinstance(st.authenticate, TokenCache):
            return None
        if token is None:
            return None
        entry = audit.current_request()
        caller = st.authenticate.cached(token, entry.request_id if entry is not None else None)
        if caller is not None and entry is not None:
            entry.caller = caller
        return caller

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, caller: Caller, query: tuple[str, str]
    ) -> None:
        st = self.api.state.tessera
        scope["route"] = self.route
        q = lookup_uc.HashQuery.model_validate({"type": query[0], "hash": query[1]})

        def run() -> Response:
            return v1.json_answer(lookup_uc.lookup(st.app, caller, [q], pdq=st.index))

        try:
            response = await anyio.to_thread.run_sync(run)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:  # ServerErrorMiddleware's 500, as from the route
                raise
            answer = handler(Request(scope, receive), exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[[Request, Exception], Any] | None:
        """The handler ``ExceptionMiddleware`` would call for ``exc`` (``Exception``
        itself is ``ServerErrorMiddleware``'s, outside this one)."""
        handlers = self.api.exception_handlers
        for cls in type(exc).__mro__:
            if cls is not Exception and cls in handlers:
                found: Callable[[Request, Exception], Any] = handlers[cls]
                return found
        return None


__all__ = ["PATH", "FastLookup", "bearer_token", "plain_query"]
