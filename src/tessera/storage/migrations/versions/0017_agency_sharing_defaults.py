"""Per-agency sharing defaults: the grant a new series or case of the agency gets;
and indexes for the web's media grid sorted by size, first sighting, agencies, kind.

Without a row (or with a NULL level) nothing changes: a series with no grant is
seen at ``status`` by the network and a case at ``none`` (``app.visibility``).
With one, creating a series (case) of the agency writes a network-wide grant at
the chosen level in the same transaction, so the rules and PostgreSQL's row-level
security read it like any grant set by hand.

The grid of a 100k-media series sorted by file size cost ~80-150 ms of CPU (a
sort of every member) without ``ix_media_byte_size``, ~0.1 ms with it.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-05 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None

_GRID = (
    ("ix_media_byte_size", "byte_size"),
    ("ix_media_first_seen_at", "first_seen_at"),
    ("ix_media_submissions", "submissions"),
    ("ix_media_kind", "kind"),
)


def upgrade() -> None:
    op.create_table(
        "agency_sharing_default",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("series_level", sa.String(8), nullable=True),
        sa.Column("case_level", sa.String(8), nullable=True),
        sa.Column("set_by", sa.String(254), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("agency_id"),
    )
    for name, column in _GRID:
        op.create_index(name, "media", [column, "id"])


def downgrade() -> None:
    for name, _ in _GRID:
        op.drop_index(name, table_name="media")
    op.drop_table("agency_sharing_default")
