"""A print-friendly series report (``/series/{name}/report``): the series' status,
owner, sharing, linked victims, offenders, locations and cases, markers and its
media, laid out for paper (print CSS: no navigation, no forms, tiles in rows).

Pictures stay blurred on paper as on screen unless the reviewer revealed one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from tessera.app import graph as graph_uc
from tessera.app import media as media_uc
from tessera.app import series as series_uc
from tessera.web.render import WebRoute, page
from tessera.web.session import WebCaller, app_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MEDIA = 96
LINKED = 200


@router.get("/series/{name}/report")
def series_report(
    request: Request,
    caller: WebCaller,
    name: str,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    app = app_of(request)
    detail = series_uc.show(app, caller, name)
    grid = media_uc.list_media(app, caller, series=detail.name, limit=MEDIA, after=after)
    linked = graph_uc.neighbourhood(
        app,
        caller,
        graph_uc.node_key("series", detail.series_id),
        types=["victim", "offender", "location", "case"],
        limit=LINKED,
    )
    by_type: dict[str, list[graph_uc.GraphNode]] = {}
    for n in linked.nodes:
        by_type.setdefault(n.type, []).append(n)
    weight = {e.target: e.weight for e in linked.edges}
    return page(
        request,
        caller,
        "series_report.html",
        title=f"Report: series {detail.name}",
        series=detail,
        grid=grid,
        after=after,
        linked=by_type,
        weight=weight,
        printed=datetime.now(UTC),
        result_count=len(grid.items),
    )


__all__ = ["router"]
