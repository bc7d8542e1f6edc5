"""One media item (``/media/{id}``): fingerprints, sightings, matches, similar scenes
with the matched region drawn on both pictures, OCR text with its boxes, camera and
GPS links, markers; drawing a box creates a marker (``POST /media/{id}/markers``)
and "find elsewhere" (``?find=MARKER``) shows where else it appears.

Each section is one use case; a section the caller may not see (a ``full`` fact
at ``status``, a lookup for a viewer) is left out, never an error of the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tessera.api.state import state_of
from tessera.app import Caller, Role
from tessera.app import markers as markers_uc
from tessera.app import media as media_uc
from tessera.app import search as search_uc
from tessera.app import similar as similar_uc
from tessera.app import text as text_uc
from tessera.app import thumbnails as thumbs_uc
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.web.render import WebRoute, page, redirect
from tessera.web.routes.pictures import _PRIVATE as PRIVATE
from tessera.web.routes.pictures import PLACEHOLDER
from tessera.web.session import WebCaller, app_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MediaId = Annotated[int, Path(ge=1, le=2**62)]
SIMILAR = 8
VIEW_SIZE = 768
MAX_NOTE = 2000


def _try(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A section's use case, or None where the caller may not see it / it has none."""
    try:
        return fn(*args, **kwargs)
    except (NotFound, PermissionDenied, InvalidInput):
        return None


def _sizes(request: Request, caller: Caller, ids: set[int]) -> dict[int, tuple[int, int]]:
    """width, height of each media item (for drawing regions on its picture)."""
    return media_uc.picture_sizes(app_of(request), caller, sorted(ids)[:40])


@router.get("/media/{media_id}")
def media_page(
    request: Request,
    caller: WebCaller,
    media_id: MediaId,
    find: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    app = app_of(request)
    detail = media_uc.show(app, caller, str(media_id))
    full = detail.level == "full"
    words = _try(text_uc.of_media, app, caller, media_id) if full else None
    links = _try(search_uc.media_links, app, caller, media_id) if full else None
    matches = _try(search_uc.media_matches, app, caller, media_id, pdq=state_of(request).index)
    similar = _try(similar_uc.to_media, app, caller, media_id, limit=SIMILAR) if full else None
    found = _try(markers_uc.find, app, caller, find, limit=SIMILAR) if find else None
    others = {h.media_id for h in (similar.hits if similar else ())}
    others |= {h.media_id for h in (found.hits if found else ())}
    return page(
        request,
        caller,
        "media.html",
        title=f"Media {media_id}",
        item=detail,
        words=words,
        links=links,
        matches=matches,
        similar=similar,
        found=found,
        find=find,
        sizes=_sizes(request, caller, others),
        kinds=markers_uc.KINDS,
        may_mark=full and caller.role in (Role.CURATOR, Role.ADMIN, Role.OPERATOR),
        result_count=1,
    )


@router.get("/pictures/{media_id}.jpg")
def picture(request: Request, caller: WebCaller, media_id: MediaId) -> Response:
    """The media page's picture: a larger re-encoded rendition (never the original)."""
    t = thumbs_uc.thumbnail(app_of(request), caller, media_id, size=VIEW_SIZE)
    if t.jpeg is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml", headers=PRIVATE)
    return Response(t.jpeg, media_type="image/jpeg", headers=PRIVATE)


@router.post("/media/{media_id}/markers")
def add_marker(
    request: Request,
    caller: WebCaller,
    media_id: MediaId,
    kind: Annotated[str, Form(max_length=32)],
    x0: Annotated[int, Form(ge=0, le=1_000_000)],
    y0: Annotated[int, Form(ge=0, le=1_000_000)],
    x1: Annotated[int, Form(ge=0, le=1_000_000)],
    y1: Annotated[int, Form(ge=0, le=1_000_000)],
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
    series: Annotated[str, Form(max_length=200)] = "",
    location: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    """Create the marker drawn on the picture, then show where else it appears."""
    loc = location.strip()
    if loc and not loc.isdigit():
        raise InvalidInput(f"location {loc!r} must be a location id (a number)")
    box = markers_uc.parse_box(f"{min(x0, x1)},{min(y0, y1)},{max(x0, x1)},{max(y0, y1)}")
    made = markers_uc.add(
        app_of(request),
        caller,
        media_id,
        box,
        kind,
        note=note.strip() or None,
        series_name=series.strip() or None,
        location_id=int(loc) if loc else None,
        agency_code=caller.agency_code,
    )
    return redirect(f"/media/{media_id}?find={made.id}#found")


__all__ = ["router"]
