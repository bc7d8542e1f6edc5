"""``GET /status``: the one route without a token, for load balancers.

It says whether this worker is alive and its index fresh (503 ``index-stale``
otherwise, as HMA's ``/status`` does), and nothing about what the node holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tessera.api.schemas import HealthStatus
from tessera.api.state import state_of

router = APIRouter()


@router.get("/status", response_model=HealthStatus, tags=["status"])
def health(request: Request) -> JSONResponse:
    st = state_of(request).index.status()
    body = HealthStatus(
        status="ok" if st.fresh else "index-stale",
        index_fresh=st.fresh,
        index_age_seconds=None if st.last_poll_age is None else round(st.last_poll_age, 3),
    )
    return JSONResponse(body.model_dump(), status_code=200 if st.fresh else 503)


__all__ = ["router"]
