"""``/api/v1``: Tessera's own REST API, thin over the application layer's use cases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from tessera import __version__
from tessera.api.audit_trail import CountedRoute
from tessera.api.auth import current_caller
from tessera.api.schemas import (
    AudioLookupRequest,
    FrameLookupRequest,
    IndexFreshness,
    LookupRequest,
    ServiceStatus,
    SimilarRequest,
)
from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import agencies as agencies_uc
from tessera.app import audit as audit_uc
from tessera.app import cases as cases_uc
from tessera.app import lookup as lookup_uc
from tessera.app import markers as markers_uc
from tessera.app import media as media_uc
from tessera.app import series as series_uc
from tessera.app import similar as similar_uc
from tessera.app import stats as stats_uc
from tessera.app import text as text_uc
from tessera.fingerprints.vpdq import FrameHash

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(current_caller)], route_class=CountedRoute
)
CallerDep = Annotated[Caller, Depends(current_caller)]


def json_answer(result: BaseModel) -> Response:
    """``result`` as JSON, serialised once: a route returning the model itself has
    FastAPI dump it, validate the dump against ``response_model`` and dump it again
    (10.7 ms against 1.5 ms for a 1,000-hash lookup answer, measured). The declared
    ``response_model`` still documents the shape in the OpenAPI document."""
    return Response(result.model_dump_json(), media_type="application/json")


@router.get("/lookup", response_model=lookup_uc.LookupResult, tags=["lookup"])
def lookup_one(
    request: Request,
    caller: CallerDep,
    type: Annotated[Literal["md5", "sha1", "sha256", "pdq"], Query()],
    hash: Annotated[str, Query(min_length=32, max_length=64, pattern=r"^[0-9a-fA-F]+$")],
    radius: Annotated[int, Query(ge=0, le=lookup_uc.MAX_RADIUS)] = 31,
    explain: Annotated[bool, Query()] = False,
    hide_disputed: Annotated[bool, Query()] = False,
) -> Response:
    """One hash: exact (MD5, SHA-1, SHA-256) or PDQ within ``radius``."""
    st = state_of(request)
    query = lookup_uc.HashQuery(type=type, hash=hash)
    return json_answer(
        lookup_uc.lookup(
            st.app,
            caller,
            [query],
            radius=radius,
            pdq=st.index,
            explain=explain,
            hide_disputed=hide_disputed,
        )
    )


@router.post("/lookup", response_model=lookup_uc.LookupResult, tags=["lookup"])
def lookup_batch(request: Request, caller: CallerDep, body: LookupRequest) -> Response:
    """Up to 10,000 hashes of any types in one request, answered in order."""
    st = state_of(request)
    return json_answer(
        lookup_uc.lookup(
            st.app,
            caller,
            body.queries,  # ``HashQueryIn`` is the use case's ``HashQuery``, checked
            radius=body.radius,
            min_quality=body.min_quality,
            pdq=st.index,
            explain=body.explain,
            hide_disputed=body.hide_disputed,
        )
    )


@router.post("/lookup/vpdq", response_model=lookup_uc.FrameLookupResult, tags=["lookup"])
def lookup_frames(
    request: Request, caller: CallerDep, body: FrameLookupRequest
) -> lookup_uc.FrameLookupResult:
    """A video's frame hashes (vPDQ): stored videos aligned with it, stills found in it."""
    st = state_of(request)
    frames = [
        FrameHash(i, f.quality, bytes.fromhex(f.pdq), f.timestamp)
        for i, f in enumerate(body.frames)
    ]
    return lookup_uc.lookup_frames(
        st.app, caller, frames, radius=body.radius, min_quality=body.min_quality, pdq=st.index
    )


@router.post("/lookup/chromaprint", response_model=lookup_uc.AudioLookupResult, tags=["lookup"])
def lookup_audio(
    request: Request, caller: CallerDep, body: AudioLookupRequest
) -> lookup_uc.AudioLookupResult:
    """A Chromaprint fingerprint: stored recordings sharing audio with it, with offsets."""
    return lookup_uc.lookup_audio(state_of(request).app, caller, body.fingerprint)


@router.get("/series", response_model=list[series_uc.SeriesSummary], tags=["series"])
def list_series(request: Request, caller: CallerDep) -> list[series_uc.SeriesSummary]:
    return series_uc.list_series(state_of(request).app, caller)


@router.get("/series/{name}", response_model=series_uc.SeriesDetail, tags=["series"])
def show_series(request: Request, caller: CallerDep, name: str) -> series_uc.SeriesDetail:
    return series_uc.show(state_of(request).app, caller, name)


@router.get("/agencies", response_model=list[agencies_uc.AgencySummary], tags=["agencies"])
def list_agencies(request: Request, caller: CallerDep) -> list[agencies_uc.AgencySummary]:
    return agencies_uc.list_agencies(state_of(request).app, caller)


@router.get("/agencies/{code}", response_model=agencies_uc.AgencyDetail, tags=["agencies"])
def show_agency(request: Request, caller: CallerDep, code: str) -> agencies_uc.AgencyDetail:
    return agencies_uc.show(state_of(request).app, caller, code)


@router.get("/cases", response_model=list[cases_uc.CaseSummary], tags=["cases"])
def list_cases(
    request: Request, caller: CallerDep, agency: Annotated[str | None, Query(max_length=64)] = None
) -> list[cases_uc.CaseSummary]:
    return cases_uc.list_cases(state_of(request).app, caller, agency=agency)


@router.get("/cases/{number}", response_model=cases_uc.CaseSummary, tags=["cases"])
def show_case(
    request: Request,
    caller: CallerDep,
    number: str,
    agency: Annotated[str | None, Query(max_length=64)] = None,
) -> cases_uc.CaseSummary:
    return cases_uc.show(state_of(request).app, caller, number, agency=agency)


@router.get("/media", response_model=media_uc.MediaPage, tags=["media"])
def list_media(
    request: Request,
    caller: CallerDep,
    series: Annotated[str | None, Query(max_length=200)] = None,
    case: Annotated[str | None, Query(max_length=200)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> media_uc.MediaPage:
    """Media in id order (one page; ``next_after`` continues)."""
    return media_uc.list_media(
        state_of(request).app,
        caller,
        series=series,
        case=case,
        agency=agency,
        limit=limit,
        after=after,
    )


@router.get("/media/{ref}", response_model=media_uc.MediaDetail, tags=["media"])
def show_media(request: Request, caller: CallerDep, ref: str) -> media_uc.MediaDetail:
    """One media item by id, SHA-256, SHA-1 or MD5; fields as the sharing level allows."""
    return media_uc.show(state_of(request).app, caller, ref)


@router.get("/search-text", response_model=text_uc.TextSearchResult, tags=["search"])
def search_text(
    request: Request,
    caller: CallerDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> text_uc.TextSearchResult:
    """Media whose OCR text has every word (``park*`` for a prefix)."""
    return text_uc.search(state_of(request).app, caller, q, limit=limit)


@router.get("/markers/{marker_id}/find", response_model=markers_uc.MarkerHits, tags=["markers"])
def find_marker(
    request: Request,
    caller: CallerDep,
    marker_id: Annotated[int, Path(ge=1, le=2**62)],
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> markers_uc.MarkerHits:
    """Where else a marker (poster, wallpaper...) appears."""
    return markers_uc.find(state_of(request).app, caller, marker_id, limit=limit)


@router.get("/media/{media_id}/similar", response_model=similar_uc.SimilarResult, tags=["similar"])
def similar_to_media(
    request: Request,
    caller: CallerDep,
    media_id: Annotated[int, Path(ge=1, le=2**62)],
    box: Annotated[str | None, Query(max_length=100, description="x0,y0,x1,y1")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 10,
) -> similar_uc.SimilarResult:
    """Stored media showing the same scene or object as a stored picture (or its region)."""
    region = markers_uc.parse_box(box) if box else None
    return similar_uc.to_media(state_of(request).app, caller, media_id, box=region, limit=limit)


@router.post("/similar", response_model=similar_uc.SimilarResult, tags=["similar"])
def similar_to_features(
    request: Request, caller: CallerDep, body: SimilarRequest
) -> similar_uc.SimilarResult:
    """Stored media showing the same scene or object as a picture the client holds,
    sent as its local features (``tessera similar FILE --server``)."""
    feats = [similar_uc.sent_query(b) for b in body.blobs()]
    return similar_uc.to_features(
        state_of(request).app,
        caller,
        feats,
        sha256=body.sha256,
        box=body.box,
        limit=body.limit,
    )


@router.get("/audit", response_model=list[audit_uc.AuditEntryView], tags=["audit"])
def audit_entries(
    request: Request,
    caller: CallerDep,
    user: Annotated[str | None, Query(max_length=320)] = None,
    series: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
) -> list[audit_uc.AuditEntryView]:
    """Audit entries: a curator's agency's, or all for admins and operators."""
    return audit_uc.show(
        state_of(request).app,
        caller,
        user=user,
        series=series,
        since=audit_uc.parse_since(since) if since else None,
        limit=limit,
    )


@router.get("/stats", response_model=stats_uc.Statistics, tags=["stats"])
def stats(request: Request, caller: CallerDep) -> stats_uc.Statistics:
    return stats_uc.stats(state_of(request).app, caller)


@router.get("/status", response_model=ServiceStatus, tags=["status"])
def status(request: Request) -> ServiceStatus:
    """This worker's index: size, base generation, delta, freshness."""
    st = state_of(request).index.status()
    return ServiceStatus(version=__version__, index=IndexFreshness(**st.__dict__))


__all__ = ["router"]
