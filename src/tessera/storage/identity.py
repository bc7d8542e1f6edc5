"""Which media row holds a content key, whoever's it is: ids only.

A media item's SHA-256 is unique across the node, and so is an imported opaque
hash's key (``exchange_hash``): one piece of content, one row, however many
agencies hold it. What an agency may *see* of a row comes from its own links and
the sharing rules, not from the row. A writer that is about to create a row for a
key must therefore find the row that already holds it, including one it may not
see; under PostgreSQL Row-Level Security that goes through the SECURITY DEFINER
functions of migration 0019, elsewhere (SQLite, the table owner) through a plain
query. Only ids come back: the caller links its own record to them and learns
nothing else (what it may see afterwards follows from that link alone).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from tessera.storage.bulk import Bulk


def media_ids_by_sha256(s: Session, digests: Iterable[bytes]) -> dict[bytes, int]:
    """SHA-256 -> id of the media row holding it, among ``digests`` (soft-deleted rows
    included: the key is still taken)."""
    return _ids(
        s,
        digests,
        pg="SELECT sha256, media_id FROM tessera_media_by_sha256(%s)",
        other="SELECT sha256, id FROM media WHERE",
        column="sha256",
    )


def reads_filtered(s: Session) -> bool:
    """True when this transaction reads ``media`` through Row-Level Security (the
    network service's role on PostgreSQL): only then can a plain query miss a row
    that holds a key. The table owner and SQLite read every row."""
    if s.get_bind().dialect.name != "postgresql":
        return False
    return bool(s.execute(text("SELECT row_security_active('media')")).scalar())


def media_ids_by_hash_key(s: Session, keys: Iterable[bytes]) -> dict[bytes, int]:
    """``exchange_hash`` key -> id of the media row it names, among ``keys``."""
    return _ids(
        s,
        keys,
        pg="SELECT key, media_id FROM tessera_media_by_hash_key(%s)",
        other="SELECT key, media_id FROM exchange_hash WHERE",
        column="key",
    )


def _ids(
    s: Session, keys: Iterable[bytes], *, pg: str, other: str, column: str
) -> dict[bytes, int]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    b = Bulk(s)
    if b.pg:
        rows = [
            r for i in range(0, len(wanted), 50_000) for r in b.rows(pg, (wanted[i : i + 50_000],))
        ]
    else:
        rows = list(b.where_in(other, column, wanted, sql_type="BYTEA"))
    return {bytes(k): int(m) for k, m in rows}


__all__ = ["media_ids_by_hash_key", "media_ids_by_sha256", "reads_filtered"]
