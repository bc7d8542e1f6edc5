"""Soft deletes: who removed what and when, so every removal can be undone.

``series``, ``media``, ``sighting`` and ``series_media`` get ``deleted_at`` /
``deleted_by``; ``ingest_run`` gets ``undone_at`` / ``undone_by``
(``tessera ingest undo``). Rows are never dropped: read paths leave marked rows
out. ``sighting.run_id`` is indexed because undo and ``tessera runs`` go by run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SOFT = ("series", "media", "sighting", "series_media")


def upgrade() -> None:
    for table in _SOFT:
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("deleted_by", sa.String(length=200), nullable=True))
    op.add_column("ingest_run", sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("ingest_run", sa.Column("undone_by", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_sighting_run_id"), "sighting", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sighting_run_id"), table_name="sighting")
    with op.batch_alter_table("ingest_run") as batch:
        batch.drop_column("undone_by")
        batch.drop_column("undone_at")
    for table in reversed(_SOFT):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_by")
            batch.drop_column("deleted_at")
