"""A node: media records of other nodes as local (hash-only) media, imported like an
exchange file (``storage.exchange.importer.ExchangeImport``, source format ``federation``), and
unlinked again when their series no longer holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from tessera.storage import bulk_load
from tessera.storage.exchange.importer import ExchangeImport
from tessera.storage.federation.records import MEDIA_KIND, Incoming, chunks
from tessera.storage.models import (
    Agency,
    ExchangeEntry,
    ExchangeHash,
    FingerprintModel,
    Media,
    Series,
    Sighting,
    series_media,
)

SOURCE_FORMAT = "federation"


class MediaInput:
    """What ``ExchangeImport`` needs of a received media record (one per record of a
    full pull: slots, and the fields a received record never has on the class).

    A pure function of the record but for ``series`` (the local series' name, set
    when it is applied): ``media_inputs`` makes them on the sync's fetch thread while
    the page before is applied."""

    __slots__ = ("ident", "kind", "md5", "pdq", "series", "sha1", "sha256", "source_id")
    photodna: str | None = None
    other_hashes: tuple[Any, ...] = ()
    media_size: int | None = None
    category: int | None = None
    category_profile: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    relative_path: str | None = None
    case_ref: str | None = None
    deleted: bool = False

    def __init__(self, series: str | None, source_id: str, p: dict[str, Any]) -> None:
        self.md5: str | None = p.get("md5")
        self.sha1: str | None = p.get("sha1")
        self.sha256: str | None = p.get("sha256")
        self.pdq: str | None = p.get("pdq")
        self.kind: str | None = p.get("kind")
        self.series: str | None = series
        self.source_id: str | None = source_id
        ident = []
        if self.sha256:
            ident.append(("sha256", self.sha256))
        if self.sha1:
            ident.append(("sha1", self.sha1))
        if self.md5:
            ident.append(("md5", self.md5))
        if self.pdq:
            ident.append(("pdq", self.pdq))
        self.ident: list[tuple[str, str]] = ident

    def identity(self) -> list[tuple[str, str]]:
        return self.ident

    def entry_data(self) -> dict[str, Any]:
        return {}


def _media_input(series: str | None, r: Incoming) -> MediaInput:
    return MediaInput(series, f"{r.origin}/{r.origin_id}"[:512], r.payload or {})


def media_inputs(records: Sequence[Incoming]) -> dict[int, MediaInput]:
    """``id(record)`` -> its ``MediaInput`` (series unset), for the live media records
    among ``records`` (what ``apply_remote_media`` is given back as ``made``: the
    records must be these very objects, kept alive by the caller)."""
    return {id(r): _media_input(None, r) for r in records if r.kind == MEDIA_KIND and not r.deleted}


IMPORT_BATCH = 10_000
"""Received media records per ``ExchangeImport.apply`` batch."""


def apply_remote_media(
    s: Session,
    agency: Agency,
    records: Sequence[tuple[str, Incoming]],
    made: Mapping[int, MediaInput] | None = None,
    series_ids: Mapping[str, int] | None = None,
    *,
    held: bulk_load.HeldLinkTriggers | None = None,
) -> list[int]:
    """Media of remote series (name, record) of one remote agency, as hash-only media
    (or the local media with those digests) linked to their series. Returns the
    media ids, in order. ``made``: ``media_inputs`` of these records, made earlier;
    ``series_ids``: the ids of those series (name -> id), all the agency's.

    ``held``: a fresh node's big pull (``storage.bulk_load``: the caller dropped the
    deferred indexes) links new media with the link triggers held by the caller for
    its whole feed page, who restores them before the page commits; without it,
    the triggers are dropped and created again around each batch's new links."""
    job = ExchangeImport(s, agency=agency, case=None, series=None, source_format=SOURCE_FORMAT)
    if series_ids:
        job.known_series(series_ids)
    if held is not None:
        job.hold_link_triggers(held)
    elif bulk_load.missing(s):
        job.link_new = lambda pairs: bulk_load.link_new_media(s, pairs)
    if len(records) > IMPORT_BATCH and s.get_bind().dialect.name == "sqlite":
        # a full pull writes ~6 index entries per record at random places: past 64 MiB
        # (the import's own page cache) a million-record node re-reads index pages
        s.execute(text("PRAGMA cache_size = -262144"))
    out: list[int] = []
    for lo in range(0, len(records), IMPORT_BATCH):
        batch: list[tuple[int, MediaInput]] = []
        for n, (name, r) in enumerate(records[lo : lo + IMPORT_BATCH], lo + 1):
            m = made.get(id(r)) if made else None
            if m is None:
                m = _media_input(name, r)
            else:
                m.series = name
            batch.append((n, m))
        out.extend(job.apply(batch))
    return out


def drop_series_media(s: Session, series_id: int, media_ids: Iterable[int] | None) -> None:
    """Unlink media from a remote series; media no other record describes lose this
    agency's entry, and hash-only media nobody holds any more go."""
    series = s.get(Series, series_id)
    if series is None:
        return
    cond = series_media.c.series_id == series_id
    if media_ids is not None:
        ids = sorted(set(media_ids))
        gone: list[int] = []
        for chunk in chunks(ids):
            s.execute(delete(series_media).where(cond, series_media.c.media_id.in_(chunk)))
            gone.extend(chunk)
    else:
        gone = [int(x) for x in s.scalars(select(series_media.c.media_id).where(cond))]
        s.execute(delete(series_media).where(cond))
    for chunk in chunks(sorted(set(gone))):
        still = {
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id)
                .join(Series, Series.id == series_media.c.series_id)
                .where(series_media.c.media_id.in_(chunk), Series.agency_id == series.agency_id)
            )
        }
        lose = [m for m in chunk if m not in still]
        if lose:
            s.execute(
                delete(ExchangeEntry).where(
                    ExchangeEntry.agency_id == series.agency_id,
                    ExchangeEntry.media_id.in_(lose),
                    ExchangeEntry.source_format == SOURCE_FORMAT,
                )
            )
        orphans = [
            int(x)
            for x in s.scalars(
                select(Media.id).where(
                    Media.id.in_(chunk),
                    Media.has_content.is_(False),
                    ~select(ExchangeEntry.id).where(ExchangeEntry.media_id == Media.id).exists(),
                    ~select(Sighting.id).where(Sighting.media_id == Media.id).exists(),
                    ~select(series_media.c.media_id)
                    .where(series_media.c.media_id == Media.id)
                    .exists(),
                )
            )
        ]
        if orphans:
            s.execute(delete(ExchangeHash).where(ExchangeHash.media_id.in_(orphans)))
            s.execute(delete(FingerprintModel).where(FingerprintModel.media_id.in_(orphans)))
            s.execute(delete(Media).where(Media.id.in_(orphans)))


__all__ = [
    "IMPORT_BATCH",
    "SOURCE_FORMAT",
    "MediaInput",
    "apply_remote_media",
    "drop_series_media",
    "media_inputs",
]
