"""Series: the list (``/series``, paged and sorted in the database) and one series
(``/series/{name}``) with status, owner, sharing, media grid and markers. The
owner agency's curators set the status and the sharing here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tessera.app import media as media_uc
from tessera.app import series as series_uc
from tessera.app import series_activity as activity_uc
from tessera.app import sharing as sharing_uc
from tessera.app.caller import Role
from tessera.web.render import WebRoute, page, redirect
from tessera.web.session import WebCaller, app_of
from tessera.web.sorting import list_sort

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PER_PAGE = 25
GRID = 48
Sort = Literal["name", "owner", "created", "changed"]


def _split(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", " ").split() if x.strip()]


@router.get("/series")
def series_list(
    request: Request,
    caller: WebCaller,
    sort: Annotated[Sort, Query()] = "name",
    desc: Annotated[bool, Query()] = False,
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    result = series_uc.list_page(
        app_of(request),
        caller,
        sort=sort,
        descending=desc,
        limit=PER_PAGE,
        offset=(page_no - 1) * PER_PAGE,
    )
    return page(
        request,
        caller,
        "series_list.html",
        title="Series",
        result=result,
        page_no=page_no,
        pages=max(1, -(-result.total // PER_PAGE)),
        result_count=len(result.items),
    )


@router.get("/series/{name}")
def series_page(
    request: Request,
    caller: WebCaller,
    name: str,
    after: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    app = app_of(request)
    grid_sort = list_sort(request, prefix="grid_", default="id")
    subs_sort = list_sort(request, prefix="subs_", default="media", default_desc=True)
    detail = series_uc.show(app, caller, name)
    # id order pages by key (``after``); any other order by offset
    keyset = grid_sort.key == "id" and not grid_sort.desc
    grid = media_uc.list_media(
        app,
        caller,
        series=detail.name,
        limit=GRID,
        after=after if keyset else 0,
        sort=grid_sort.key,
        descending=grid_sort.desc,
        offset=0 if keyset else grid_sort.offset(GRID),
    )
    activity = activity_uc.activity(
        app, caller, detail.name, sort=subs_sort.key, descending=subs_sort.desc
    )
    may_edit = detail.sharing is not None and caller.role in (
        Role.CURATOR,
        Role.ADMIN,
        Role.OPERATOR,
    )
    return page(
        request,
        caller,
        "series.html",
        title=f"Series {detail.name}",
        series=detail,
        grid=grid,
        activity=activity,
        after=after,
        grid_sort=grid_sort,
        grid_keyset=keyset,
        subs_sort=subs_sort,
        may_edit=may_edit,
        result_count=len(grid.items),
    )


@router.post("/series/{name}/status")
def set_status(
    request: Request,
    caller: WebCaller,
    name: str,
    victim: Annotated[Literal["yes", "no", "keep"], Form()] = "keep",
    offender: Annotated[Literal["yes", "no", "keep"], Form()] = "keep",
    by: Annotated[str, Form(max_length=32)] = "",
) -> RedirectResponse:
    def flag(v: str) -> bool | None:
        return None if v == "keep" else v == "yes"

    series_uc.set_status(
        app_of(request),
        caller,
        name,
        victim_identified=flag(victim),
        offender_identified=flag(offender),
        by_code=by.strip() or caller.agency_code,
    )
    return redirect(f"/series/{_q(name)}")


@router.post("/series/{name}/sharing")
def share(
    request: Request,
    caller: WebCaller,
    name: str,
    level: Annotated[Literal["none", "hash", "status", "full"], Form()],
    scope: Annotated[Literal["network", "country", "agency"], Form()] = "network",
    grantees: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    names = _split(grantees)
    sharing_uc.share_series(
        app_of(request),
        caller,
        name,
        level,
        countries=names if scope == "country" else (),
        agencies=names if scope == "agency" else (),
        network=scope == "network",
    )
    return redirect(f"/series/{_q(name)}")


def _q(name: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(name, safe="")
