"""Step 2: exact matches by SHA-256, then MD5 or SHA-1 for the rest."""

from __future__ import annotations

from collections.abc import Sequence

from tessera.matching.triage.report import TriageItem
from tessera.storage import repo
from tessera.storage.db import Database, Session

ExactHits = dict[int, tuple[int, str]]
"""item index -> (media id, digest that matched: sha256, md5 or sha1)."""


def exact_matches(db: Database, items: Sequence[TriageItem]) -> ExactHits:
    """Stored media with the same content as each hashed, non-empty file."""
    with db.session() as s:
        return _exact(s, items)


def _exact(s: Session, items: Sequence[TriageItem]) -> ExactHits:
    hashed = [(i, it.file) for i, it in enumerate(items) if it.file.sha256 and it.file.size]
    raw = {i: _raw(f.sha256, f.md5, f.sha1) for i, f in hashed}
    found = repo.media_ids_by_digests(
        s, (d[0] for d in raw.values()), (d[1] for d in raw.values()), (d[2] for d in raw.values())
    )
    exact: ExactHits = {}
    for i, (sha256, md5, sha1) in raw.items():
        if (m := found.sha256.get(sha256)) is not None:
            exact[i] = (m, "sha256")
        elif (m := found.md5.get(md5)) is not None:
            exact[i] = (m, "md5")
        elif (m := found.sha1.get(sha1)) is not None:
            exact[i] = (m, "sha1")
    return exact


def _raw(*hexes: str | None) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(h or "") for h in hexes)


__all__ = ["ExactHits", "exact_matches"]
