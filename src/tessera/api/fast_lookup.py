"""Single lookups (``GET /api/v1/lookup``, HMA's ``GET /m/lookup``) beside FastAPI.

Why: the single lookup is the service's hottest request (an agency's script or HMA
client asks it once per file), and FastAPI spent more CPU on it than the use case
spends on a miss: route matching, the dependency tree (the token check, every query
parameter validated one by one), its exception and exit-stack layers. Driven in
process on a 1M-hash home (load ~17), ``/api/v1/lookup`` with the use case stubbed
out cost 255-269 us of CPU a request through FastAPI and 117-128 us through this.

This ASGI middleware answers each route's plain form only: exactly its two
parameters (``type`` and ``hash``; HMA's ``signal_type`` and ``signal``), each once
and within what the route declares, with a bearer token this process verified
within ``TOKEN_CACHE_SECONDS`` (``TokenCache.cached``: what ``current_caller``
answers without a thread too). It calls what the route calls with the route's
defaults, in the same worker-thread pool, inside the same audit middleware and body
limit; names the route on the request's audit entry as the router does; serialises
as the route does; and hands an error to the handler the app registered for its
class. Anything else (another or a repeated parameter, a value out of bounds, an
unknown or not recently verified token, another method) goes on to FastAPI
unchanged, so its validation errors, 401s and OpenAPI document stay as they were.
``tests/api/test_fast_lookup.py`` holds both ways to the same bytes and audit entries.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute, APIRouter
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera.api.auth import MAX_TOKEN_LENGTH, TokenCache
from tessera.api.routes import hma, v1
from tessera.api.state import ApiState
from tessera.app import Caller, audit
from tessera.app import lookup as lookup_uc

_HASH = re.compile(r"[0-9a-fA-F]{32,64}")
_TYPES = frozenset(lookup_uc.HASH_TYPES)
_BANKS: TypeAdapter[hma.MatchesByBank] = TypeAdapter(hma.MatchesByBank)

Answer = Callable[[ApiState, Caller, str, str], Response]
"""(state, caller, first parameter, second parameter) -> the route's response."""


def _v1_takes(kind: str, value: str) -> bool:
    """``type`` and ``hash`` as the route's ``Query`` declarations accept them."""
    return kind in _TYPES and _HASH.fullmatch(value) is not None


def _v1_answer(st: ApiState, caller: Caller, kind: str, value: str) -> Response:
    q = lookup_uc.HashQuery.model_validate({"type": kind, "hash": value})
    return v1.json_answer(lookup_uc.lookup(st.app, caller, [q], pdq=st.index))


def _hma_takes(kind: str, value: str) -> bool:
    """``signal_type`` and ``signal`` present and within their declared lengths."""
    return 0 < len(kind) <= hma.SIGNAL_TYPE_LENGTH and 0 < len(value) <= hma.SIGNAL_LENGTH


def _hma_answer(st: ApiState, caller: Caller, kind: str, value: str) -> Response:
    found = hma.lookup_signal(st.app, st.index, caller, kind, value, None)
    return Response(_BANKS.dump_json(found), media_type="application/json")


@dataclass(frozen=True)
class Plain:
    """One route's plain form: its two parameters, their check, its answer."""

    path: str
    names: tuple[str, str]
    takes: Callable[[str, str], bool]
    answer: Answer
    router: APIRouter

    def route(self) -> APIRoute:
        """The route this stands in for: its name goes into the audit entry."""
        for r in self.router.routes:
            if isinstance(r, APIRoute) and r.path == self.path and "GET" in (r.methods or ()):
                return r
        raise LookupError(f"no GET {self.path} route")  # pragma: no cover

    def query(self, query_string: bytes) -> tuple[str, str] | None:
        """The two values when the query string is exactly the two parameters (either
        order, each once) and ``takes`` them; else None (FastAPI decides)."""
        try:
            text = query_string.decode("ascii")
        except UnicodeDecodeError:
            return None
        found: dict[str, str] = {}
        for part in text.split("&"):
            name, eq, value = part.partition("=")
            if not eq or name in found or name not in self.names:
                return None
            found[name] = unquote_plus(value) if "%" in value or "+" in value else value
        first, second = (found.get(n) for n in self.names)
        if first is None or second is None or not self.takes(first, second):
            return None
        return first, second


PLAIN = (
    Plain("/api/v1/lookup", ("type", "hash"), _v1_takes, _v1_answer, v1.router),
    Plain("/m/lookup", ("signal_type", "signal"), _hma_takes, _hma_answer, hma.router),
)


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


class FastLookup:
    """ASGI middleware: the routes' plain single lookups answered directly."""

    def __init__(self, app: ASGIApp, api: FastAPI, plain: tuple[Plain, ...] = PLAIN) -> None:
        self.app = app
        self.api = api
        self.plain = {p.path: (p, p.route()) for p in plain}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        known = self.plain.get(scope["path"]) if scope["type"] == "http" else None
        if known is not None and scope["method"] == "GET":
            plain, route = known
            values = plain.query(scope.get("query_string", b""))
            caller = self._caller(scope) if values is not None else None
            if values is not None and caller is not None:
                scope["route"] = route
                await self._serve(scope, receive, send, plain, caller, values)
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

    async def _serve(  # noqa: PLR0917 (one private call site)
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        plain: Plain,
        caller: Caller,
        values: tuple[str, str],
    ) -> None:
        st: ApiState = self.api.state.tessera
        try:
            response = await anyio.to_thread.run_sync(plain.answer, st, caller, *values)
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


__all__ = ["PLAIN", "FastLookup", "Plain", "bearer_token"]
