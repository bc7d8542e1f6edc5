"""Triage jobs over the API: one row per job holds its whole state.

The fingerprints a client sent, who sent them, progress, the result and why a job
failed live in ``triage_job``, so a server restarted during a job resumes it (or
fails it with a reason) instead of losing it (``tessera.app.triage_jobs``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "triage_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.String(length=254), nullable=True),
        sa.Column("agency_code", sa.String(length=32), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("fingerprints", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("started_at", _TZ, nullable=True),
        sa.Column("heartbeat_at", _TZ, nullable=True),
        sa.Column("finished_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_triage_job_user_id", "triage_job", ["user_id"])
    op.create_index("ix_triage_job_state", "triage_job", ["state"])


def downgrade() -> None:
    op.drop_index("ix_triage_job_state", table_name="triage_job")
    op.drop_index("ix_triage_job_user_id", table_name="triage_job")
    op.drop_table("triage_job")
