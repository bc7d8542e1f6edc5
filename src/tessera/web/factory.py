"""The node's server application: the REST API plus the web UI's pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tessera.api import create_app as create_api
from tessera.app import Settings
from tessera.web.routes import (
    admin,
    graph,
    home,
    media,
    pictures,
    report,
    search,
    series,
    signin,
    triage,
)

STATIC = Path(__file__).parent / "static"


def install(api: FastAPI) -> FastAPI:
    """Mount the web UI's pages and static files on an API application."""
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (signin, home, triage, report, series, admin, pictures, media, search, graph):
        api.include_router(module.router)
    return api


UPLOAD_PATHS = ("/triage/upload", "/triage/fingerprints")
"""The pages' routes that take files: bodies up to the upload limit, not the JSON one."""


def create_app(settings: Settings, **options: Any) -> FastAPI:
    """``tessera.api.create_app(settings, **options)`` with the web UI at ``/``."""
    return install(create_api(settings, upload_paths=UPLOAD_PATHS, **options))


def app_from_environment() -> FastAPI:
    """Factory for ``tessera serve --workers N``: settings from ``TESSERA_*`` variables."""
    import os  # noqa: PLC0415

    writer = os.environ.get("TESSERA_SERVE_INDEX_WRITER", "1") == "1"
    hub = os.environ.get("TESSERA_SERVE_HUB", "0") == "1"
    return create_app(Settings.resolve(), index_writer=writer, hub=hub)


__all__ = ["app_from_environment", "create_app", "install"]
