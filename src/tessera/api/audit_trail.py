"""Every authenticated call through the service leaves one audit entry.

Why here and not a line in each route: a route added later (or by another team)
is audited without anyone remembering to, and a read costs one queued entry, not
a transaction of its own. The entry says who (user, agency, role: named by the
token check, ``api.auth``), the action (``api.`` + the route's name, ``:STATUS``
appended when the answer was an error), a digest of the parameters (method, path,
query string and the SHA-256 of the body, unless a use case gave its own: a
lookup's hashes), the result count (from the use case, else counted from what the
endpoint returned) and the request id (also sent back as ``X-Request-ID``).

Entries wait at most ``audit.FLUSH_INTERVAL`` seconds in the process's
``AuditQueue`` before their batch is appended (one transaction, one signed
checkpoint per batch). Writes are recorded by their use case in their own
transaction as well, so a ``kill -9`` can lose at most that last fraction of a
second of read entries, never a write's. Requests that never authenticate
(401s, ``GET /status``, the OpenAPI document) leave none: an anonymous flood must
not grow the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

import anyio.to_thread
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.app import audit

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_COUNTED_FIELDS = ("results", "items", "hits", "matches", "entries", "jobs", "media")


def _request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def count_of(value: Any) -> int | None:
    """How many results an endpoint returned: a list's length, a page's items,
    one for a single object, None for raw responses."""
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, BaseModel):
        for name in _COUNTED_FIELDS:
            items = getattr(value, name, None)
            if isinstance(items, (list, tuple)):
                return len(items)
        return 1
    if isinstance(value, dict):
        return 1
    return None


class AuditRequests:
    """ASGI middleware: open the request's entry, append it after the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = audit.RequestAudit(request_id=_request_id(scope))
        body = hashlib.sha256()
        status = 500

        async def hashed() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.update(message.get("body", b""))
            return message

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", entry.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = audit.begin_request(entry)
        try:
            await self.app(scope, hashed, tagged)
        finally:
            audit.end_request(token)
            if entry.caller is not None:
                await self._append(scope, entry, status, body.hexdigest())

    @staticmethod
    async def _append(scope: Scope, entry: audit.RequestAudit, status: int, body: str) -> None:
        route = scope.get("route")
        name = getattr(route, "name", None) or scope.get("path", "?")
        entry.action = f"api.{name}" if status < 400 else f"api.{name}:{status}"
        if status >= 400:
            entry.result_count = None
        entry.detail = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "query": scope.get("query_string", b"").decode("latin-1"),
            "body_sha256": body,
        }
        pending = entry.pending()
        queue: audit.AuditQueue | None = getattr(
            getattr(scope["app"].state, "tessera", None), "audit_queue", None
        )
        if pending is None or queue is None:
            return
        if queue.would_block():
            await anyio.to_thread.run_sync(queue.put, pending)
        else:
            queue.put(pending)


def _counting(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` that also notes its result count on the request's entry."""

    def note(value: Any) -> Any:
        entry = audit.current_request()
        if entry is not None and entry.result_count is None:
            entry.result_count = count_of(value)
        return value

    if asyncio.iscoroutinefunction(call):

        @wraps(call)
        async def counted_async(*args: Any, **kwargs: Any) -> Any:
            return note(await call(*args, **kwargs))

        return counted_async

    @wraps(call)
    def counted(*args: Any, **kwargs: Any) -> Any:
        return note(call(*args, **kwargs))

    return counted


class CountedRoute(APIRoute):
    """A route whose endpoint notes its result count on the request's audit entry.

    Routers pass it as ``route_class`` (``APIRouter(route_class=CountedRoute)``); a
    route without it is still audited, with no result count.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _counting(endpoint), **kwargs)


__all__ = ["AuditRequests", "CountedRoute", "count_of"]
