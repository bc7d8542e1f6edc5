"""The PDQ and opaque hashes an agency's own record gave of content it links blind.

Migration 0025 kept the digests, kind and size the agency's record carried, but its
exports of such an item still took the PDQ, PhotoDNA and other opaque hashes from
the media row's fingerprints: a PDQ computed from the other agency's file, or that
agency's imported PhotoDNA, left in the agency's hash list, TE CSV, bundle and VICS
files. The link now keeps the record's own hashes as a JSON list of
``[algorithm, value]`` pairs (PDQ in hex, the others as received), and reads narrow
to them. The column is on ``blind_link`` itself, so its Row-Level Security policy
(each agency reads and writes its own links only, 0019) covers it unchanged.

Links made before this migration have NULL: they show no hashes (less than the
record said, never more).

Revision ID: 0026
Revises: 0029
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blind_link") as b:
        b.add_column(sa.Column("hashes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("blind_link") as b:
        b.drop_column("hashes")
