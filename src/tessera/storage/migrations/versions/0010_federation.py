"""Federation: peers, federated records, the hub's log of accepted deltas, the outbox.

``fed_peer`` names each hub or node we exchange with (URL, Ed25519 verifier key)
and where the exchange stands (the last checkpoint of its log we accepted, our
feed cursor, the last delta it accepted from us). ``fed_record`` holds federated
records keyed by (origin node, origin id) at their newest version; ``fed_log`` is
the hub's append-only RFC 9162 log, one leaf per accepted delta, each with its
signed checkpoint. ``fed_sent`` / ``fed_outbox`` are a node's own side: what it
last sent of each record, and the prepared delta the hub has not yet accepted
(resent byte for byte, so a kill at any point delivers each change once).

Revision ID: 0010
Revises: 0013
Create Date: 2026-12-04 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0013"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fed_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("verifier", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_root", sa.LargeBinary(length=32), nullable=True),
        sa.Column("checkpoint_note", sa.Text(), nullable=True),
        sa.Column("feed_after", sa.BigInteger(), nullable=False),
        sa.Column("feed_cursor", sa.BigInteger(), nullable=False),
        sa.Column("last_delta", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fed_peer")),
        sa.UniqueConstraint("name", name=op.f("uq_fed_peer_name")),
        sa.UniqueConstraint("origin", name=op.f("uq_fed_peer_origin")),
    )
    op.create_table(
        "fed_record",
        sa.Column("id", _BIGID, nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("origin_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("series_key", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("local_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fed_record")),
        sa.UniqueConstraint("origin", "origin_id", name=op.f("uq_fed_record_origin")),
    )
    op.create_index("ix_fed_record_log_seq_kind_id", "fed_record", ["log_seq", "kind", "id"])
    op.create_table(
        "fed_agency",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_fed_agency_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_fed_agency")),
    )
    op.create_table(
        "fed_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("delta_no", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("accepted_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fed_log")),
        sa.UniqueConstraint("origin", "delta_no", name=op.f("uq_fed_log_origin")),
    )
    op.create_table(
        "fed_sent",
        sa.Column("origin_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("origin_id", name=op.f("pk_fed_sent")),
    )
    op.create_table(
        "fed_outbox",
        sa.Column("delta_no", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("delta_no", name=op.f("pk_fed_outbox")),
    )


def downgrade() -> None:
    op.drop_table("fed_outbox")
    op.drop_table("fed_sent")
    op.drop_table("fed_log")
    op.drop_table("fed_agency")
    op.drop_index("ix_fed_record_log_seq_kind_id", table_name="fed_record")
    op.drop_table("fed_record")
    op.drop_table("fed_peer")
