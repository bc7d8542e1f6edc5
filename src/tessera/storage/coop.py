"""Cooperation rows: overlaps, notifications, delivery settings and the delivery log.

All SQL of ``tessera.app.coop`` and ``tessera.app.delivery`` lives here. The
queries that find overlaps read across agencies on purpose (deconfliction tells a
series' owner about a hit whatever it shares). Under PostgreSQL Row-Level Security
the network service sees only its caller's rows, so those two queries
(``series_hits``, ``unclassified_case_hits``) go through SECURITY DEFINER functions
that return ids only; the use case then reads names as the agency being told and
decides itself what each side may be told.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, text, update

from tessera.storage import prepared, sharing
from tessera.storage.db import Session
from tessera.storage.models import (
    Agency,
    AgencyDelivery,
    Case,
    DeliveryAttempt,
    DeliveryOutbox,
    FingerprintModel,
    IngestRun,
    Notification,
    NotificationRead,
    Overlap,
    Series,
    Sighting,
    User,
    series_media,
)
from tessera.storage.sorting import ordered

_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i : i + _CHUNK])


def _postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


_SERIES_HITS = (
    select(Series.id, Series.agency_id, series_media.c.media_id)
    .join(series_media, series_media.c.series_id == Series.id)
    .where(
        series_media.c.media_id.in_(prepared.ids_param()),
        series_media.c.deleted_at.is_(None),
        Series.deleted_at.is_(None),
    )
)


def series_hits(
    s: Session,
    media_ids: Iterable[int],
    in_series: Mapping[int, Iterable[int]] | None = None,
) -> dict[int, tuple[int, set[int]]]:
    """series id -> (owner agency id, the media among ``media_ids`` it holds).

    Reads across agencies whatever the session's RLS caller: on PostgreSQL through
    ``tessera_series_hits`` (migration 0012, SECURITY DEFINER), which returns ids
    only; names are read afterwards under the identity of the agency being told.

    ``in_series``: media id -> the series holding it, as ``sharing.containers`` read
    them in this transaction (live series and memberships, the rows of the query
    below). SQLite has no row-level security, so there the hits are made from it and
    the series' owners without reading ``series_media`` a second time (a lookup's
    sharing rules read it a moment before: ~3 us of CPU a hash of a 1,000-hash batch
    at 10M). PostgreSQL ignores it: the caller's own reads are filtered by RLS.
    """
    out: dict[int, tuple[int, set[int]]] = {}
    if in_series is not None and not _postgres(s):
        held = {m: set(in_series.get(m, ())) for m in set(media_ids)}
        owner = sharing.owners(s, "series", {x for v in held.values() for x in v})
        for m, sids in held.items():
            for sid in sids:
                if sid in owner:  # soft-deleted meanwhile: no owner, not a hit
                    out.setdefault(sid, (owner[sid], set()))[1].add(m)
        return out
    for chunk in _chunks(sorted(set(media_ids))):
        rows: Iterable[Sequence[Any]]
        if _postgres(s):
            rows = s.execute(
                text(
                    "SELECT series_id, owner_id, media_id"
                    " FROM tessera_series_hits(CAST(:ids AS bigint[]))"
                ),
                {"ids": chunk},
            )
        else:
            rows = prepared.rows(s, _SERIES_HITS, ids=chunk)
        for sid, owner, m in rows:
            out.setdefault(int(sid), (int(owner), set()))[1].add(int(m))
    return out


def unclassified_case_hits(
    s: Session, media_ids: Iterable[int], exclude_agency_id: int
) -> dict[int, tuple[int, set[int]]]:
    """case id -> (owner agency id, media among ``media_ids`` sighted in it), for other
    agencies' cases and media held by no series (new, unclassified material).

    Across agencies like ``series_hits`` (PostgreSQL: ``tessera_new_case_hits``).
    """
    in_series = exists().where(
        series_media.c.media_id == Sighting.media_id, series_media.c.deleted_at.is_(None)
    )
    out: dict[int, tuple[int, set[int]]] = {}
    for chunk in _chunks(sorted(set(media_ids))):
        if _postgres(s):
            rows = s.execute(
                text(
                    "SELECT case_id, owner_id, media_id"
                    " FROM tessera_new_case_hits(CAST(:ids AS bigint[]), :ex)"
                ),
                {"ids": chunk, "ex": exclude_agency_id},
            )
        else:
            rows = s.execute(
                select(Sighting.case_id, Sighting.agency_id, Sighting.media_id)
                .where(
                    Sighting.media_id.in_(chunk),
                    Sighting.deleted_at.is_(None),
                    Sighting.agency_id != exclude_agency_id,
                    ~in_series,
                )
                .distinct()
            )
        for cid, owner, m in rows:
            out.setdefault(int(cid), (int(owner), set()))[1].add(int(m))
    return out


def media_of_run(s: Session, run_id: int, case_id: int) -> set[int]:
    """Media sighted in ``case_id`` by ingest run ``run_id``."""
    rows = s.execute(
        select(Sighting.media_id)
        .where(Sighting.run_id == run_id, Sighting.case_id == case_id)
        .distinct()
    )
    return {int(m) for (m,) in rows}


def case_of_run(s: Session, run_id: int) -> int | None:
    run = s.get(IngestRun, run_id)
    return None if run is None else int(run.case_id)


def pdq_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, bytes]:
    """media id -> its (first) PDQ hash, for stills among ``media_ids``."""
    out: dict[int, bytes] = {}
    for chunk in _chunks(sorted(set(media_ids))):
        rows = s.execute(
            select(FingerprintModel.media_id, FingerprintModel.value).where(
                FingerprintModel.media_id.in_(chunk),
                FingerprintModel.algorithm == "pdq",
                FingerprintModel.position == 0,
            )
        )
        for m, v in rows:
            out.setdefault(int(m), bytes(v))
    return out


def audio_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, str]:
    """media id -> its Chromaprint fingerprint (text form), for recordings among ``media_ids``."""
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(media_ids))):
        rows = s.execute(
            select(FingerprintModel.media_id, FingerprintModel.value).where(
                FingerprintModel.media_id.in_(chunk), FingerprintModel.algorithm == "chromaprint"
            )
        )
        for m, v in rows:
            out.setdefault(int(m), bytes(v).decode("ascii"))
    return out


def other_agency_exists(s: Session, code: str) -> bool:
    """Whether the node knows an agency besides ``code`` (agencies are read by every
    caller: no read policy). Without one no series or case can overlap its work."""
    return s.scalar(select(Agency.id).where(Agency.code != code).limit(1)) is not None


def agencies(s: Session, ids: Iterable[int]) -> dict[int, Agency]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {a.id: a for a in s.scalars(select(Agency).where(Agency.id.in_(wanted)))}


def cases(s: Session, ids: Iterable[int]) -> dict[int, Case]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(wanted)))}


def series(s: Session, ids: Iterable[int]) -> dict[int, Series]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {x.id: x for x in s.scalars(select(Series).where(Series.id.in_(wanted)))}


def add_overlap(s: Session, **fields: Any) -> Overlap:
    row = Overlap(**fields)
    s.add(row)
    s.flush()
    return row


def get_overlap(s: Session, overlap_id: int) -> Overlap | None:
    return s.get(Overlap, overlap_id)


def overlaps_of(
    s: Session, agency_id: int | None, *, series_id: int | None = None
) -> Sequence[Overlap]:
    """Overlaps the agency is a side of (every one for ``None``), newest first;
    only those on ``series_id`` when given."""
    q = select(Overlap).order_by(Overlap.id.desc())
    if series_id is not None:
        q = q.where(Overlap.series_id == series_id)
    if agency_id is not None:
        q = q.where(
            or_(Overlap.owner_agency_id == agency_id, Overlap.finder_agency_id == agency_id)
        )
    return s.scalars(q).all()


def add_notification(
    s: Session,
    agency_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    overlap_id: int | None = None,
    user_id: int | None = None,
    dedup_key: str | None = None,
) -> Notification:
    row = Notification(
        agency_id=agency_id,
        kind=kind,
        payload=payload,
        overlap_id=overlap_id,
        user_id=user_id,
        dedup_key=dedup_key,
        count=1,
    )
    s.add(row)
    s.flush()
    return row


def recent_notification(
    s: Session, agency_id: int, user_id: int | None, key: str, since: datetime
) -> Notification | None:
    """The latest notice with ``key`` for that agency (and user) raised since ``since``."""
    q = select(Notification).where(
        Notification.agency_id == agency_id,
        Notification.dedup_key == key,
        Notification.created_at >= since,
    )
    q = q.where(
        Notification.user_id.is_(None) if user_id is None else Notification.user_id == user_id
    )
    return s.scalars(q.order_by(Notification.id.desc()).limit(1)).first()


def curators_of(s: Session, agency_id: int) -> list[int]:
    """Ids of the agency's active accounts that act on notices (curator, admin)."""
    return [
        int(i)
        for i in s.scalars(
            select(User.id)
            .where(
                User.agency_id == agency_id,
                User.role.in_(("curator", "admin")),
                User.disabled.is_(False),
            )
            .order_by(User.id)
        )
    ]


NOTIFICATION_SORTS = ("created", "kind", "count", "read")


def notifications(
    s: Session,
    *,
    agency_id: int | None,
    user_id: int | None,
    reader: str,
    unread: bool,
    limit: int,
    offset: int = 0,
    sort: str = "created",
    descending: bool = True,
) -> list[tuple[Notification, datetime | None]]:
    """(notification, when ``reader`` read it) newest first (or in another
    ``NOTIFICATION_SORTS`` order): the agency's own and its user's (``agency_id=None``:
    every agency's, for the node's operator)."""
    read = NotificationRead
    keys = {
        "created": Notification.id,
        "kind": Notification.kind,
        "count": Notification.count,
        "read": read.read_at,
    }
    q = ordered(
        select(Notification, read.read_at).outerjoin(
            read, and_(read.notification_id == Notification.id, read.reader == reader)
        ),
        keys,
        sort,
        descending=descending,
        tie=Notification.id,
        what="notifications",
    )
    q = q.limit(limit).offset(offset)
    if agency_id is not None:
        q = q.where(
            Notification.agency_id == agency_id,
            or_(Notification.user_id.is_(None), Notification.user_id == user_id),
        )
    if unread:
        q = q.where(read.read_at.is_(None))
    return [(n, at) for n, at in s.execute(q)]


def mark_read(s: Session, ids: Iterable[int], reader: str, at: datetime) -> int:
    """Record ``reader`` read ``ids`` (already read ones unchanged); how many are new."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    done = set(
        s.scalars(
            select(NotificationRead.notification_id).where(
                NotificationRead.notification_id.in_(wanted), NotificationRead.reader == reader
            )
        )
    )
    new = [i for i in wanted if i not in done]
    s.add_all(NotificationRead(notification_id=i, reader=reader, read_at=at) for i in new)
    s.flush()
    return len(new)


def notifications_by_ids(s: Session, ids: Iterable[int]) -> list[Notification]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(s.scalars(select(Notification).where(Notification.id.in_(wanted))))


def delivery_of(s: Session, agency_id: int) -> AgencyDelivery | None:
    return s.get(AgencyDelivery, agency_id)


def set_delivery(s: Session, agency_id: int, **fields: Any) -> AgencyDelivery:
    row = s.get(AgencyDelivery, agency_id)
    if row is None:
        row = AgencyDelivery(agency_id=agency_id)
        s.add(row)
    for k, v in fields.items():
        setattr(row, k, v)
    s.flush()
    return row


def log_attempt(
    s: Session,
    notification_id: int,
    *,
    channel: str,
    target: str,
    attempt: int,
    ok: bool,
    detail: str | None,
) -> None:
    s.add(
        DeliveryAttempt(
            notification_id=notification_id,
            channel=channel,
            target=target,
            attempt=attempt,
            ok=ok,
            detail=detail,
        )
    )
    s.flush()


def enqueue(s: Session, notification_ids: Iterable[int], at: datetime) -> int:
    """Outbox rows (one per configured channel) for notifications whose agency has
    delivery set; in the transaction that raised them. How many rows were added."""
    added = 0
    for n in notifications_by_ids(s, notification_ids):
        cfg = delivery_of(s, n.agency_id)
        if cfg is None:
            continue
        channels = []
        if cfg.webhook_url and cfg.webhook_secret:
            channels.append("webhook")
        if cfg.email_to and cfg.smtp_host and cfg.smtp_port and cfg.smtp_from:
            channels.append("email")
        for ch in channels:
            s.add(
                DeliveryOutbox(
                    notification_id=n.id,
                    channel=ch,
                    state="pending",
                    attempts=0,
                    next_at=at,
                    created_at=at,
                )
            )
            added += 1
    s.flush()
    return added


def claim_due(
    s: Session, now: datetime, lease_until: datetime, limit: int, only: Sequence[int] | None = None
) -> list[DeliveryOutbox]:
    """Pending outbox rows due at ``now``, each claimed for this worker until
    ``lease_until`` (a conditional update: two workers never claim one row; a worker
    that dies leaves the row due again when the lease ends)."""
    q = select(DeliveryOutbox.id).where(
        DeliveryOutbox.state == "pending", DeliveryOutbox.next_at <= now
    )
    if only is not None:
        q = q.where(DeliveryOutbox.notification_id.in_(list(only)))
    ids = list(s.scalars(q.order_by(DeliveryOutbox.next_at, DeliveryOutbox.id).limit(limit)))
    claimed: list[DeliveryOutbox] = []
    for i in ids:
        done = s.execute(
            update(DeliveryOutbox)
            .where(
                DeliveryOutbox.id == i,
                DeliveryOutbox.state == "pending",
                DeliveryOutbox.next_at <= now,
            )
            .values(next_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0) == 1:
            row = s.get(DeliveryOutbox, i)
            if row is not None:
                s.refresh(row)
                claimed.append(row)
    return claimed


def outbox_row(s: Session, row_id: int) -> DeliveryOutbox | None:
    return s.get(DeliveryOutbox, row_id)


def outbox(
    s: Session, states: Sequence[str], only: Sequence[int] | None = None
) -> Sequence[DeliveryOutbox]:
    q = select(DeliveryOutbox).where(DeliveryOutbox.state.in_(list(states)))
    if only is not None:
        q = q.where(DeliveryOutbox.notification_id.in_(list(only)))
    return s.scalars(q.order_by(DeliveryOutbox.id)).all()


def attempts(s: Session, notification_id: int) -> Sequence[DeliveryAttempt]:
    return s.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.notification_id == notification_id)
        .order_by(DeliveryAttempt.id)
    ).all()


__all__ = [
    "NOTIFICATION_SORTS",
    "add_notification",
    "add_overlap",
    "agencies",
    "attempts",
    "audio_of_media",
    "case_of_run",
    "cases",
    "claim_due",
    "curators_of",
    "delivery_of",
    "enqueue",
    "get_overlap",
    "log_attempt",
    "mark_read",
    "media_of_run",
    "notifications",
    "notifications_by_ids",
    "outbox",
    "outbox_row",
    "overlaps_of",
    "pdq_of_media",
    "recent_notification",
    "series",
    "series_hits",
    "set_delivery",
    "unclassified_case_hits",
]
