"""Hash-only media and exchange entries.

Imported exchange files (VICS, ICSE CSV, hash lists, NCMEC) describe media by
whichever digests they carry, often MD5/SHA-1 only: ``media.sha256``, ``md5``,
``sha1`` and ``byte_size`` become nullable and ``has_content`` tells media seen
as files from media known by hashes. ``exchange_entry`` keeps what each agency's
file said about a media item; ``exchange_hash`` finds media by imported hashes
that have no column (PDQ, PhotoDNA, NetClean...).

SQLite cannot drop NOT NULL in place, and rebuilding ``media`` (Alembic's batch
mode) would run the ON DELETE CASCADE of every table pointing at it while
foreign keys are on. So on SQLite the NOT NULLs are removed from the stored
CREATE TABLE text (the procedure SQLite documents for removing NOT NULL
constraints: writable_schema plus a schema_version bump); the on-disk format is
unchanged.

Revision ID: 0004
Revises: 0006
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NULLABLE = (
    ("sha256", sa.LargeBinary(length=32), "BLOB"),
    ("md5", sa.LargeBinary(length=16), "BLOB"),
    ("sha1", sa.LargeBinary(length=20), "BLOB"),
    ("byte_size", sa.BigInteger(), "BIGINT"),
)


def _sqlite_drop_not_null() -> None:
    conn = op.get_bind()
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'media'").scalar_one()
    new = sql
    for name, _, sqltype in _NULLABLE:
        new = new.replace(f"{name} {sqltype} NOT NULL", f"{name} {sqltype}")
    if new == sql:
        return
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'media'", (new,)
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_drop_not_null()
    else:
        for name, sqltype, _ in _NULLABLE:
            op.alter_column("media", name, existing_type=sqltype, nullable=True)
    op.add_column(
        "media",
        sa.Column("has_content", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_table(
        "exchange_entry",
        sa.Column("id", BigId, nullable=False),
        sa.Column("media_id", BigId, nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=512), nullable=True),
        sa.Column("category_profile", sa.String(length=32), nullable=True),
        sa.Column("category", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_exchange_entry_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exchange_entry_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_exchange_entry_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_entry")),
        sa.UniqueConstraint("media_id", "agency_id", name=op.f("uq_exchange_entry_media_id")),
    )
    op.create_index("ix_exchange_entry_agency_source", "exchange_entry", ["agency_id", "source_id"])
    op.create_index(op.f("ix_exchange_entry_media_id"), "exchange_entry", ["media_id"])
    op.create_table(
        "exchange_hash",
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("media_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_exchange_hash_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_exchange_hash")),
    )
    op.create_index(op.f("ix_exchange_hash_media_id"), "exchange_hash", ["media_id"])
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _PG_SHARING:
            op.execute(stmt)


# Sharing (migration 0006, added by "sharing"): an agency's imported record is its own
# sighting of the media (full to it), filed under a case it counts as one in that case;
# the rows get the same Row-Level Security as sightings and fingerprints.
_MEDIA_LEVEL = """
CREATE OR REPLACE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(max(l), 0) FROM (
    SELECT tessera_series_level(sm.series_id) AS l FROM series_media sm
     WHERE sm.media_id = p_media
    UNION ALL
    SELECT tessera_case_level(g.case_id) FROM sighting g WHERE g.media_id = p_media
    {extra}
  ) x
$$
"""
_ENTRY_LEVEL = """
    UNION ALL
    SELECT CASE WHEN e.agency_id = tessera_caller_agency() THEN 3
                ELSE coalesce(tessera_case_level(e.case_id), 0) END
      FROM exchange_entry e WHERE e.media_id = p_media
"""
_MEDIA_OWNED = """
CREATE OR REPLACE FUNCTION tessera_media_owned(p_media bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT EXISTS (SELECT 1 FROM sighting g WHERE g.media_id = p_media
                   AND g.agency_id = tessera_caller_agency())
      OR EXISTS (SELECT 1 FROM series_media sm JOIN series s ON s.id = sm.series_id
                  WHERE sm.media_id = p_media AND s.agency_id = tessera_caller_agency())
      {extra}
$$
"""
_ENTRY_OWNED = """
      OR EXISTS (SELECT 1 FROM exchange_entry e WHERE e.media_id = p_media
                   AND e.agency_id = tessera_caller_agency())
"""
_PG_SHARING = [
    _MEDIA_LEVEL.format(extra=_ENTRY_LEVEL),
    _MEDIA_OWNED.format(extra=_ENTRY_OWNED),
    "ALTER TABLE exchange_entry ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY tessera_read ON exchange_entry FOR SELECT USING "
    "(agency_id = tessera_caller_agency() OR tessera_media_level(media_id) = 3)",
    "CREATE POLICY tessera_write ON exchange_entry FOR ALL "
    "USING (agency_id = tessera_caller_agency()) WITH CHECK (agency_id = tessera_caller_agency())",
    "ALTER TABLE exchange_hash ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY tessera_read ON exchange_hash FOR SELECT USING "
    "(tessera_media_level(media_id) >= 1)",
    "CREATE POLICY tessera_insert ON exchange_hash FOR INSERT WITH CHECK (tessera_has_caller())",
    "CREATE POLICY tessera_change ON exchange_hash FOR UPDATE USING "
    "(tessera_media_owned(media_id)) WITH CHECK (tessera_media_owned(media_id))",
    "CREATE POLICY tessera_delete ON exchange_hash FOR DELETE USING "
    "(tessera_media_owned(media_id))",
]


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":  # 0006's definitions, without entries
        op.execute(_MEDIA_LEVEL.format(extra=""))
        op.execute(_MEDIA_OWNED.format(extra=""))
    op.drop_table("exchange_hash")
    op.drop_table("exchange_entry")
    op.drop_column("media", "has_content")
