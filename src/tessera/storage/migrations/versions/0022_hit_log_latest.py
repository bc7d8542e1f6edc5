"""Flood guard hit log: one row per (media item, query key, agency), at its latest hit.

Every matching lookup logged a row per (item, query hash), so a hash asked again and
again grew ``hit_log`` without bound, and each flood count (distinct query keys and
agencies of an item within the window, after its last release) read every repeat.
A key's latest hit falls in a window ending now exactly when any of its hits does,
so keeping only the latest time of each (item, key, agency) gives the same counts;
lookups now upsert it (``ON CONFLICT ... DO UPDATE SET at``, SQLite and PostgreSQL).

Upgrade gives each triple's rows their latest time, keeps one row per triple and
makes the triple unique; downgrade drops the unique index (the rows stay valid).

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-05 23:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEX = "uq_hit_log_media_key_agency"


def upgrade() -> None:
    op.execute(
        "UPDATE hit_log SET at = (SELECT max(h.at) FROM hit_log h"
        " WHERE h.media_id = hit_log.media_id AND h.query_key = hit_log.query_key"
        " AND h.agency_id = hit_log.agency_id)"
    )
    op.execute(
        "DELETE FROM hit_log WHERE id NOT IN"
        " (SELECT max(id) FROM hit_log GROUP BY media_id, query_key, agency_id)"
    )
    op.create_index(INDEX, "hit_log", ["media_id", "query_key", "agency_id"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="hit_log")
