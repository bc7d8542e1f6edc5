"""Cooperation between agencies: overlaps, notifications and their delivery.

``overlap`` records where two agencies' work met (a finder's files hit an owner's
series, or two agencies submitted the same new media); ``notification`` (+ who
read it) tells each side; ``agency_delivery`` says where an agency's
notifications also go (webhook, e-mail) and ``delivery_attempt`` logs every try.
``media_verdict`` holds each agency's confirmation or dispute of a media item,
``negative_hash`` the network's and agencies' never-match lists, ``hit_log`` and
``quarantine`` the flood guard's counts and quarantined media.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "overlap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("owner_case_id", sa.Integer(), nullable=True),
        sa.Column("finder_agency_id", sa.Integer(), nullable=False),
        sa.Column("finder_case_id", sa.Integer(), nullable=True),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("found_at", _TZ, nullable=False),
        sa.Column("owner_mark", sa.String(length=24), nullable=True),
        sa.Column("owner_note", sa.Text(), nullable=True),
        sa.Column("finder_mark", sa.String(length=24), nullable=True),
        sa.Column("finder_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["finder_agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["series_id"], ["series.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["finder_case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_overlap_owner_agency_id", "overlap", ["owner_agency_id"])
    op.create_index("ix_overlap_finder_agency_id", "overlap", ["finder_agency_id"])
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("overlap_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["overlap_id"], ["overlap.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_agency_id", "notification", ["agency_id"])
    op.create_table(
        "notification_read",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("reader", sa.String(length=254), nullable=False),
        sa.Column("read_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notification_id", "reader"),
    )
    op.create_table(
        "agency_delivery",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("email_to", sa.Text(), nullable=True),
        sa.Column("smtp_host", sa.String(length=253), nullable=True),
        sa.Column("smtp_port", sa.Integer(), nullable=True),
        sa.Column("smtp_from", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("agency_id"),
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_delivery_attempt_notification_id", "delivery_attempt", ["notification_id"])

    op.create_table(
        "media_verdict",
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by", sa.String(length=254), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("media_id", "agency_id"),
    )
    op.create_table(
        "negative_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=254), nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "hit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("query_key", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agency_id"], ["agency.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hit_log_media_id", "hit_log", ["media_id"])
    op.create_table(
        "quarantine",
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", _TZ, nullable=False),
        sa.Column("released_at", _TZ, nullable=True),
        sa.Column("released_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("media_id"),
    )


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_index("ix_hit_log_media_id", table_name="hit_log")
    op.drop_table("hit_log")
    op.drop_table("negative_hash")
    op.drop_table("media_verdict")
    op.drop_index("ix_delivery_attempt_notification_id", table_name="delivery_attempt")
    op.drop_table("delivery_attempt")
    op.drop_table("agency_delivery")
    op.drop_table("notification_read")
    op.drop_index("ix_notification_agency_id", table_name="notification")
    op.drop_table("notification")
    op.drop_index("ix_overlap_finder_agency_id", table_name="overlap")
    op.drop_index("ix_overlap_owner_agency_id", table_name="overlap")
    op.drop_table("overlap")
