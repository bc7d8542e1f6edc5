"""Similar features: OCR text (full-text indexed), camera/GPS metadata, markers.

Local features need no table: they are ``fingerprint`` rows with algorithm
``rootsift``. Full text is dialect-specific: an FTS5 external-content table kept
in step by triggers on SQLite, a GIN expression index on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE media_text_fts USING fts5("
    "text, content='media_text', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER media_text_ai AFTER INSERT ON media_text BEGIN "
    "INSERT INTO media_text_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER media_text_ad AFTER DELETE ON media_text BEGIN "
    "INSERT INTO media_text_fts(media_text_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER media_text_au AFTER UPDATE ON media_text BEGIN "
    "INSERT INTO media_text_fts(media_text_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO media_text_fts(rowid, text) VALUES (new.id, new.text); END",
]


def upgrade() -> None:
    op.create_table(
        "media_text",
        sa.Column("id", BigId, nullable=False),
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_media_text_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_text")),
        sa.UniqueConstraint("media_id", "position", "engine", name=op.f("uq_media_text_media_id")),
    )
    op.create_table(
        "media_metadata",
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("make", sa.String(length=256), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("body_serial", sa.String(length=256), nullable=True),
        sa.Column("camera_key", sa.String(length=128), nullable=True),
        sa.Column("lens", sa.String(length=256), nullable=True),
        sa.Column("software", sa.String(length=256), nullable=True),
        sa.Column("captured_at", sa.String(length=40), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_media_metadata_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_media_metadata")),
    )
    op.create_index(
        op.f("ix_media_metadata_camera_key"), "media_metadata", ["camera_key"], unique=False
    )
    op.create_index(
        "ix_media_metadata_lat_lon", "media_metadata", ["latitude", "longitude"], unique=False
    )
    op.create_table(
        "marker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("x0", sa.Integer(), nullable=False),
        sa.Column("y0", sa.Integer(), nullable=False),
        sa.Column("x1", sa.Integer(), nullable=False),
        sa.Column("y1", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("features", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_marker_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["location.id"], name=op.f("fk_marker_location_id_location")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_marker_media_id_media"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_marker_series_id_series")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marker")),
    )
    op.create_index(op.f("ix_marker_media_id"), "marker", ["media_id"], unique=False)
    op.create_index(op.f("ix_marker_series_id"), "marker", ["series_id"], unique=False)
    op.create_index(op.f("ix_marker_location_id"), "marker", ["location_id"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for stmt in _SQLITE_FTS:
            op.execute(stmt)
    else:
        op.execute(
            "CREATE INDEX ix_media_text_fts ON media_text USING gin (to_tsvector('simple', text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("media_text_ai", "media_text_ad", "media_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS media_text_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_media_text_fts")
    op.drop_table("marker")
    op.drop_index("ix_media_metadata_lat_lon", table_name="media_metadata")
    op.drop_index(op.f("ix_media_metadata_camera_key"), table_name="media_metadata")
    op.drop_table("media_metadata")
    op.drop_table("media_text")
