"""Reading exchange records back out for export: the selected media in id order, a
chunk of ids at a time (memory stays flat), each with what export needs: digests,
hashes, series, the entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from tessera.storage.bulk import Bulk
from tessera.storage.exchange.records import OPAQUE_VERSION
from tessera.storage.models import Case, ExchangeEntry, Media, Series, Sighting, series_media


class StoredItem(NamedTuple):
    """One media item with what export needs: digests, hashes, series, the entry.

    A named tuple (immutable; ``_replace`` for a narrowed copy): built once per
    exported record, where a frozen dataclass's ``__init__`` cost 5% of an export."""

    media_id: int
    md5: bytes | None
    sha1: bytes | None
    sha256: bytes | None
    kind: str
    byte_size: int | None
    submissions: int
    fingerprints: tuple[tuple[str, int, bytes], ...]  # (algorithm, version, value), position 0
    series: tuple[tuple[str, bool, bool, bool, str | None, int | None], ...]
    entry: tuple[str, str | None, str | None, int | None, dict[str, Any]] | None
    """(source format, source id, category profile, category, data)."""


def select_media(
    *, series_id: int | None = None, case_id: int | None = None, agency_id: int | None = None
) -> Select[Any]:
    """Ids of the media an export covers (all media when nothing is given); soft-deleted
    media, sightings and series memberships are left out."""
    q = select(Media.id).where(Media.deleted_at.is_(None))
    live_link = series_media.c.deleted_at.is_(None)
    live_sighting = Sighting.deleted_at.is_(None)
    if series_id is not None:
        q = q.where(
            Media.id.in_(
                select(series_media.c.media_id).where(
                    series_media.c.series_id == series_id, live_link
                )
            )
        )
    if case_id is not None:
        q = q.where(
            Media.id.in_(
                select(Sighting.media_id).where(Sighting.case_id == case_id, live_sighting)
            )
            | Media.id.in_(select(ExchangeEntry.media_id).where(ExchangeEntry.case_id == case_id))
        )
    if agency_id is not None:
        q = q.where(
            Media.id.in_(
                select(Sighting.media_id).where(Sighting.agency_id == agency_id, live_sighting)
            )
            | Media.id.in_(
                select(ExchangeEntry.media_id).where(ExchangeEntry.agency_id == agency_id)
            )
            | Media.id.in_(
                select(series_media.c.media_id)
                .join(Series, Series.id == series_media.c.series_id)
                .where(Series.agency_id == agency_id, Series.deleted_at.is_(None), live_link)
            )
        )
    return q.order_by(Media.id)


def category_profiles(s: Session, ids: Select[Any]) -> list[str]:
    """Distinct category profiles of the entries of the selected media.

    Each profile the entries hold is found by one seek of ``ix_exchange_entry_category_profile``
    (the next one after the last found; a file has one or a few), then kept if an
    entry of a selected media item holds it: that probe stops at the first such
    entry instead of reading every entry of the selection (migration 0035)."""
    entry = ExchangeEntry.__table__.alias("e")
    selected = ids.order_by(None).where(Media.id == entry.c.media_id).exists()
    found: list[str] = []
    last: str | None = None
    while True:
        nxt = select(func.min(ExchangeEntry.category_profile)).where(
            ExchangeEntry.category_profile.is_not(None)
            if last is None
            else ExchangeEntry.category_profile > last
        )
        profile = s.scalar(nxt)
        if profile is None:
            return found
        held = select(entry.c.id).where(entry.c.category_profile == profile, selected).limit(1)
        if s.scalar(held) is not None:
            found.append(str(profile))
        last = str(profile)


def case_ids(s: Session, number: str) -> list[int]:
    """Ids of the cases with this number (numbers are unique per agency only)."""
    return [int(x) for x in s.scalars(select(Case.id).where(Case.number == number))]


def count_media(s: Session, ids: Select[Any]) -> int:
    return int(s.scalar(select(func.count()).select_from(ids.order_by(None).subquery())) or 0)


def iter_items(
    s: Session,
    ids: Select[Any],
    *,
    prefer_agency: int | None = None,
    entries_of: int | None = None,
    chunk: int = 5000,
    all_live: bool = False,
) -> Iterator[StoredItem]:
    """The selected media in id order, a chunk of ids at a time (memory stays flat).

    ``entries_of``: only that agency's exchange entries are read (an entry is what
    one agency's file said: its tags, comments, paths are its own, even where
    another agency holds the same content)."""
    if all_live:  # ``ids`` selects every live item: its pages are read with their rows
        yield from _all_live(s, prefer_agency, entries_of, chunk)
        return
    # one statement with the page's lower bound as a parameter, run on the session's
    # connection (Core rows, not the ORM's result machinery: 7% of an export)
    paged = ids.where(Media.id > bindparam("after")).limit(chunk)
    conn = s.connection()
    after = 0
    while True:
        page: list[int] = list(conn.execute(paged, {"after": after}).scalars().all())
        if not page:
            return
        after = page[-1]
        yield from _load(s, page, prefer_agency, entries_of)


_MEDIA_HEAD = "SELECT id, md5, sha1, sha256, kind, byte_size, submissions FROM media WHERE"


def _all_live(
    s: Session, prefer_agency: int | None, entries_of: int | None, chunk: int
) -> Iterator[StoredItem]:
    """``iter_items`` of every live item: each page's media rows are read once, with
    its ids (not the ids, then their rows: a tenth of a 1M export's reads)."""
    b = Bulk(s)
    q = b.mark
    sql = f"{_MEDIA_HEAD} deleted_at IS NULL AND id > {q} ORDER BY id LIMIT {q}"
    after = 0
    while True:
        rows = b.rows(sql, (after, chunk))
        if not rows:
            return
        after = int(rows[-1][0])
        yield from _load(s, [int(r[0]) for r in rows], prefer_agency, entries_of, rows)


def _load(
    s: Session,
    page: list[int],
    prefer_agency: int | None,
    entries_of: int | None,
    media_rows: list[tuple[Any, ...]] | None = None,
) -> Iterator[StoredItem]:
    b = Bulk(s)
    q = b.mark
    lo, hi = page[0], page[-1]
    head = _MEDIA_HEAD
    rows: Any = media_rows
    if rows is None:  # a page without gaps (an export of everything) is a range: no id list
        rows = (
            b.rows(f"{head} id BETWEEN {q} AND {q}", (lo, hi))
            if hi - lo + 1 == len(page)
            else b.where_in(head, "id", page, sql_type="BIGINT")
        )
    media = {int(r[0]): r for r in rows}
    fps: dict[int, list[tuple[str, int, bytes]]] = {}
    for mid, alg, version, value in b.rows(
        "SELECT media_id, algorithm, version, value FROM fingerprint "
        f"WHERE media_id BETWEEN {q} AND {q} AND position = 0 "
        f"AND (algorithm = 'pdq' OR version = {OPAQUE_VERSION}) ORDER BY id",
        (lo, hi),
    ):
        fps.setdefault(mid, []).append(
            (alg, version, value if type(value) is bytes else bytes(value))
        )
    series: dict[int, list[tuple[str, bool, bool, bool, str | None, int | None]]] = {}
    for mid, name, victim, offender, baseline, profile, category in b.rows(
        "SELECT sm.media_id, s.name, s.victim_identified, s.offender_identified, s.baseline, "
        "s.category_profile, s.category FROM series_media sm JOIN series s ON s.id = sm.series_id "
        f"WHERE sm.media_id BETWEEN {q} AND {q} ORDER BY s.id",
        (lo, hi),
    ):
        series.setdefault(int(mid), []).append(
            (name, bool(victim), bool(offender), bool(baseline), profile, category)
        )
    # per item the preferred agency's entry, else the oldest (lowest id): picked here,
    # so the rows come in the unique (media_id, agency_id) index's order, unsorted
    best: dict[int, tuple[int, int, tuple[Any, ...]]] = {}
    for row in b.rows(
        "SELECT media_id, agency_id, id, source_format, source_id, category_profile, category, "
        f"data FROM exchange_entry WHERE media_id BETWEEN {q} AND {q}",
        (lo, hi),
    ):
        mid, agency_id, eid = row[0], row[1], row[2]
        if entries_of is not None and agency_id != entries_of:
            continue
        rank = 0 if agency_id == prefer_agency else 1
        old = best.get(mid)
        if old is None or (rank, eid) < old[:2]:
            best[mid] = (rank, eid, row)
    chosen = [(mid, best[mid][2]) for mid in page if mid in best and mid in media]
    # the chosen entries' JSON parsed in one call per page (SQLite's text)
    entries = {
        mid: (e[3], e[4], e[5], e[6], data)
        for (mid, e), data in zip(chosen, b.load_json_many([e[7] for _, e in chosen]), strict=True)
    }
    no_fps: tuple[tuple[str, int, bytes], ...] = ()
    for mid in page:
        m = media.get(mid)
        if m is None:
            continue
        _, md5, sha1, sha256, kind, byte_size, submissions = m
        got = fps.get(mid)
        linked = series.get(mid)
        yield StoredItem(
            mid,
            md5 if md5 is None or type(md5) is bytes else bytes(md5),
            sha1 if sha1 is None or type(sha1) is bytes else bytes(sha1),
            sha256 if sha256 is None or type(sha256) is bytes else bytes(sha256),
            kind,
            byte_size,
            submissions or 0,
            no_fps if got is None else tuple(got),
            () if linked is None else tuple(linked),
            entries.get(mid),
        )


__all__ = [
    "StoredItem",
    "case_ids",
    "category_profiles",
    "count_media",
    "iter_items",
    "select_media",
]
