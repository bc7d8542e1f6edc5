"""A later ingest of the file itself: the hash-only media item (imported, no content
yet) a file's digests name, given the facts of its now-seen file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tessera.storage.models import FingerprintModel, Media


def hash_only_match(
    s: Session,
    md5: bytes | None,
    sha1: bytes | None,
    *,
    seen: Callable[[set[int]], set[int]] | None = None,
) -> Media | None:
    """The hash-only media item (imported, no content yet) a file's digests name;
    with ``seen``, only among the items it says the ingesting agency sees (MD5/SHA-1
    alone never link to another agency's hidden record, as in an import)."""
    conds: list[Any] = []
    if md5:
        conds.append(Media.md5 == md5)
    if sha1:
        conds.append(Media.sha1 == sha1)
    if not conds:
        return None
    q = select(Media).where(Media.has_content.is_(False), or_(*conds)).order_by(Media.id)
    fits = [
        m
        for m in s.scalars(q.limit(8))
        if (m.md5 is None or md5 is None or m.md5 == md5)
        and (m.sha1 is None or sha1 is None or m.sha1 == sha1)
    ]
    if seen is not None and fits:
        visible = seen({m.id for m in fits})
        fits = [m for m in fits if m.id in visible]
    return fits[0] if fits else None


def complete_media(
    s: Session, media: Media, content: dict[str, Any], fingerprints: Sequence[FingerprintModel]
) -> list[FingerprintModel]:
    """Give a hash-only item the facts of its now-seen file; add the fingerprints it
    lacks (an imported PDQ or PhotoDNA stays as received). Returns those added."""
    for key, value in content.items():
        setattr(media, key, value)
    media.has_content = True
    have = {
        (a, v, p)
        for a, v, p in s.execute(
            select(
                FingerprintModel.algorithm, FingerprintModel.version, FingerprintModel.position
            ).where(FingerprintModel.media_id == media.id)
        )
    }
    added = [fp for fp in fingerprints if (fp.algorithm, fp.version, fp.position or 0) not in have]
    s.add_all(added)
    s.flush()
    return added


__all__ = [
    "complete_media",
    "hash_only_match",
]
