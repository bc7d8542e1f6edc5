"""Rendering pages: templates, the layout's context, security headers, error pages.

Every page goes through ``page()``: it audits the view (``tessera.app.thumbnails.
page_view``), fills the layout (signed-in user, agency, unread notifications,
the CSRF token, the reviewer's wellness settings) and sets headers that keep
the page from loading anything from elsewhere (CSP ``'self'`` only) or being
framed or cached. Routes use ``WebRoute`` so a Tessera error becomes a page:
not signed in -> the sign-in page; not visible or not allowed -> 404 (never 403:
existence is not leaked); bad input -> the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tessera import __version__
from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import coop as coop_uc
from tessera.app import preferences as prefs_uc
from tessera.app.problems import problem_for
from tessera.app.retry import retried
from tessera.app.thumbnails import page_view
from tessera.app.visibility import unit
from tessera.errors import TesseraError, Unauthenticated
from tessera.web.session import CSRF_FIELD, app_of

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC`` (or an em dash)."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else value.isoformat()
    return text[:16].replace("T", " ") + " UTC"


env.filters["when"] = _when
env.filters["urlpart"] = lambda v: quote(str(v), safe="")


def _unread(request: Request, caller: Caller) -> int:
    if not caller.agency_code:
        return 0
    try:
        return len(coop_uc.list_notifications(app_of(request), caller, unread=True, limit=100))
    except TesseraError:
        return 0


def page(
    request: Request,
    caller: Caller,
    template: str,
    *,
    title: str,
    status: int = 200,
    audit: bool = True,
    result_count: int | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the layout for ``caller`` (and audit the view).

    The view is audited after the page rendered, last in the page's transaction:
    a page that failed to render was not shown, and the audit log's head is then
    locked only from that append to the commit right after it.
    """
    app = app_of(request)
    html = env.get_template(template).render(
        request=request,
        caller=caller,
        title=title,
        csrf=getattr(request.state, "csrf", ""),
        csrf_field=CSRF_FIELD,
        unread=_unread(request, caller),
        prefs=prefs_uc.get(app, caller),
        version=__version__,
        path=request.url.path,
        **context,
    )
    if audit:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page_view(app, caller, path, result_count=result_count)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def bare_page(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A page outside the signed-in layout (sign-in, errors before sign-in)."""
    html = env.get_template(template).render(version=__version__, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def safe_next(value: str | None) -> str:
    """Only a local path may follow sign-in (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def error_response(request: Request, exc: TesseraError) -> Response:
    if isinstance(exc, Unauthenticated):
        if _wants_json(request):
            return JSONResponse({"detail": "sign in"}, status_code=401, headers=HEADERS)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = here if request.method == "GET" else "/"
        return redirect(f"/login?next={quote(target, safe='')}")
    p = problem_for(exc)
    status = 404 if p.status == 403 else p.status  # never say "exists, not for you"
    detail = "Not found." if status == 404 else p.detail
    if status >= 500:
        log.error("page %s failed: %s", request.url.path, exc, exc_info=exc)
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=HEADERS)
    return bare_page("error.html", status=status, title=f"Error {status}", detail=detail)


def _in_one_transaction(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` (a page's endpoint) run inside one unit of work of its caller.

    Every use case the page asks (and its audit entry, the reader's settings and
    unread count in ``page``) then shares one transaction: one BEGIN, one naming of
    the caller to PostgreSQL's RLS, one COMMIT, and sharing levels read once. A
    route without a signed-in ``caller`` (the sign-in form) runs as it is.
    """

    @wraps(call)
    def run(*args: Any, **kwargs: Any) -> Any:
        request, caller = kwargs.get("request"), kwargs.get("caller")
        if not isinstance(request, Request) or not isinstance(caller, Caller):
            return call(*args, **kwargs)

        @retried  # a page whose transaction lost to another writer is asked again
        def attempt() -> Any:
            with unit(state_of(request).app, caller) as u:
                request.state.unit = u
                try:
                    return call(*args, **kwargs)
                finally:
                    request.state.unit = None

        return attempt()

    return run


class WebRoute(APIRoute):
    """An API route whose Tessera errors become pages (see the module docstring);
    a GET runs in one unit of work (``_in_one_transaction``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "GET" in (kwargs.get("methods") or ()):
            endpoint = _in_one_transaction(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except TesseraError as exc:
                return error_response(request, exc)

        return handler


__all__ = ["HEADERS", "WebRoute", "bare_page", "env", "error_response", "page", "redirect"]
