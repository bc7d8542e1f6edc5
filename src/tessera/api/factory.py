"""Building the FastAPI application for one server process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tessera import __version__, gcpause
from tessera.api import problems
from tessera.api.audit_trail import AuditRequests
from tessera.api.auth import TOKEN_CACHE_SECONDS, TokenCache, accounts_authenticator
from tessera.api.fast_lookup import FastLookup
from tessera.api.limits import EXCHANGE_IMPORT_LIMIT, BodyLimit
from tessera.api.routes import coop, exchange, federation, health, hma, triage, v1
from tessera.api.state import ApiState, Authenticator
from tessera.app import App, Settings, delivery, trust
from tessera.app.audit import FLUSH_INTERVAL, AuditQueue
from tessera.app.triage_jobs import JobRunner
from tessera.matching.index_keeper import IndexKeeper
from tessera.matching.live_index import POLL_INTERVAL, LivePdqIndex

DESCRIPTION = """Has this media been seen before, and by whom? Lookups by exact and
perceptual hashes (only hashes travel, never media), series and agencies as the
caller's sharing rules allow, and Meta HMA-compatible routes (`/h`, `/m`, `/c`).
Every route needs `Authorization: Bearer TOKEN` except `GET /status`. Errors are
RFC 9457 `application/problem+json`."""


DEFAULT_UPLOAD_LIMIT = 100 * 1024 * 1024
"""Largest upload (``/h/hash``, ``/m/lookup``) unless the decode byte limit is lower:
an upload is held in memory while it is hashed."""


def create_app(
    settings: Settings,
    *,
    authenticate: Authenticator | None = None,
    index_writer: bool = True,
    poll_interval: float = POLL_INTERVAL,
    upload_limit: int | None = None,
    run_jobs: bool = True,
    hub: bool = False,
    upload_paths: tuple[str, ...] = (),
    import_limit: int = EXCHANGE_IMPORT_LIMIT,
    token_cache_seconds: float = TOKEN_CACHE_SECONDS,
    audit_flush_seconds: float = FLUSH_INTERVAL,
) -> FastAPI:
    """The API for ``settings``' deployment.

    ``index_writer``: this process also keeps the saved PDQ index caught up (true
    for a single process; ``tessera serve --workers N`` runs the keeper in the
    parent and gives the workers False). ``authenticate`` replaces the accounts
    check (tests); by default the node's accounts decide, and without them no
    token is accepted. ``run_jobs``: this process runs queued triage jobs in a
    background thread (every worker does; a job is claimed by exactly one).
    ``hub``: also serve the federation hub routes (``tessera serve --hub``).
    ``upload_paths``: further routes (the web UI's) whose bodies may be as large
    as an upload rather than a JSON request. ``import_limit``: largest exchange file
    uploaded to ``/api/v1/exchange/import/...`` (streamed to disk).
    ``token_cache_seconds``: how long a verified token is trusted before the
    database is asked again (0: every request). ``audit_flush_seconds``: how long
    a request's audit entry may wait for its batch (0: written before the answer).
    """
    app_ = App(settings)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        keeper = None
        if index_writer:
            keeper = IndexKeeper(app_.index_db, settings.index_dir)
            keeper.start()
        index = LivePdqIndex(
            app_.index_db,
            settings.index_dir,
            poll_interval=poll_interval,
            resident=settings.index_resident,
        )
        index.start()
        queue = AuditQueue(app_, interval=audit_flush_seconds)
        queue.start()
        # flood-guard hit rows wait as long as read entries (0: each lookup writes its own)
        hits = trust.start_hit_queue(app_, audit_flush_seconds) if audit_flush_seconds else None
        runner = JobRunner(app_, stale=settings.job_stale) if run_jobs else None
        if runner is not None:
            runner.start()
        # deliveries owed (the outbox), including those a restart interrupted
        courier = delivery.serve(app_) if run_jobs else None
        api.state.tessera = ApiState(
            app=app_,
            index=index,
            authenticate=TokenCache(authenticate or accounts_authenticator, token_cache_seconds),
            upload_limit=limit,
            keeper=keeper,
            audit_queue=queue,
        )
        try:
            with gcpause.frozen():  # start-up's objects live as long as the worker
                yield
        finally:
            if runner is not None:
                runner.stop()
            if courier is not None:
                courier.stop()
            index.stop()
            queue.stop()
            if hits is not None:
                hits.stop()
                app_.hit_queue = None
            if keeper is not None:
                keeper.stop()
            app_.close()

    limit = upload_limit or min(settings.max_bytes, DEFAULT_UPLOAD_LIMIT)
    api = FastAPI(
        title="Tessera",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN: closed networks get /openapi.json
        redoc_url=None,
    )
    problems.install(api)
    api.add_middleware(FastLookup, api=api)  # innermost: inside the audit and the body limit
    api.add_middleware(
        BodyLimit, upload_limit=limit, upload_paths=upload_paths, import_limit=import_limit
    )
    api.add_middleware(AuditRequests)  # outermost: every request, whatever answers it
    api.include_router(health.router)
    api.include_router(v1.router)
    api.include_router(hma.router)
    api.include_router(coop.router)
    api.include_router(triage.router)
    api.include_router(exchange.router)
    if hub:
        api.include_router(federation.router)
    return api


def app_from_environment() -> FastAPI:
    """Factory for ``tessera serve --workers N``: settings from ``TESSERA_*`` variables."""
    import os  # noqa: PLC0415

    settings = Settings.resolve()
    writer = os.environ.get("TESSERA_SERVE_INDEX_WRITER", "1") == "1"
    hub = os.environ.get("TESSERA_SERVE_HUB", "0") == "1"
    return create_app(settings, index_writer=writer, hub=hub)


__all__ = ["app_from_environment", "create_app"]
