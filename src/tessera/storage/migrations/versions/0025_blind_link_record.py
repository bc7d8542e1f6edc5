"""What an agency's own record said of content it links blind.

A blind link (migration 0019) capped the agency's view of another agency's hidden
item at ``status``, but the media row's global columns still showed: MD5/SHA-1 that
came from the other agency's file, its kind, size, submissions and first sighting.
The link now keeps what the agency's record carried (its digests, kind and size)
and when it linked, so reads show the agency those instead of the row's.

Rows linked before this migration have no recorded digests (NULL): they show none,
which is less than the record said, never more.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_COLUMNS = ("sha256", "sha1", "md5", "kind", "byte_size", "linked_at")


def upgrade() -> None:
    with op.batch_alter_table("blind_link") as b:
        b.add_column(sa.Column("sha256", sa.LargeBinary(32), nullable=True))
        b.add_column(sa.Column("sha1", sa.LargeBinary(20), nullable=True))
        b.add_column(sa.Column("md5", sa.LargeBinary(16), nullable=True))
        b.add_column(sa.Column("kind", sa.String(16), nullable=True))
        b.add_column(sa.Column("byte_size", sa.BigInteger(), nullable=True))
        b.add_column(
            sa.Column(
                "linked_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("blind_link") as b:
        for name in reversed(_COLUMNS):
            b.drop_column(name)
