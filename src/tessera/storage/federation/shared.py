"""A node's own shared records: the live series of its own agencies (not those
standing for other nodes') with their sharing levels and grants, their live media's
hashes, and what was last sent of each (``fed_sent``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from tessera.storage.federation.records import chunks
from tessera.storage.models import (
    Agency,
    FedAgency,
    FedSent,
    FingerprintModel,
    Media,
    Series,
    SharingGrant,
    series_media,
)

_T_SENT = cast(Table, FedSent.__table__)


@dataclass(frozen=True)
class SharedSeries:
    id: int
    name: str
    level: str
    code: str
    country: str
    agency_name: str
    contact: str | None
    victim_identified: bool
    offender_identified: bool
    baseline: bool
    category: int | None
    category_profile: str | None
    grants: dict[str, dict[str, str]] = field(default_factory=dict)
    """Grants to listed countries / agencies: {"country": {CC: level}, "agency": {...}}."""


def own_series(s: Session) -> list[SharedSeries]:
    """Live series of this node's own agencies (not those standing for other nodes'),
    each with its network-wide sharing level (``status`` when no grant says otherwise)
    and its grants to listed countries and agencies."""
    grants: dict[int, str] = {}
    listed: dict[int, dict[str, dict[str, str]]] = {}
    for sid, scope, grantee, level in s.execute(
        select(
            SharingGrant.series_id, SharingGrant.scope, SharingGrant.grantee, SharingGrant.level
        ).where(SharingGrant.series_id.is_not(None))
    ):
        if sid is None:
            continue
        if scope == "network":
            grants[int(sid)] = str(level)
        elif scope in ("country", "agency"):
            listed.setdefault(int(sid), {}).setdefault(str(scope), {})[str(grantee)] = str(level)
    remote = select(FedAgency.agency_id)
    rows = s.execute(
        select(Series, Agency)
        .join(Agency, Agency.id == Series.agency_id)
        .where(Series.deleted_at.is_(None), Series.agency_id.not_in(remote))
        .order_by(Series.id)
    ).all()
    return [
        SharedSeries(
            id=se.id,
            name=se.name,
            level=str(grants.get(se.id, "status")),
            code=a.code,
            country=a.country,
            agency_name=a.name,
            contact=a.contact,
            victim_identified=bool(se.victim_identified),
            offender_identified=bool(se.offender_identified),
            baseline=bool(se.baseline),
            category=se.category,
            category_profile=se.category_profile,
            grants=listed.get(se.id, {}),
        )
        for se, a in rows
    ]


def series_media_hashes(
    s: Session, series_ids: Sequence[int]
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(series id, media id, hashes) of the live media of the given series."""
    for chunk in chunks(sorted(series_ids), 50):
        rows = s.execute(
            select(
                series_media.c.series_id,
                Media.id,
                Media.md5,
                Media.sha1,
                Media.sha256,
                Media.kind,
            )
            .join(Media, Media.id == series_media.c.media_id)
            .where(
                series_media.c.series_id.in_(chunk),
                series_media.c.deleted_at.is_(None),
                Media.deleted_at.is_(None),
            )
            .order_by(series_media.c.series_id, Media.id)
        ).all()
        pdq: dict[int, bytes] = {}
        mids = sorted({int(r[1]) for r in rows})
        for mc in chunks(mids):
            for mid, value in s.execute(
                select(FingerprintModel.media_id, FingerprintModel.value)
                .where(
                    FingerprintModel.media_id.in_(mc),
                    FingerprintModel.algorithm == "pdq",
                    FingerprintModel.position == 0,
                )
                .order_by(FingerprintModel.id.desc())
            ):
                pdq[int(mid)] = bytes(value)
        for sid, mid, md5, sha1, sha256, kind in rows:
            h: dict[str, Any] = {}
            for k, v in (("md5", md5), ("sha1", sha1), ("sha256", sha256)):
                if v:
                    h[k] = bytes(v).hex()
            if int(mid) in pdq and len(pdq[int(mid)]) == 32:
                h["pdq"] = pdq[int(mid)].hex()
            if not h:
                continue
            if kind and kind != "other":
                h["kind"] = kind
            yield int(sid), int(mid), h


def sent_state(s: Session) -> dict[str, tuple[int, str, bool]]:
    return {
        str(i): (int(v), str(d), bool(x))
        for i, v, d, x in s.execute(
            select(FedSent.origin_id, FedSent.version, FedSent.digest, FedSent.deleted)
        )
    }


def record_sent(s: Session, rows: Sequence[tuple[str, int, str, bool]], known: set[str]) -> None:
    new = [r for r in rows if r[0] not in known]
    old = [r for r in rows if r[0] in known]
    for chunk in chunks(new, 5000):
        s.execute(
            insert(_T_SENT),
            [{"origin_id": i, "version": v, "digest": d, "deleted": x} for i, v, d, x in chunk],
        )
    for i, v, d, x in old:
        s.execute(
            update(FedSent).where(FedSent.origin_id == i).values(version=v, digest=d, deleted=x)
        )


__all__ = [
    "SharedSeries",
    "own_series",
    "record_sent",
    "sent_state",
    "series_media_hashes",
]
