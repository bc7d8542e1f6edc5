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
    hashed = [it for it in items if it.file.sha256 and it.file.size]
    by_sha = repo.media_by_digest(
        s, "sha256", [bytes.fromhex(it.file.sha256 or "") for it in hashed]
    )
    exact: ExactHits = {}
    for idx, it in enumerate(items):
        f = it.file
        if f.sha256 and f.size and (m := by_sha.get(bytes.fromhex(f.sha256))) is not None:
            exact[idx] = (m.id, "sha256")
    rest = [i for i, it in enumerate(items) if i not in exact and it.file.sha256 and it.file.size]
    by_md5 = repo.media_by_digest(s, "md5", [bytes.fromhex(items[i].file.md5 or "") for i in rest])
    by_sha1 = repo.media_by_digest(
        s, "sha1", [bytes.fromhex(items[i].file.sha1 or "") for i in rest]
    )
    for i in rest:
        f = items[i].file
        m = by_md5.get(bytes.fromhex(f.md5 or "")) or by_sha1.get(bytes.fromhex(f.sha1 or ""))
        if m is not None:
            exact[i] = (m.id, "md5" if bytes.fromhex(f.md5 or "") in by_md5 else "sha1")
    return exact


__all__ = ["ExactHits", "exact_matches"]
