"""Federation without trusting the hub blindly, and cooperation across nodes.

``fed_log.attest`` keeps, for each accepted delta, the origin's signed manifest
(which lists a digest of every record in it) so the hub can forward it with the
records and each receiving node re-verifies the origin's signature itself.
``fed_peer.country`` / ``fed_peer.agencies``: what a hub's operator says a node
serves, so series shared with listed countries / agencies reach only those nodes.
``fed_notice``: blind-hit notices between nodes (node -> hub -> origin node), keyed
by (sender, notice id) so each is stored once wherever it passes.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("fed_log") as t:
        t.add_column(sa.Column("attest", sa.Text(), nullable=True))
    with op.batch_alter_table("fed_peer") as t:
        t.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        t.add_column(sa.Column("agencies", sa.JSON(), nullable=True))
    op.create_table(
        "fed_notice",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("sender", sa.String(length=200), nullable=False),
        sa.Column("notice_id", sa.String(length=100), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("carried_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fed_notice")),
        sa.UniqueConstraint("sender", "notice_id", name=op.f("uq_fed_notice_sender")),
    )
    op.create_index("ix_fed_notice_carried_by", "fed_notice", ["carried_by"])


def downgrade() -> None:
    op.drop_index("ix_fed_notice_carried_by", table_name="fed_notice")
    op.drop_table("fed_notice")
    with op.batch_alter_table("fed_peer") as t:
        t.drop_column("agencies")
        t.drop_column("country")
    with op.batch_alter_table("fed_log") as t:
        t.drop_column("attest")
