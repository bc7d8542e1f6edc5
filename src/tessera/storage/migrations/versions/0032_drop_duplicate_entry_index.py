"""Drop ``ix_exchange_entry_media_id``: ``uq_exchange_entry_media_id`` already covers it.

The unique constraint on ``exchange_entry (media_id, agency_id)`` (migration 0004)
has its own index, whose leading column serves every lookup by ``media_id`` (the
import's existence checks, export's range reads, the RLS level functions' ``e.media_id
= p_media``); the plain index on ``media_id`` beside it only cost one more B-tree
insert per imported record. Export read entries in that index's (media_id, id)
order to let the lowest id win among equal candidates; it now picks the lowest id
itself (``tessera.storage.exchange.export._load``), so its output is byte-identical.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_exchange_entry_media_id", table_name="exchange_entry")


def downgrade() -> None:
    op.create_index("ix_exchange_entry_media_id", "exchange_entry", ["media_id"])
