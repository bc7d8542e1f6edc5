"""Writing a batch of fingerprinted files into the shared database, atomically.

One batch is one transaction: media rows (insert-or-reuse by SHA-256),
fingerprints, sightings, series links, submission counts and the run's
``IngestItem`` bookkeeping all commit together or not at all. A run killed at any
moment therefore leaves whole batches only; the re-run skips the paths its items
name and writes the rest, so the database ends with no duplicates and no gaps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tessera.fingerprints.chromaprint import AudioFingerprint
from tessera.fingerprints.layout import ALGORITHM as LAYOUT_ALGORITHM
from tessera.fingerprints.layout import VERSION as LAYOUT_VERSION
from tessera.pipeline.result import NOT_MEDIA, FileResult, features_count
from tessera.storage.db import Session
from tessera.storage.exchange.hash_only import complete_media, hash_only_match
from tessera.storage.identity import media_ids_by_sha256, reads_filtered
from tessera.storage.ingest_runs import (
    add_sighting,
    cap_other_records,
    clear_blind,
    count_submission,
    link_series,
    new_media_ids,
    recorded_paths,
)
from tessera.storage.limits import stored_path
from tessera.storage.models import (
    FingerprintModel,
    IngestItem,
    IngestRun,
    Media,
    MediaMetadataModel,
    MediaText,
)
from tessera.storage.repo import (
    FEATURES_ALGORITHM,
    FEATURES_VERSION,
    media_by_sha256,
    refresh_fingerprints,
)
from tessera.storage.runs import revive_media


@dataclass(frozen=True)
class FileMeta:
    """File-system facts about a path that the hashing result does not carry."""

    mtime: datetime | None = None
    ctime: datetime | None = None


@dataclass
class BatchOutcome:
    """What one batch did: statuses per path and the new PDQ fingerprints to index."""

    statuses: dict[str, str] = field(default_factory=dict)
    new_pdq: list[tuple[int, int, bytes, int | None]] = field(default_factory=list)
    new_features: list[tuple[int, int, bytes, int]] = field(default_factory=list)
    """(fingerprint id, media id, local-features blob, position) for the scene index."""


def _kind(r: FileResult) -> str:
    if r.kind:
        return r.kind
    return "image" if r.pdq is not None or r.format is not None else "other"


def _content(r: FileResult, sha256: bytes) -> dict[str, Any]:
    """The media columns a file's result fills in."""
    return {
        "sha256": sha256,
        "md5": bytes.fromhex(r.md5 or "") or None,
        "sha1": bytes.fromhex(r.sha1 or "") or None,
        "kind": _kind(r),
        "format": r.format,
        "byte_size": r.size,
        "width": r.width,
        "height": r.height,
    }


def _fingerprints(r: FileResult, media_id: int) -> list[FingerprintModel]:
    """Fingerprint rows for a result: the image PDQ, each video frame's PDQ, the audio."""
    rows: list[FingerprintModel] = []
    if r.pdq is not None:
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm="pdq",
                version=1,
                position=0,
                value=bytes.fromhex(r.pdq),
                quality=r.quality,
            )
        )
    seen: set[int] = set()
    for f in r.frames or []:
        position = round(f.timestamp * 1000) + 1  # ms from the start, +1: 0 is the still
        if position in seen:
            continue
        seen.add(position)
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm="pdq",
                version=1,
                position=position,
                value=f.pdq,
                quality=f.quality,
            )
        )
    if r.layout is not None and not r.frames:
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm=LAYOUT_ALGORITHM,
                version=LAYOUT_VERSION,
                position=0,
                value=r.layout,
                quality=None,
            )
        )
    if r.features is not None and features_count(r.features) > 0:
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm=FEATURES_ALGORITHM,
                version=FEATURES_VERSION,
                position=0,
                value=r.features,
                quality=features_count(r.features),
            )
        )
    taken: set[int] = set()
    for ts, blob in r.frame_features or []:
        position = round(ts * 1000) + 1  # as for frame PDQs: ms from the start, +1
        if position in taken or features_count(blob) == 0:
            continue
        taken.add(position)
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm=FEATURES_ALGORITHM,
                version=FEATURES_VERSION,
                position=position,
                value=blob,
                quality=features_count(blob),
            )
        )
    if r.audio:
        fp = AudioFingerprint.parse(r.audio)  # validated; stored in its text form
        rows.append(
            FingerprintModel(
                media_id=media_id,
                algorithm="chromaprint",
                version=fp.algorithm,
                position=0,
                value=str(fp).encode("ascii"),
                quality=None,
            )
        )
    return rows


class _NewIds:
    """Ids for the batch's new media rows, taken from the sequence before the insert
    (PostgreSQL; ``None``, the database's own, elsewhere). Under Row-Level Security a
    new row is not the ingesting agency's to read until its sighting exists, so an
    ``INSERT ... RETURNING id`` of it would be refused."""

    def __init__(self, s: Session, most: int) -> None:
        self._s, self._most, self._ids = s, most, list[int]()

    def next(self) -> int | None:
        if not self._ids:
            self._ids = new_media_ids(self._s, max(self._most, 1))
            self._most = 0
        return self._ids.pop(0) if self._ids else None


def not_media(r: FileResult) -> bool:
    """True for a file whose content is no picture, video, audio or archive Tessera
    reads (text, checksum lists, documents): it is reported as skipped, and never
    becomes a media item of the database (nor of a series)."""
    return r.status == "error" and NOT_MEDIA in r.flags


Seen = Callable[[Session, set[int]], set[int]]
"""The ids among the given media ids that the ingesting agency sees (``hash`` up)."""


def write_batch(
    s: Session,
    run: IngestRun,
    results: Sequence[FileResult],
    meta: dict[str, FileMeta] | None = None,
    *,
    seen: Seen | None = None,
) -> BatchOutcome:
    """Record ``results`` for ``run`` in the open transaction ``s``.

    Status per path: ``new`` (its content was not in the database before this
    batch, as the ingesting agency sees it), ``known`` (it was, from any run, case
    or agency the agency sees, or earlier in this batch), ``error`` (with the reason;
    exact digests still recorded as media when the file had content) or ``skipped``.

    ``seen`` (the agency's view): content another agency holds unshared is linked by
    its one row but reported ``new``, and a hash-only record the agency cannot see is
    never completed by MD5/SHA-1 alone, as if the other agency held nothing; without
    it (the table owner's tools) everything counts.
    """
    meta = meta or {}
    out = BatchOutcome()
    stored = {r.path: stored_path(r.path) for r in results}  # over-long names shortened
    # Another process resuming the same run may have recorded some of these paths
    # since this batch was read: they are done, and recording them again would break
    # UNIQUE(run_id, path). (The caller holds the writer lock: no race past this point.)
    recorded = recorded_paths(s, run.id, among=list(stored.values()))
    results = [r for r in results if stored[r.path] not in recorded]
    digests = [bytes.fromhex(r.sha256) for r in results if r.sha256 and r.size]
    existing = media_by_sha256(s, digests)
    # content another agency holds unshared (only a caller under Row-Level Security
    # misses it above): the one row of the content, by id, to link this sighting to
    missing = [d for d in digests if d not in existing]
    held = media_ids_by_sha256(s, missing) if missing and reads_filtered(s) else {}
    ids = _NewIds(s, len(digests))
    known = {m.id for m in existing.values()}
    unseen = known - seen(s, known) if seen is not None and known else set()
    unseen.update(held.values())
    series_ids = {run.series_id} if run.series_id else set()
    created: dict[bytes, Media] = {}
    layouts: dict[int, bytes] = {}
    for r in results:
        status = "skipped" if r.status == "skipped" else "error" if r.status == "error" else ""
        if not_media(r):
            status = "skipped"  # a README or checksum list: reported, never stored as media
        media: Media | None = None
        if r.sha256 and r.size and status != "skipped":
            key = bytes.fromhex(r.sha256)
            where = (stored[r.path], meta.get(r.path))
            media = existing.get(key) or created.get(key)
            first = False
            if media is None and key in held:
                first = _sight(s, run, held[key], where, series_ids)
                media = s.get(Media, held[key])
                assert media is not None  # its own sighting shows it now
                existing[key] = media
            elif media is not None:
                first = _sight(s, run, media.id, where, series_ids)
            if media is not None and key in existing and key not in created:
                clear_blind(s, media.id, run.agency_id)  # it has the file now
            if media is not None and media.deleted_at is not None:  # removed by `ingest undo`
                revived = revive_media(s, media)
                out.new_pdq.extend(
                    (f.id, media.id, f.value, f.quality) for f in revived if f.algorithm == "pdq"
                )
                out.new_features.extend(
                    (f.id, media.id, f.value, f.position)
                    for f in revived
                    if f.algorithm == FEATURES_ALGORITHM
                )
                status = status or "new"
            if media is not None and not media.has_content:
                # imported from an exchange file with this SHA-256: the file completes it
                _complete(s, out, r, key, media, agency_id=run.agency_id)
            if media is None and (
                media := hash_only_match(
                    s,
                    bytes.fromhex(r.md5 or "") or None,
                    bytes.fromhex(r.sha1 or "") or None,
                    seen=None if seen is None else lambda ids: seen(s, ids),
                )
            ):  # known from an exchange file by its MD5/SHA-1: the file completes it
                first = _sight(s, run, media.id, where, series_ids)
                _complete(s, out, r, key, media, agency_id=run.agency_id)
                created[key] = media
                status = status or "known"
            if media is None:
                media = Media(
                    id=ids.next(),
                    sha256=key,
                    md5=bytes.fromhex(r.md5 or ""),
                    sha1=bytes.fromhex(r.sha1 or ""),
                    kind=_kind(r),
                    format=r.format,
                    byte_size=r.size,
                    width=r.width,
                    height=r.height,
                    submissions=0,
                    has_content=True,
                )
                s.add(media)
                s.flush()
                created[key] = media
                first = _sight(s, run, media.id, where, series_ids)
                fps = _fingerprints(r, media.id)
                s.add_all(fps)
                s.flush()
                out.new_pdq.extend(
                    (fp.id, media.id, fp.value, fp.quality) for fp in fps if fp.algorithm == "pdq"
                )
                out.new_features.extend(
                    (fp.id, media.id, fp.value, fp.position)
                    for fp in fps
                    if fp.algorithm == FEATURES_ALGORITHM
                )
                _describe(s, r, media.id)
                status = status or "new"
            else:
                # content the agency did not see before: new to it, whoever holds it
                status = status or ("new" if media.id in unseen else "known")
            if first:  # the agency's first sighting of the content: one more submission
                count_submission(s, media)
            if key not in created and media.has_content and r.layout and not r.frames:
                layouts[media.id] = r.layout  # stored before its layout or of an older one
        out.statuses[r.path] = status
        s.add(
            IngestItem(
                run_id=run.id,
                path=stored[r.path],
                status=status,
                media_id=media.id if media is not None else None,
                reason=r.reason if r.status != "ok" else None,
                message=r.message
                if r.status != "ok"
                else ("name shortened for storage" if stored[r.path] != r.path else None),
            )
        )
    s.flush()
    refresh_fingerprints(s, LAYOUT_ALGORITHM, LAYOUT_VERSION, layouts)
    return out


def _sight(
    s: Session,
    run: IngestRun,
    media_id: int,
    where: tuple[str, FileMeta | None],
    series_ids: set[int],
) -> bool:
    """The sighting and series links of a file, before anything else is written about
    its media row: under Row-Level Security they are what makes the row the ingesting
    agency's to read. True at the agency's first sighting of the content."""
    path, at = where
    first = add_sighting(
        s, run, media_id, path, mtime=at.mtime if at else None, ctime=at.ctime if at else None
    )
    for sid in series_ids:
        link_series(s, sid, media_id)
    return first


def _complete(
    s: Session, out: BatchOutcome, r: FileResult, key: bytes, media: Media, *, agency_id: int
) -> None:
    """A hash-only item (imported, no content) gets the facts, fingerprints, metadata
    and text of its now-seen file; the new fingerprints go to the indexes. Other
    agencies' records of it name content this agency now holds: they are capped
    first, keeping what the row said (``cap_other_records``)."""
    cap_other_records(s, media.id, agency_id)
    fps = complete_media(s, media, _content(r, key), _fingerprints(r, media.id))
    out.new_pdq.extend((f.id, media.id, f.value, f.quality) for f in fps if f.algorithm == "pdq")
    out.new_features.extend(
        (f.id, media.id, f.value, f.position) for f in fps if f.algorithm == FEATURES_ALGORITHM
    )
    _describe(s, r, media.id, completing=True)


def _describe(s: Session, r: FileResult, media_id: int, *, completing: bool = False) -> None:
    """Metadata and OCR text rows of a new media item (``completing``: of a hash-only
    one, which a federation record may have given its metadata already)."""
    md = r.metadata
    if (
        md is not None
        and any(v for k, v in md.items() if k not in ("warnings", "xmp"))
        and not (completing and s.get(MediaMetadataModel, media_id) is not None)
    ):
        lens = " ".join(str(md[k]) for k in ("lens_make", "lens_model") if md.get(k)) or None
        s.add(
            MediaMetadataModel(
                media_id=media_id,
                make=md.get("make"),
                model=md.get("model"),
                body_serial=md.get("body_serial"),
                camera_key=md.get("camera_key"),
                lens=lens,
                software=md.get("software"),
                captured_at=md.get("captured_at"),
                latitude=md.get("latitude"),
                longitude=md.get("longitude"),
                data=md,
            )
        )
    if r.text:
        s.add(
            MediaText(
                media_id=media_id,
                position=0,
                engine="tesseract",
                language=r.text_language or "",
                text=" ".join(str(w[4]) for w in r.text),
                boxes=r.text,
            )
        )


def utc_from_timestamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


__all__ = ["BatchOutcome", "FileMeta", "Seen", "utc_from_timestamp", "write_batch"]
