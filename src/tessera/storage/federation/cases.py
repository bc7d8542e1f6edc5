"""Federation's SQL for overlaps between new cases at different nodes: a node's own
cases with their unclassified media (sighted there, held by no series), and the
hub's stored case records of other nodes (``tessera.app.federation.cases``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tessera.storage.models import (
    Agency,
    Case,
    FedAgency,
    FedRecord,
    Media,
    SharingGrant,
    Sighting,
    series_media,
)

CASE_KIND = 3


@dataclass(frozen=True)
class OwnCase:
    id: int
    number: str
    code: str
    country: str
    contact: str | None
    digests: list[bytes]
    """SHA-256 of the case's unclassified media (sighted here, in no series)."""
    grants: dict[str, dict[str, str]] = field(default_factory=dict)
    """{"network": {"": level}, "country": {CC: level}, "agency": {CODE: level}}."""


def own_cases(s: Session) -> list[OwnCase]:
    """This node's own agencies' cases that hold unclassified media."""
    in_series = exists().where(
        series_media.c.media_id == Sighting.media_id, series_media.c.deleted_at.is_(None)
    )
    digests: dict[int, set[bytes]] = {}
    for cid, sha in s.execute(
        select(Sighting.case_id, Media.sha256)
        .join(Media, Media.id == Sighting.media_id)
        .where(
            Sighting.deleted_at.is_(None),
            Media.deleted_at.is_(None),
            Media.sha256.is_not(None),
            ~in_series,
        )
    ):
        if sha is not None:
            digests.setdefault(int(cid), set()).add(bytes(sha))
    if not digests:
        return []
    grants: dict[int, dict[str, dict[str, str]]] = {}
    for gid, scope, grantee, level in s.execute(
        select(
            SharingGrant.case_id, SharingGrant.scope, SharingGrant.grantee, SharingGrant.level
        ).where(SharingGrant.case_id.in_(sorted(digests)))
    ):
        if gid is not None:
            grants.setdefault(int(gid), {}).setdefault(str(scope), {})[str(grantee)] = str(level)
    out: list[OwnCase] = []
    for case, agency in s.execute(
        select(Case, Agency)
        .join(Agency, Agency.id == Case.agency_id)
        .where(Case.id.in_(sorted(digests)), Case.agency_id.not_in(select(FedAgency.agency_id)))
        .order_by(Case.id)
    ):
        out.append(
            OwnCase(
                id=case.id,
                number=case.number,
                code=agency.code,
                country=agency.country,
                contact=agency.contact,
                digests=sorted(digests[case.id]),
                grants=grants.get(case.id, {}),
            )
        )
    return out


def live_cases(s: Session, exclude_origin: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Hub: (origin, case key, payload) of the live case records of other nodes."""
    return [
        (str(o), str(k), dict(p))
        for o, k, p in s.execute(
            select(FedRecord.origin, FedRecord.origin_id, FedRecord.payload).where(
                FedRecord.kind == CASE_KIND,
                FedRecord.deleted.is_(False),
                FedRecord.origin != exclude_origin,
            )
        )
        if p is not None
    ]


def own_case(s: Session, case_id: int) -> tuple[Case, Agency] | None:
    """The case ``case_id`` when one of this node's own agencies owns it."""
    row = s.execute(
        select(Case, Agency)
        .join(Agency, Agency.id == Case.agency_id)
        .where(Case.id == case_id, Case.agency_id.not_in(select(FedAgency.agency_id)))
    ).first()
    return None if row is None else (row[0], row[1])


__all__ = ["CASE_KIND", "OwnCase", "live_cases", "own_case", "own_cases"]
