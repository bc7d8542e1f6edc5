"""Writing a batch of fingerprinted files into the shared database, atomically.

One batch is one transaction: media rows (insert-or-reuse by SHA-256),
fingerprints, sightings, series links, submission counts and the run's
``IngestItem`` bookkeeping all commit together or not at all. A run killed at any
moment therefore leaves whole batches only; the re-run skips the paths its items
name and writes the rest, so the database ends with no duplicates and no gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tessera.fingerprints.chromaprint import AudioFingerprint
from tessera.pipeline.result import NOT_MEDIA, FileResult, features_count
from tessera.storage.db import Session
from tessera.storage.exchange import complete_media, hash_only_match
from tessera.storage.ingest_runs import (
    add_sighting,
    clear_blind,
    link_series,
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
from tessera.storage.repo import FEATURES_ALGORITHM, FEATURES_VERSION, media_by_sha256
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


def not_media(r: FileResult) -> bool:
    """True for a file whose content is no picture, video, audio or archive Tessera
    reads (text, checksum lists, documents): it is reported as skipped, and never
    becomes a media item of the database (nor of a series)."""
    return r.status == "error" and NOT_MEDIA in r.flags


def write_batch(
    s: Session,
    run: IngestRun,
    results: Sequence[FileResult],
    meta: dict[str, FileMeta] | None = None,
) -> BatchOutcome:
    """Record ``results`` for ``run`` in the open transaction ``s``.

    Status per path: ``new`` (its content was not in the database before this
    batch), ``known`` (it was, from any run, case or agency, or earlier in this
    batch), ``error`` (with the reason; exact digests still recorded as media when
    the file had content) or ``skipped``.
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
    series_ids = {run.series_id} if run.series_id else set()
    created: dict[bytes, Media] = {}
    for r in results:
        status = "skipped" if r.status == "skipped" else "error" if r.status == "error" else ""
        if not_media(r):
            status = "skipped"  # a README or checksum list: reported, never stored as media
        media: Media | None = None
        if r.sha256 and r.size and status != "skipped":
            key = bytes.fromhex(r.sha256)
            media = existing.get(key) or created.get(key)
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
            if media is None and (
                media := hash_only_match(
                    s, bytes.fromhex(r.md5 or "") or None, bytes.fromhex(r.sha1 or "") or None
                )
            ):  # known from an exchange file by its hashes: the file completes it
                fps = complete_media(s, media, _content(r, key), _fingerprints(r, media.id))
                created[key] = media
                out.new_pdq.extend(
                    (f.id, media.id, f.value, f.quality) for f in fps if f.algorithm == "pdq"
                )
                out.new_features.extend(
                    (f.id, media.id, f.value, f.position)
                    for f in fps
                    if f.algorithm == FEATURES_ALGORITHM
                )
                _describe(s, r, media.id)
                status = status or "known"
            if media is None:
                media = Media(
                    sha256=key,
                    md5=bytes.fromhex(r.md5 or ""),
                    sha1=bytes.fromhex(r.sha1 or ""),
                    kind=_kind(r),
                    format=r.format,
                    byte_size=r.size,
                    width=r.width,
                    height=r.height,
                    submissions=0,
                )
                s.add(media)
                s.flush()
                created[key] = media
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
                status = status or "known"
            seen = meta.get(r.path)
            add_sighting(
                s,
                run,
                media,
                stored[r.path],
                mtime=seen.mtime if seen else None,
                ctime=seen.ctime if seen else None,
            )
            for sid in series_ids:
                link_series(s, sid, media.id)
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
    return out


def _describe(s: Session, r: FileResult, media_id: int) -> None:
    """Metadata and OCR text rows of a new media item."""
    md = r.metadata
    if md is not None and any(v for k, v in md.items() if k not in ("warnings", "xmp")):
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


__all__ = ["BatchOutcome", "FileMeta", "utc_from_timestamp", "write_batch"]
