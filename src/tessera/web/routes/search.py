"""Search (``/search``): by hash (any kind) or a dropped file, by OCR text, by marker
type, by camera serial, by place (radius around a point).

Which search runs is said by the query string (``?hash=``, ``?text=``, ``?marker=``,
``?serial=``, ``?lat=&lon=&radius=``), so a result page is a URL a colleague can
open (and sees only what they may). A dropped file (``POST /search/file``) is
hashed in memory by the use case and never stored; its page shows the hashes so
the search can be repeated by URL.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse

from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import lookup as lookup_uc
from tessera.app import markers as markers_uc
from tessera.app import search as search_uc
from tessera.app import text as text_uc
from tessera.errors import InvalidInput
from tessera.web.render import WebRoute, page
from tessera.web.session import WebCaller, app_of
from tessera.web.sorting import list_sort

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PER_PAGE = 24
HashKind = Literal["auto", "md5", "sha1", "sha256", "pdq"]


def _hash_queries(text: str, kind: HashKind) -> list[lookup_uc.HashQuery]:
    h = text.strip().lower()
    if kind != "auto":
        return [lookup_uc.HashQuery(type=kind, hash=h)]
    by_len: dict[int, list[lookup_uc.HashType]] = {
        32: ["md5"],
        40: ["sha1"],
        64: ["sha256", "pdq"],
    }
    kinds = by_len.get(len(h))
    if kinds is None:
        raise InvalidInput("a hash is 32 (MD5), 40 (SHA-1) or 64 (SHA-256, PDQ) hex digits")
    return [lookup_uc.HashQuery(type=k, hash=h) for k in kinds]


def _rows(result: lookup_uc.LookupResult) -> list[tuple[int, str, bool]]:
    """One (media id, caption, openable) per matched item, best answer first.

    An item seen only through series shared at ``hash`` is "known to the network"
    with its owners' contacts: its page does not exist for the caller (404), so it
    is neither linked nor shown as a picture."""
    names = {x.series_id: x.name for x in result.series}
    out: dict[int, tuple[str, bool]] = {}
    for a in result.results:
        for x in a.matches:
            if x.media_id in out:
                continue
            how = f"{a.type} {x.match}" + (f", distance {x.distance}" if x.match == "pdq" else "")
            named = [names[i] for i in x.series if i in names]
            openable = True
            if named:
                how += " · " + ", ".join(named)
            elif x.contacts:
                how += " · known to the network: ask " + ", ".join(x.contacts)
                openable = False
            out[x.media_id] = (how, openable)
    return [(m, how, openable) for m, (how, openable) in out.items()]


def _render(request: Request, caller: Caller, mode: str | None, **ctx: Any) -> HTMLResponse:
    defaults: dict[str, Any] = {
        "hash_text": "",
        "hash_kind": "auto",
        "text": "",
        "marker": "any",
        "serial": "",
        "make": "",
        "lat": "",
        "lon": "",
        "radius": 100,
        "result": None,
        "hashes": None,
        "rows": [],
        "order": "oldest",
    }
    defaults.update(ctx)
    res = defaults["result"]
    count = len(getattr(res, "hits", getattr(res, "results", ())) or ()) if res else None
    return page(
        request,
        caller,
        "search.html",
        title="Search",
        mode=mode,
        kinds=markers_uc.KINDS,
        per_page=PER_PAGE,
        result_count=count,
        **defaults,
    )


@router.get("/search")
def search_page(
    request: Request,
    caller: WebCaller,
    hash: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[HashKind, Query()] = "auto",
    text: Annotated[str | None, Query(max_length=500)] = None,
    marker: Annotated[str | None, Query(max_length=32)] = None,
    serial: Annotated[str | None, Query(max_length=128)] = None,
    make: Annotated[str | None, Query(max_length=128)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius: Annotated[float, Query(gt=0, le=1_000_000)] = 100.0,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    order: Annotated[Literal["oldest", "newest"], Query()] = "oldest",
) -> HTMLResponse:
    app = app_of(request)
    if hash and hash.strip():
        result = lookup_uc.lookup(
            app, caller, _hash_queries(hash, type), pdq=state_of(request).index
        )
        return _render(
            request,
            caller,
            "hash",
            result=result,
            rows=_rows(result),
            hash_text=hash,
            hash_kind=type,
        )
    if text and text.strip():
        ls = list_sort(request, default="relevance")
        found = text_uc.search(
            app, caller, text, limit=PER_PAGE, offset=offset, sort=ls.key, descending=ls.desc
        )
        return _render(
            request, caller, "text", result=found, text=text, offset=offset, list_sort=ls
        )
    if marker is not None:
        kind = None if marker in ("", "any") else marker
        mk = search_uc.by_marker_type(
            app, caller, kind, limit=PER_PAGE, after=after, newest=order == "newest"
        )
        return _render(
            request, caller, "marker", result=mk, marker=marker, after=after, order=order
        )
    if serial and serial.strip():
        cam = search_uc.by_camera(
            app,
            caller,
            serial,
            make=make or None,
            limit=PER_PAGE,
            after=after,
            newest=order == "newest",
        )
        return _render(
            request, caller, "camera", result=cam, serial=serial, make=make or "", order=order
        )
    if lat is not None and lon is not None:
        ls = list_sort(request, default="distance")
        place = search_uc.by_place(
            app,
            caller,
            lat,
            lon,
            radius,
            limit=PER_PAGE,
            offset=offset,
            sort=ls.key,
            descending=ls.desc,
        )
        return _render(
            request,
            caller,
            "place",
            result=place,
            lat=lat,
            lon=lon,
            radius=radius,
            offset=offset,
            list_sort=ls,
        )
    return _render(request, caller, None)


@router.post("/search/file")
def search_file(
    request: Request,
    caller: WebCaller,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Hash the dropped file in memory (not stored) and look every hash up."""
    data = file.file.read()
    if not data:
        raise InvalidInput("the file is empty")
    found = search_uc.by_file(app_of(request), caller, data, pdq=state_of(request).index)
    return _render(
        request,
        caller,
        "file",
        result=found.lookup,
        rows=_rows(found.lookup),
        hashes=found.hashes,
        filename=(file.filename or "")[:200],
    )


__all__ = ["router"]
