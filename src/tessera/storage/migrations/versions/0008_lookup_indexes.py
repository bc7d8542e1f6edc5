"""Indexes for the lookup read path.

Every matched media item is mapped to the series holding it
(``storage.sharing.containers_of_media``, ``storage.coop.series_hits``,
``repo.series_of_media``) by ``series_media.media_id``; the table's primary key
is (series_id, media_id), so without this index each of those lookups scanned
the whole table (114 ms -> 41 ms for one lookup at 300k media, README).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_series_media_media_id", "series_media", ["media_id"])


def downgrade() -> None:
    op.drop_index("ix_series_media_media_id", table_name="series_media")
