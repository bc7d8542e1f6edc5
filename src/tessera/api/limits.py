"""Request bodies are refused (413) before they are read whole.

A declared ``Content-Length`` over the limit is answered at once, without reading
a byte of the body; a chunked body is counted as it streams and cut off as soon
as it passes the limit. Uploads (``/h/hash``, ``/m/lookup``) may be as large as
the decode limit allows; every other body (JSON batches of up to 10,000 hashes)
is small.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera.api.problems import problem_response

JSON_BODY_LIMIT = 4 * 1024 * 1024
UPLOAD_PATHS = ("/h/hash", "/m/lookup")
TRIAGE_JOB_PATH = "/api/v1/triage/jobs"
TRIAGE_JOB_LIMIT = 16 * 1024 * 1024
FEDERATION_DELTA_PATH = "/api/v1/federation/deltas"
FEDERATION_DELTA_LIMIT = 64 * 1024 * 1024
EXCHANGE_IMPORT_PREFIX = "/api/v1/exchange/import/"
EXCHANGE_IMPORT_LIMIT = 2 * 1024 * 1024 * 1024
"""Exchange files are streamed to disk, never held in memory: a 1M-record VICS file
is about 600 MB."""
"""A signed delta of up to 20,000 records (``tessera.app.federation.share.MAX_DELTA_RECORDS``)."""
"""A ``tessera hash --json`` document of up to 10,000 files (videos' frame hashes included)."""


class _TooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException so body parsers pass it on unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 for bodies over the limit of their route."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_limit: int,
        json_limit: int = JSON_BODY_LIMIT,
        upload_paths: tuple[str, ...] = (),
        import_limit: int = EXCHANGE_IMPORT_LIMIT,
    ):
        self.app = app
        self.upload_limit = upload_limit
        self.import_limit = import_limit
        self.json_limit = json_limit
        self.upload_paths = UPLOAD_PATHS + upload_paths
        """The API's upload routes and those another layer mounts (the web UI's)."""

    def _limit(self, path: str) -> int:
        if path == TRIAGE_JOB_PATH:
            return max(self.json_limit, TRIAGE_JOB_LIMIT)
        if path == FEDERATION_DELTA_PATH:
            return max(self.json_limit, FEDERATION_DELTA_LIMIT)
        if path.startswith(EXCHANGE_IMPORT_PREFIX):
            return self.import_limit
        return self.upload_limit if path in self.upload_paths else self.json_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > limit:
                    await self._refuse(scope, receive, send, limit, declared)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit, None)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, limit: int, declared: int | None
    ) -> None:
        if declared == -1:
            response = problem_response(400, "invalid Content-Length header")
        else:
            response = problem_response(
                413, f"request body over the limit of {limit} bytes", limit=limit
            )
        await response(scope, receive, send)


__all__ = ["EXCHANGE_IMPORT_LIMIT", "JSON_BODY_LIMIT", "UPLOAD_PATHS", "BodyLimit"]
