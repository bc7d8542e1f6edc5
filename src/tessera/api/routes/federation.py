"""Hub routes under ``/api/v1/federation`` (only on ``tessera serve --hub``).

No bearer token here: every request is signed by a registered node's Ed25519 key
(``X-Tessera-Signature``: a C2SP signed note over the method, path and query, the
SHA-256 of the body and the time, ``tessera.app.federation.request_signing.authenticate_request``).
A missing, unknown, stale or wrong signature is 401 before anything is read or
written (fail closed); a delta that fails its own signature or checksums is 422
naming the reason, and nothing of it is kept.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from tessera.api.state import state_of
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import request_signing

PREFIX = "/api/v1/federation"
router = APIRouter(prefix=PREFIX, tags=["federation"])
SIGNATURE_HEADER = "X-Tessera-Signature"
NDJSON = "application/x-ndjson"


def _target(request: Request) -> str:
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


async def _origin(request: Request, body: bytes) -> str:
    app = state_of(request).app
    return await run_in_threadpool(
        request_signing.authenticate_request,
        app,
        request.headers.get(SIGNATURE_HEADER),
        request.method,
        _target(request),
        body,
    )


@router.post("/deltas", response_model=fed_hub.DeltaAccepted)
async def post_delta(
    request: Request, since: int = Query(0, ge=0, le=2**62)
) -> fed_hub.DeltaAccepted:
    """Accept a node's signed delta into the hub's log (idempotent by origin, number
    and SHA-256); answers the checkpoint and the inclusion proof of its leaf."""
    body = await request.body()
    await _origin(request, body)
    app = state_of(request).app
    return await run_in_threadpool(fed_hub.accept_delta, app, body, since=since)


@router.get("/checkpoint", response_model=fed_hub.HubCheckpoint)
async def get_checkpoint(
    request: Request, since: int = Query(0, ge=0, le=2**62)
) -> fed_hub.HubCheckpoint:
    """The newest signed checkpoint, a consistency proof from ``since``, and the last
    delta of the asking node in the log."""
    origin = await _origin(request, b"")
    return await run_in_threadpool(fed_hub.hub_checkpoint, state_of(request).app, origin, since)


@router.get("/feed", response_class=Response, responses={200: {"content": {NDJSON: {}}}})
async def get_feed(
    request: Request,
    after: int = Query(ge=0, le=2**62),
    upto: int = Query(ge=0, le=2**62),
    limit: int = Query(fed_hub.FEED_PAGE_RECORDS, ge=1, le=200_000),
) -> Response:
    """One signed page of the records of other nodes changed after log entry ``after``."""
    origin = await _origin(request, b"")
    page = await run_in_threadpool(
        fed_hub.feed_page, state_of(request).app, origin, after, upto, limit=limit
    )
    return Response(page, media_type=NDJSON)


__all__ = ["PREFIX", "SIGNATURE_HEADER", "router"]
