"""Home (``/``): unread notifications, recent triage jobs, recently changed series;
and the reviewer's own settings (``/settings``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tessera.app import coop as coop_uc
from tessera.app import preferences as prefs_uc
from tessera.app import series as series_uc
from tessera.app import triage_jobs as jobs_uc
from tessera.errors import TesseraError
from tessera.web.render import WebRoute, page, redirect
from tessera.web.session import WebCaller, app_of
from tessera.web.sorting import list_sort

router = APIRouter(route_class=WebRoute, include_in_schema=False)
HOME_ROWS = 10


@router.get("/")
def home(request: Request, caller: WebCaller) -> HTMLResponse:
    app = app_of(request)
    try:
        notes = coop_uc.list_notifications(app, caller, unread=True, limit=HOME_ROWS)
    except TesseraError:
        notes = []
    jobs = jobs_uc.list_jobs(app, caller, limit=HOME_ROWS)
    recent = series_uc.list_page(app, caller, sort="changed", descending=True, limit=HOME_ROWS)
    return page(
        request,
        caller,
        "home.html",
        title="Home",
        notifications=notes,
        jobs=jobs,
        recent=recent.items,
    )


NOTES_PAGE = 25


@router.get("/notifications")
def notifications_page(request: Request, caller: WebCaller) -> HTMLResponse:
    """Every notification of the caller's agency (read or not), sorted and paged in SQL."""
    ls = list_sort(request, default="created", default_desc=True)
    notes = coop_uc.list_notifications(
        app_of(request),
        caller,
        limit=NOTES_PAGE + 1,
        offset=ls.offset(NOTES_PAGE),
        sort=ls.key,
        descending=ls.desc,
    )
    return page(
        request,
        caller,
        "notifications.html",
        title="Notifications",
        notifications=notes[:NOTES_PAGE],
        more=len(notes) > NOTES_PAGE,
        notes_sort=ls,
        result_count=len(notes[:NOTES_PAGE]),
    )


@router.post("/notifications/read")
def mark_all_read(request: Request, caller: WebCaller) -> RedirectResponse:
    coop_uc.mark_read(app_of(request), caller)
    return redirect("/")


@router.get("/settings")
def settings_page(request: Request, caller: WebCaller) -> HTMLResponse:
    return page(request, caller, "settings.html", title="Reviewer settings", saved=False)


@router.post("/settings")
def save_settings(
    request: Request,
    caller: WebCaller,
    blur: Annotated[bool, Form()] = False,
    greyscale: Annotated[bool, Form()] = False,
    dedup: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    prefs_uc.put(app_of(request), caller, blur=blur, greyscale=greyscale, dedup=dedup)
    return page(request, caller, "settings.html", title="Reviewer settings", saved=True)
