"""Pictures for reviewers: thumbnails (``/thumbs/{id}.jpg``) and audited reveals.

Pages show every picture blurred (CSS) until the reviewer reveals it; the reveal
(``POST /reveal/{id}``, CSRF-checked) is recorded in the audit trail before the
page unblurs it. A thumbnail is a small re-encoded JPEG (never the original) or,
where the caller may not see the pixels or the file is not on this server, a
neutral placeholder.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from tessera.app import thumbnails as thumbs_uc
from tessera.web.render import HEADERS, WebRoute
from tessera.web.session import WebCaller, app_of

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MediaId = Annotated[int, Path(ge=1, le=2**62)]

PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
    b'<rect width="256" height="256" fill="#d5d9de"/>'
    b'<path d="M64 180l40-52 30 36 22-26 36 42z" fill="#aab1b9"/>'
    b'<circle cx="170" cy="92" r="14" fill="#aab1b9"/></svg>'
)
_PRIVATE = HEADERS  # no-store: a sharing change must hide a picture at once


@router.get("/thumbs/{media_id}.jpg")
def thumb(request: Request, caller: WebCaller, media_id: MediaId) -> Response:
    t = thumbs_uc.thumbnail(app_of(request), caller, media_id)
    if t.jpeg is None:
        return Response(PLACEHOLDER, media_type="image/svg+xml", headers=_PRIVATE)
    return Response(t.jpeg, media_type="image/jpeg", headers=_PRIVATE)


@router.post("/reveal/{media_id}")
def reveal(request: Request, caller: WebCaller, media_id: MediaId) -> JSONResponse:
    r = thumbs_uc.reveal(app_of(request), caller, media_id)
    return JSONResponse(r.to_json(), headers=HEADERS)
