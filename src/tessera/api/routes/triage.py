"""``/api/v1/triage/jobs``: triage of fingerprints the client computed, in the background.

The body is the document ``tessera hash --json`` wrote on the investigator's
machine (media never travels); the job's state lives in the database
(``tessera.app.triage_jobs``), so any worker answers for it and a restart resumes it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from tessera.api.audit_trail import CountedRoute
from tessera.api.auth import current_caller
from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import triage_jobs as jobs_uc
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(current_caller)],
    tags=["triage"],
    route_class=CountedRoute,
)
CallerDep = Annotated[Caller, Depends(current_caller)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class TriageJobRequest(BaseModel):
    """``tessera hash --json``'s document (``summary`` is accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    results: list[dict[str, Any]] = Field(min_length=1, max_length=jobs_uc.MAX_FILES)
    summary: dict[str, Any] | None = None
    radius: int = Field(default=MATCH_THRESHOLD, ge=0, le=64)
    min_quality: int = Field(default=QUALITY_THRESHOLD, ge=0, le=100)


@router.post("/triage/jobs", response_model=jobs_uc.TriageJobView, status_code=202)
def submit_job(
    request: Request, caller: CallerDep, body: TriageJobRequest
) -> jobs_uc.TriageJobView:
    """Queue a triage of the fingerprints sent; poll ``GET /api/v1/triage/jobs/{id}``."""
    return jobs_uc.submit(
        state_of(request).app,
        caller,
        body.results,
        radius=body.radius,
        min_quality=body.min_quality,
    )


@router.get("/triage/jobs", response_model=list[jobs_uc.TriageJobView])
def list_jobs(request: Request, caller: CallerDep) -> list[jobs_uc.TriageJobView]:
    """The caller's last 100 jobs, newest first (results only from the job's own route)."""
    return jobs_uc.list_jobs(state_of(request).app, caller)


@router.get("/triage/jobs/{job_id}", response_model=jobs_uc.TriageJobView)
def get_job(request: Request, caller: CallerDep, job_id: JobId) -> jobs_uc.TriageJobView:
    """State, progress (``done`` of ``total`` files) and, once done, the triage report."""
    return jobs_uc.status(state_of(request).app, caller, job_id)


@router.post("/triage/jobs/{job_id}/cancel", response_model=jobs_uc.TriageJobView)
def cancel_job(request: Request, caller: CallerDep, job_id: JobId) -> jobs_uc.TriageJobView:
    """Cancel: a queued job at once, a running one at its next chunk of files."""
    return jobs_uc.cancel(state_of(request).app, caller, job_id)


@router.delete("/triage/jobs/{job_id}", response_model=jobs_uc.TriageJobView)
def delete_job(request: Request, caller: CallerDep, job_id: JobId) -> jobs_uc.TriageJobView:
    """The same as ``POST .../cancel`` (the job's row and audit entries are kept)."""
    return jobs_uc.cancel(state_of(request).app, caller, job_id)
