"""Reviewer wellness settings, one row per user (the web UI's defaults otherwise).

A user without a row gets the protective defaults: pictures blurred until
revealed, duplicates collapsed, colour kept. A row records what the user chose.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviewer_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("blur", sa.Boolean(), nullable=False),
        sa.Column("greyscale", sa.Boolean(), nullable=False),
        sa.Column("dedup", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("reviewer_preference")
