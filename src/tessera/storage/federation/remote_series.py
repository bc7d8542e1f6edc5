"""A node: the series of other nodes as local series, owned by a local agency
standing for each owner (made on first sight), with the origin's grants as received.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tessera.storage import repo, sharing
from tessera.storage.federation.records import Incoming, chunks
from tessera.storage.federation.remote_media import drop_series_media
from tessera.storage.models import Agency, FedAgency, FedRecord, Series, SharingGrant, utcnow


def remote_agency(
    s: Session, origin: str, owner: dict[str, Any], cache: dict[tuple[str, str], Agency]
) -> Agency:
    """The local agency standing for ``owner`` of node ``origin`` (made on first sight).

    Its code is the owner's, or ``CODE@n`` when a local agency (or another node's)
    has that code already; name and contact follow the newest record."""
    code = str(owner["code"])
    hit = cache.get((origin, code))
    if hit is None:
        row = s.execute(
            select(Agency)
            .join(FedAgency, FedAgency.agency_id == Agency.id)
            .where(FedAgency.origin == origin, FedAgency.code == code)
        ).scalar_one_or_none()
        if row is None:
            local = code
            n = 1
            while s.scalar(select(Agency.id).where(Agency.code == local)) is not None:
                n += 1
                local = f"{code[:28]}@{n}"
            row = Agency(
                code=local,
                country=str(owner.get("country") or "ZZ")[:2].upper(),
                name=str(owner.get("name") or code)[:200],
                contact=owner.get("contact"),
            )
            s.add(row)
            s.flush()
            s.add(FedAgency(agency_id=row.id, origin=origin, code=code))
            s.flush()
        hit = cache[(origin, code)] = row
    if owner.get("contact") and hit.contact != owner.get("contact"):
        hit.contact = owner.get("contact")
    if owner.get("name") and hit.name != owner.get("name"):
        hit.name = str(owner["name"])[:200]
    return hit


def remote_series_name(origin: str, key: str, payload: dict[str, Any] | None) -> str:
    name = (payload or {}).get("name")
    base = f"{name} @{origin}" if name else f"#{key} @{origin}"
    return base[:200]


def apply_remote_series(
    s: Session, r: Incoming, agency: Agency | None, local_id: int | None
) -> int | None:
    """Create or update the local series of a received series record; a deleted one
    is soft-deleted with its media links (and hash-only media nobody else holds)."""
    series = s.get(Series, local_id) if local_id is not None else None
    if r.deleted or r.payload is None:
        if series is not None:
            drop_series_media(s, series.id, None)
            series.deleted_at = utcnow()
            series.deleted_by = f"federation:{r.origin}"
        return local_id
    assert agency is not None
    p = r.payload
    name = remote_series_name(r.origin, r.origin_id, p)
    if series is None:
        taken = s.scalar(select(Series).where(Series.name == name))
        if taken is not None:
            name = f"{name[:180]} ({r.origin_id})"
        series = repo.create_series(s, name, agency)
    series.name = (
        name
        if series.name != name
        and not s.scalar(select(Series.id).where(Series.name == name, Series.id != series.id))
        else series.name
    )
    series.agency_id = agency.id
    series.deleted_at = None
    series.deleted_by = None
    series.baseline = bool(p.get("baseline", False))
    series.category = p.get("category")
    series.category_profile = p.get("category_profile")
    for who in ("victim", "offender"):
        flag = bool(p.get(f"{who}_identified", False))
        if getattr(series, f"{who}_identified") != flag:
            setattr(series, f"{who}_identified", flag)
            setattr(series, f"{who}_identified_by", agency.id if flag else None)
            setattr(series, f"{who}_identified_at", utcnow() if flag else None)
    s.flush()
    # the origin's grants, as received (the caller kept only those naming this node's
    # own countries and agencies); an earlier grant no longer given goes
    s.execute(delete(SharingGrant).where(SharingGrant.series_id == series.id))
    by = f"federation:{r.origin}"
    sharing.set_grant(
        s, "series", series.id, scope="network", grantee="", level=str(p["level"]), granted_by=by
    )
    for scope, to in (p.get("grants") or {}).items():
        for who, level in sorted(to.items()):
            sharing.set_grant(
                s, "series", series.id, scope=scope, grantee=who, level=level, granted_by=by
            )
    return series.id


def own_agencies(s: Session) -> tuple[set[str], set[str]]:
    """(codes, countries) of this node's own agencies (not those standing for others)."""
    rows = s.execute(
        select(Agency.code, Agency.country).where(Agency.id.not_in(select(FedAgency.agency_id)))
    ).all()
    return {str(c) for c, _ in rows}, {str(k) for _, k in rows}


def local_series_of(s: Session, origin: str, keys: Iterable[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for chunk in chunks(sorted(set(keys))):
        for oid, local, deleted in s.execute(
            select(FedRecord.origin_id, FedRecord.local_id, FedRecord.deleted).where(
                FedRecord.origin == origin, FedRecord.kind == 0, FedRecord.origin_id.in_(chunk)
            )
        ):
            out[str(oid)] = None if (local is None or deleted) else int(local)
    return out


def series_owners(s: Session, series_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Series id -> (owner agency id, name), for those that exist."""
    out: dict[int, tuple[int, str]] = {}
    for chunk in chunks(sorted(set(series_ids))):
        for sid, agency_id, name in s.execute(
            select(Series.id, Series.agency_id, Series.name).where(Series.id.in_(chunk))
        ):
            out[int(sid)] = (int(agency_id), str(name))
    return out


def series_row(s: Session, series_id: int) -> Series | None:
    return s.get(Series, series_id)


def agency_row(s: Session, agency_id: int) -> Agency | None:
    return s.get(Agency, agency_id)


__all__ = [
    "agency_row",
    "apply_remote_series",
    "local_series_of",
    "own_agencies",
    "remote_agency",
    "remote_series_name",
    "series_owners",
    "series_row",
]
