"""Cooperation, second step: deconfliction under RLS, notice dedup, a delivery outbox,
network settings and Baseline reviews.

* PostgreSQL: two SECURITY DEFINER functions let the network service (which RLS
  filters per caller) find which *other* agencies' series or new cases a hit
  touched. They return ids only (series/case, owner agency, media), for the media
  ids they are given, live rows only; names and everything else are read afterwards
  under the identity of the agency being told (``tessera.app.coop``).
* ``notification``: ``dedup_key``, ``count`` and ``updated_at``: a re-run of the
  same triage updates one notice instead of raising another.
* ``delivery_outbox``: one row per notification and channel still to deliver (or
  delivered / given up), so pending deliveries survive a restart and are retried
  with back-off; ``delivery_attempt`` keeps logging each try.
* ``network_setting``: operator-set values for the whole network (flood thresholds).
* ``baseline_review``: a Baseline item disputed, or a Baseline series without
  confirmations from two countries, flagged for its owner's review.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_FUNCTIONS = [
    """
CREATE FUNCTION tessera_series_hits(p_media bigint[])
RETURNS TABLE(series_id bigint, owner_id bigint, media_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT s.id::bigint, s.agency_id::bigint, sm.media_id::bigint
    FROM series_media sm JOIN series s ON s.id = sm.series_id
   WHERE sm.media_id = ANY(p_media) AND sm.deleted_at IS NULL AND s.deleted_at IS NULL
$$
""",
    """
CREATE FUNCTION tessera_new_case_hits(p_media bigint[], p_exclude bigint)
RETURNS TABLE(case_id bigint, owner_id bigint, media_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT DISTINCT g.case_id::bigint, g.agency_id::bigint, g.media_id::bigint
    FROM sighting g
   WHERE g.media_id = ANY(p_media) AND g.deleted_at IS NULL AND g.agency_id <> p_exclude
     AND NOT EXISTS (SELECT 1 FROM series_media sm
                      WHERE sm.media_id = g.media_id AND sm.deleted_at IS NULL)
$$
""",
]
_FUNCTION_NAMES = ["tessera_series_hits(bigint[])", "tessera_new_case_hits(bigint[], bigint)"]


def upgrade() -> None:
    with op.batch_alter_table("notification") as b:
        b.add_column(sa.Column("dedup_key", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="1"))
        b.add_column(sa.Column("updated_at", _TZ, nullable=True))
    op.create_index("ix_notification_dedup_key", "notification", ["dedup_key"])
    op.create_index("ix_notification_user_id", "notification", ["user_id"])
    op.create_table(
        "delivery_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", _TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("done_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "channel", name="uq_delivery_outbox_channel"),
    )
    op.create_index("ix_delivery_outbox_state_next", "delivery_outbox", ["state", "next_at"])
    op.create_table(
        "network_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "baseline_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("media_id", _BIG, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_at", _TZ, nullable=False),
        sa.Column("resolved_at", _TZ, nullable=True),
        sa.Column("resolved_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_baseline_review_series_id", "baseline_review", ["series_id"])
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _FUNCTIONS:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for fn in _FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.drop_index("ix_baseline_review_series_id", table_name="baseline_review")
    op.drop_table("baseline_review")
    op.drop_table("network_setting")
    op.drop_index("ix_delivery_outbox_state_next", table_name="delivery_outbox")
    op.drop_table("delivery_outbox")
    op.drop_index("ix_notification_user_id", table_name="notification")
    op.drop_index("ix_notification_dedup_key", table_name="notification")
    with op.batch_alter_table("notification") as b:
        b.drop_column("updated_at")
        b.drop_column("count")
        b.drop_column("dedup_key")
