"""Matches on content an agency sees only through its own record (a blind link).

Rule 6 of ``tessera.app.visibility``: where an agency sees a media item only through
its blind link, the row's MD5/SHA-1, its PDQ, its scene features and its colour
layout came with another agency's file. Comparing a query with them would tell the
agency something of that file: that an MD5 it never gave belongs to the content it
named by SHA-256, or that the other agency's picture looks like one of its own.

So such an item matches only by what the agency's own record said (its digests and
its PDQ, ``BlindRecord``), at the distance from that record; a match that only the
other agency's fingerprints support (another digest, their PDQ, local features,
layouts, video frames, audio) is left out, as if that agency held nothing. The
answer is then the one the agency would get from its own records alone.
"""

from __future__ import annotations

from tessera.storage.sharing import BlindRecord

EXACT = ("sha256", "sha1", "md5")


def _bits(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def own_distance(own: BlindRecord, kind: str, value: bytes) -> int | None:
    """How far ``value`` (a ``kind`` hash, raw bytes) is from what the agency's own
    record said: 0 for an equal digest, the PDQ distance to its nearest own PDQ;
    None when its record says nothing of that kind or another digest."""
    if kind in EXACT:
        said = getattr(own, kind)
        return 0 if said is not None and said == value else None
    if kind == "pdq" and len(value) == 32:
        mine = [bytes.fromhex(v) for a, v in own.hashes if a == "pdq" and len(v) == 64]
        return min((_bits(value, p) for p in mine), default=None)
    return None


def own_match(own: BlindRecord, kind: str, value: bytes | None, radius: int) -> int | None:
    """The distance to report for a match, by a ``kind`` hash ``value``, of an item the
    caller sees through its blind link only: from its own record, within ``radius``;
    None to leave the match out."""
    if value is None:
        return None
    d = own_distance(own, kind, value)
    return d if d is not None and d <= radius else None


__all__ = ["EXACT", "own_distance", "own_match"]
