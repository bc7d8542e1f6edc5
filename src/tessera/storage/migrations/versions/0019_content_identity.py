"""Content identity is global: find a media item by its unique keys through RLS.

A media row is the content (its SHA-256 is unique, and so is an opaque imported
hash's key in ``exchange_hash``); what an agency sees of it follows from its own
links (sightings, series, exchange entries) and the sharing rules. Under
Row-Level Security the network service cannot see a row another agency holds
unshared, so an import or ingest of the same content would insert a second row
and break the unique constraint. These two SECURITY DEFINER functions return the
**ids only** of the rows holding given keys, whoever owns them, so the caller's
own record links to the one row without reading anything of the other agency
(the same rows' hashes are readable to the node's index connections anyway).
They answer nothing to a transaction that names no caller (fail closed), and
their ``search_path`` is pinned to the schema they were created in, then
``pg_temp`` (so a temporary table cannot stand in for ``media``).

Linking makes two agencies' records share a row, so the read policy of
``exchange_entry`` no longer follows the media row's level (which let the holder
of the content read every other agency's record of it: tags, comments, source
ids): an entry is read by its own agency, and by others only where it is filed
under a case they see in ``full`` (as that case's sightings are).

``blind_link`` (media, agency): the agency linked its record to content it could
not see. Its own series, cases and entries show it such an item up to ``status``
only: the item's ``full`` rows (OCR text, camera metadata, markers, locations)
came with another agency's file and stay that agency's, unless that agency shares
them. ``tessera_media_level`` applies the cap (``tessera.app.visibility`` does the
same); ingesting the file itself removes the row.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_FUNCTIONS = (
    """
CREATE FUNCTION tessera_media_by_sha256(p_digests bytea[])
RETURNS TABLE(sha256 bytea, media_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {path} AS $$
  SELECT m.sha256, m.id::bigint FROM media m
   WHERE m.sha256 = ANY(p_digests) AND tessera_has_caller()
$$
""",
    """
CREATE FUNCTION tessera_media_by_hash_key(p_keys bytea[])
RETURNS TABLE(key bytea, media_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {path} AS $$
  SELECT h.key, h.media_id::bigint FROM exchange_hash h
   WHERE h.key = ANY(p_keys) AND tessera_has_caller()
$$
""",
)
_ENTRY_READ_OLD = "agency_id = tessera_caller_agency() OR tessera_media_level(media_id) = 3"
_ENTRY_READ = (
    "agency_id = tessera_caller_agency() "
    "OR (case_id IS NOT NULL AND tessera_case_level(case_id) = 3)"
)
# 0004's definition, with the cap on the caller's own containers of a blind link
_MEDIA_LEVEL = """
CREATE OR REPLACE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(max(CASE WHEN own AND blind THEN least(l, 2) ELSE l END), 0) FROM (
    SELECT tessera_series_level(sm.series_id) AS l,
           coalesce(tessera_series_owner(sm.series_id) = tessera_caller_agency(), false) AS own
      FROM series_media sm WHERE sm.media_id = p_media
    UNION ALL
    SELECT tessera_case_level(g.case_id),
           coalesce(tessera_case_owner(g.case_id) = tessera_caller_agency(), false)
      FROM sighting g WHERE g.media_id = p_media
    UNION ALL
    SELECT CASE WHEN e.agency_id = tessera_caller_agency() THEN 3
                ELSE coalesce(tessera_case_level(e.case_id), 0) END,
           coalesce(e.agency_id = tessera_caller_agency(), false)
      FROM exchange_entry e WHERE e.media_id = p_media
  ) x, (SELECT EXISTS (SELECT 1 FROM blind_link b WHERE b.media_id = p_media
                         AND b.agency_id = tessera_caller_agency()) AS blind) y
$$
"""
_MEDIA_LEVEL_0004 = """
CREATE OR REPLACE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(max(l), 0) FROM (
    SELECT tessera_series_level(sm.series_id) AS l FROM series_media sm
     WHERE sm.media_id = p_media
    UNION ALL
    SELECT tessera_case_level(g.case_id) FROM sighting g WHERE g.media_id = p_media
    UNION ALL
    SELECT CASE WHEN e.agency_id = tessera_caller_agency() THEN 3
                ELSE coalesce(tessera_case_level(e.case_id), 0) END
      FROM exchange_entry e WHERE e.media_id = p_media
  ) x
$$
"""
_OWN = "agency_id = tessera_caller_agency()"
_BLIND_RLS = (
    "ALTER TABLE blind_link ENABLE ROW LEVEL SECURITY",
    f"CREATE POLICY tessera_own ON blind_link FOR ALL USING ({_OWN}) WITH CHECK ({_OWN})",
)
_FUNCTION_NAMES = ("tessera_media_by_sha256(bytea[])", "tessera_media_by_hash_key(bytea[])")


def upgrade() -> None:
    op.create_table(
        "blind_link",
        sa.Column("media_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_blind_link_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_blind_link_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("media_id", "agency_id", name=op.f("pk_blind_link")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for stmt in (*_BLIND_RLS, _MEDIA_LEVEL):
        op.execute(stmt)
    schema = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar_one()
    for stmt in _FUNCTIONS:
        op.execute(stmt.format(path=f"{schema}, pg_temp"))
    _entry_read(_ENTRY_READ)


def _entry_read(using: str) -> None:
    op.execute("DROP POLICY IF EXISTS tessera_read ON exchange_entry")
    op.execute(f"CREATE POLICY tessera_read ON exchange_entry FOR SELECT USING ({using})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _entry_read(_ENTRY_READ_OLD)
        op.execute(_MEDIA_LEVEL_0004)
        for fn in _FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.drop_table("blind_link")
