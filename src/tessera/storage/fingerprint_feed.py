"""Following the fingerprint table from another process: new rows, late rows, hits.

A server worker keeps its PDQ index fresh by reading what was committed since it
last looked. Row ids are not committed in id order on PostgreSQL (two writers
take ids 100 and 101; 101 may commit first), so a reader that only asked for
``id > last`` would skip 100 for ever. ``ids_after`` therefore returns the ids of
*every* algorithm (the table shares one id sequence): a hole in that sequence is
an id whose transaction is still open (or was rolled back), and the reader asks
for those ids again with ``pdq_rows_by_id`` until they appear or expire.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from tessera.storage import prepared
from tessera.storage.models import FingerprintModel, Media

PdqRow = tuple[int, int, bytes, int | None]
"""(fingerprint id, media id, 32-byte PDQ value, quality)."""

_CHUNK = 500


def max_id(s: Session) -> int:
    """Highest fingerprint id of any algorithm (0 when the table is empty)."""
    return int(s.scalar(select(func.max(FingerprintModel.id))) or 0)


def ids_after(s: Session, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, algorithm) of fingerprints with id > after_id, in id order, at most ``limit``."""
    rows = s.execute(
        select(FingerprintModel.id, FingerprintModel.algorithm)
        .where(FingerprintModel.id > after_id)
        .order_by(FingerprintModel.id)
        .limit(limit)
    )
    return [(int(i), str(a)) for i, a in rows]


def rows_by_id(s: Session, ids: Iterable[int]) -> tuple[list[int], list[PdqRow]]:
    """Of ``ids``: those that exist (any algorithm), and the PDQ rows among them."""
    present: list[int] = []
    pdq: list[PdqRow] = []
    wanted = sorted(set(ids))
    for i in range(0, len(wanted), _CHUNK):
        rows = s.execute(
            select(
                FingerprintModel.id,
                FingerprintModel.algorithm,
                FingerprintModel.media_id,
                FingerprintModel.value,
                FingerprintModel.quality,
            ).where(FingerprintModel.id.in_(wanted[i : i + _CHUNK]))
        )
        for fid, algorithm, media_id, value, quality in rows:
            present.append(int(fid))
            if algorithm == "pdq":
                pdq.append((int(fid), int(media_id), bytes(value), quality))
    pdq.sort()
    return present, pdq


_HIT_INFO = (
    select(
        FingerprintModel.id,
        FingerprintModel.media_id,
        FingerprintModel.quality,
        FingerprintModel.position,
    )
    .join(Media, Media.id == FingerprintModel.media_id)
    .where(FingerprintModel.id.in_(prepared.ids_param()), Media.deleted_at.is_(None))
)


def pdq_hit_info(
    s: Session | Connection, ids: Iterable[int]
) -> dict[int, tuple[int, int | None, int]]:
    """fingerprint id -> (media id, quality, position) for PDQ index hits (hits on
    soft-deleted media are left out: an index may still hold them)."""
    out: dict[int, tuple[int, int | None, int]] = {}
    for chunk in prepared.chunks(ids, _CHUNK):
        for fid, media_id, quality, position in prepared.rows(s, _HIT_INFO, ids=chunk):
            out[int(fid)] = (int(media_id), quality, int(position))
    return out


__all__ = ["PdqRow", "ids_after", "max_id", "pdq_hit_info", "rows_by_id"]
