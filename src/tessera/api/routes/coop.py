"""``/api/v1`` cooperation routes: notifications, overlaps, delivery settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tessera.api.audit_trail import CountedRoute
from tessera.api.auth import current_caller
from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import coop as coop_uc
from tessera.app import trust as trust_uc

router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(current_caller)],
    tags=["cooperation"],
    route_class=CountedRoute,
)
CallerDep = Annotated[Caller, Depends(current_caller)]
INT32 = 2**31 - 1
INT64 = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=INT32)]
MediaId = Annotated[int, Path(ge=1, le=INT64)]


class _CoopBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MarkReadRequest(_CoopBody):
    ids: list[Annotated[int, Field(ge=1, le=INT32)]] | None = Field(default=None, max_length=10_000)
    """Notifications to mark read; omitted or null: all of the caller's."""


class OverlapMarkRequest(_CoopBody):
    mark: str = Field(pattern=r"^(same-investigation|related|unrelated)$")
    note: str | None = Field(default=None, max_length=4000)


class DeliveryRequest(_CoopBody):
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=200)
    email_to: str | None = Field(default=None, max_length=254)
    smtp_host: str | None = Field(default=None, max_length=253)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_from: str | None = Field(default=None, max_length=254)


class FloodRequest(_CoopBody):
    """Network flood thresholds; a field sent as null returns to the deployment's value,
    a field left out is unchanged."""

    files: int | None = Field(default=None, ge=1, le=10_000_000)
    agencies: int | None = Field(default=None, ge=1, le=10_000)
    window_hours: float | None = Field(default=None, gt=0, le=8760)
    triage_share: float | None = Field(default=None, gt=0, le=1)
    triage_min: int | None = Field(default=None, ge=1, le=10_000_000)


class ResolveReviewRequest(_CoopBody):
    drop_baseline: bool = False


@router.get("/baseline-reviews", response_model=list[trust_uc.BaselineReviewView])
def list_reviews(
    request: Request, caller: CallerDep, all_: Annotated[bool, Query(alias="all")] = False
) -> list[trust_uc.BaselineReviewView]:
    """Baseline items of the caller's agency's series flagged for review (open ones)."""
    return trust_uc.list_reviews(state_of(request).app, caller, open_only=not all_)


@router.post("/baseline-reviews/{review_id}/resolve", response_model=trust_uc.BaselineReviewView)
def resolve_review(
    request: Request, caller: CallerDep, review_id: RowId, body: ResolveReviewRequest
) -> trust_uc.BaselineReviewView:
    """The owner's curator closes a review (optionally taking the series off Baseline)."""
    return trust_uc.resolve_review(
        state_of(request).app, caller, review_id, drop_baseline=body.drop_baseline
    )


@router.get("/network/flood", response_model=trust_uc.FloodSettings)
def get_flood(request: Request, caller: CallerDep) -> trust_uc.FloodSettings:
    """The flood guard's thresholds in force."""
    return trust_uc.get_flood_rule(state_of(request).app, caller)


@router.put("/network/flood", response_model=trust_uc.FloodSettings)
def set_flood(request: Request, caller: CallerDep, body: FloodRequest) -> trust_uc.FloodSettings:
    """The network's operator sets flood thresholds for the whole network."""
    values = body.model_dump(exclude_unset=True)
    return trust_uc.set_flood_rule(state_of(request).app, caller, values)


@router.get("/notifications", response_model=list[coop_uc.NotificationView])
def list_notifications(
    request: Request, caller: CallerDep, unread: Annotated[bool, Query()] = False
) -> list[coop_uc.NotificationView]:
    """The caller's agency's (and the caller's own) notifications, newest first."""
    return coop_uc.list_notifications(state_of(request).app, caller, unread=unread)


@router.post("/notifications/read", response_model=coop_uc.MarkedRead)
def mark_read(request: Request, caller: CallerDep, body: MarkReadRequest) -> coop_uc.MarkedRead:
    """Mark notifications read for the caller (all of them without ``ids``)."""
    return coop_uc.mark_read(state_of(request).app, caller, body.ids)


@router.post("/notifications/{notification_id}/read", response_model=coop_uc.MarkedRead)
def mark_one_read(
    request: Request, caller: CallerDep, notification_id: RowId
) -> coop_uc.MarkedRead:
    return coop_uc.mark_read(state_of(request).app, caller, [notification_id])


@router.get("/overlaps", response_model=list[coop_uc.OverlapView])
def list_overlaps(request: Request, caller: CallerDep) -> list[coop_uc.OverlapView]:
    """Overlaps the caller's agency is a side of, as its sharing level shows them."""
    return coop_uc.list_overlaps(state_of(request).app, caller)


@router.post("/overlaps/{overlap_id}/mark", response_model=coop_uc.OverlapView)
def mark_overlap(
    request: Request,
    caller: CallerDep,
    overlap_id: RowId,
    body: OverlapMarkRequest,
) -> coop_uc.OverlapView:
    """Mark the caller's side: same-investigation, related or unrelated, with a note."""
    return coop_uc.mark_overlap(state_of(request).app, caller, overlap_id, body.mark, body.note)


@router.put("/agencies/{code}/delivery", response_model=coop_uc.DeliverySettings)
def set_delivery(
    request: Request, caller: CallerDep, code: str, body: DeliveryRequest
) -> coop_uc.DeliverySettings:
    """Where the agency's notifications also go: webhook (HMAC-signed) and/or e-mail."""
    return coop_uc.set_delivery(state_of(request).app, caller, code, **body.model_dump())


class DisputeRequest(_CoopBody):
    reason: str = Field(pattern=r"^(not-abuse|adult|wrong-series|duplicate|other)$")
    note: str | None = Field(default=None, max_length=4000)


class NegativeRequest(_CoopBody):
    type: str = Field(pattern=r"^(md5|sha1|sha256|pdq)$")
    hash: str = Field(min_length=32, max_length=64, pattern=r"^[0-9a-fA-F]+$")
    reason: str = Field(min_length=1, max_length=1000)
    network: bool = False
    """The network's list (operator) instead of the caller's agency's (curator)."""


class ReleaseRequest(_CoopBody):
    negative_reason: str | None = Field(default=None, max_length=1000)
    """Also put the item's SHA-256 on the agency's negative list, with this reason."""


@router.post("/media/{media_id}/confirm", response_model=trust_uc.VerdictView)
def confirm_media(request: Request, caller: CallerDep, media_id: MediaId) -> trust_uc.VerdictView:
    """The caller's agency confirms the item's classification."""
    return trust_uc.judge(state_of(request).app, caller, media_id, "confirm")


@router.post("/media/{media_id}/dispute", response_model=trust_uc.VerdictView)
def dispute_media(
    request: Request, caller: CallerDep, media_id: MediaId, body: DisputeRequest
) -> trust_uc.VerdictView:
    """The caller's agency disputes the item's classification, with a reason."""
    return trust_uc.judge(
        state_of(request).app, caller, media_id, "dispute", reason=body.reason, note=body.note
    )


@router.get("/negative-list", response_model=list[trust_uc.NegativeEntry])
def list_negative(request: Request, caller: CallerDep) -> list[trust_uc.NegativeEntry]:
    """The network's negative list and the caller's agency's."""
    return trust_uc.list_negatives(state_of(request).app, caller)


@router.post("/negative-list", response_model=trust_uc.NegativeEntry, status_code=201)
def add_negative(
    request: Request, caller: CallerDep, body: NegativeRequest
) -> trust_uc.NegativeEntry:
    return trust_uc.add_negative(
        state_of(request).app, caller, body.type, body.hash, body.reason, network=body.network
    )


@router.delete("/negative-list/{entry_id}", response_model=trust_uc.NegativeEntry)
def remove_negative(request: Request, caller: CallerDep, entry_id: RowId) -> trust_uc.NegativeEntry:
    return trust_uc.remove_negative(state_of(request).app, caller, entry_id)


@router.get("/quarantine", response_model=list[trust_uc.QuarantineView])
def list_quarantine(request: Request, caller: CallerDep) -> list[trust_uc.QuarantineView]:
    """Quarantined (flooding) items the caller can see."""
    return trust_uc.list_quarantine(state_of(request).app, caller)


@router.post("/quarantine/{media_id}/release", response_model=trust_uc.QuarantineView)
def release_quarantine(
    request: Request,
    caller: CallerDep,
    media_id: MediaId,
    body: ReleaseRequest,
) -> trust_uc.QuarantineView:
    """A curator of the owner releases the item (or negative-lists it)."""
    return trust_uc.release(
        state_of(request).app, caller, media_id, negative_reason=body.negative_reason
    )


__all__ = ["router"]
