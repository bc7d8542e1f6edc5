"""The case graph (``/graph``): series, cases, victims, offenders, locations and
agencies, drawn with the vendored Cytoscape.js; a node expands in place
(``/graph/data``, JSON) and the type filter narrows what an expansion brings.

The page also lists the centre's neighbours as links (``/graph?node=type:id``),
so the graph is usable from the keyboard and by a screen reader, and a view is a
URL a colleague can open (they see only what they may).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from tessera.app import graph as graph_uc
from tessera.web.render import HEADERS, WebRoute, page
from tessera.web.session import WebCaller, app_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PER_PAGE = 40
NodeKey = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z]+:[0-9]{1,18}$")]
Types = Annotated[list[str] | None, Query(max_length=6)]


@router.get("/graph")
def graph_page(
    request: Request,
    caller: WebCaller,
    node: NodeKey = None,
    types: Types = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    view = graph_uc.neighbourhood(
        app_of(request), caller, node, types=types, limit=PER_PAGE, offset=offset
    )
    return page(
        request,
        caller,
        "graph.html",
        title="Graph",
        view=view,
        data=view.to_json(),
        all_types=graph_uc.parse_types(None),
        chosen=set(view.types) if types else set(graph_uc.parse_types(None)),
        node=node,
        offset=offset,
        per_page=PER_PAGE,
        typeq="".join(f"&types={t}" for t in view.types) if types else "",
        result_count=len(view.nodes),
    )


@router.get("/graph/data")
def graph_data(
    request: Request,
    caller: WebCaller,
    node: NodeKey = None,
    types: Types = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """One neighbourhood as JSON, for expanding a node in the drawn graph."""
    view = graph_uc.neighbourhood(
        app_of(request), caller, node, types=types, limit=PER_PAGE, offset=offset
    )
    return JSONResponse(view.to_json(), headers=HEADERS)


__all__ = ["router"]
