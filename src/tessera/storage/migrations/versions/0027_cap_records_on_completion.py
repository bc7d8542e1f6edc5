"""Other agencies' records of content an agency's ingest completes are capped.

A blind link (0019) caps an agency's view of another agency's content when its
record names content already held. The other order leaked: NL-B imports the SHA-256
of a file (a hash-only item, in NL-B's own series, so NL-B sees it in ``full``), then
NL-A ingests the file into its unshared series. The ingest completes the one row with
the file's MD5, SHA-1, size, dimensions, metadata and OCR text, and NL-B was shown all
of it, and a submission, through its own record: what NL-A's file is and that NL-A
holds it.

The completing ingest now links every other agency's record of the item blind, with
what the row said before the file completed it (its digests, kind, size and imported
PDQ/opaque hashes: those came with the records), so rules 5 and 6 of
``tessera.app.visibility`` apply as in the import-after-ingest order.

``tessera_cap_other_records(media, agency)`` does it on PostgreSQL, as the table
owner: under Row-Level Security the ingesting agency can neither read other
agencies' entries nor write their blind links. It acts only on an item that has no
content yet (the call comes just before the file completes it) and only adds caps.
SQLite has no RLS: ``storage.ingest_runs.cap_other_records`` writes the rows itself.

Revision ID: 0027
Revises: 0030
Create Date: 2026-12-06 08:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0027"
down_revision = "0030"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE FUNCTION tessera_cap_other_records(p_media bigint, p_agency bigint)
RETURNS integer LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {path} AS $$
DECLARE n integer;
BEGIN
  INSERT INTO blind_link (media_id, agency_id, sha256, sha1, md5, kind, byte_size,
                          linked_at, hashes)
  SELECT m.id, e.agency_id, m.sha256, m.sha1, m.md5, m.kind, m.byte_size, now(),
         (SELECT json_agg(json_build_array(f.algorithm,
                   CASE WHEN f.version = 1 THEN encode(f.value, 'hex')
                        ELSE convert_from(f.value, 'UTF8') END) ORDER BY f.id)
            FROM fingerprint f
           WHERE f.media_id = m.id AND f.position = 0
             AND ((f.algorithm = 'pdq' AND f.version = 1)
                  OR (f.version = 0 AND f.algorithm NOT IN ('pdq', 'chromaprint'))))
    FROM media m JOIN exchange_entry e ON e.media_id = m.id
   WHERE m.id = p_media AND NOT m.has_content AND e.agency_id <> p_agency
     AND NOT EXISTS (SELECT 1 FROM sighting g WHERE g.media_id = m.id
                       AND g.agency_id = e.agency_id AND g.deleted_at IS NULL)
     AND NOT EXISTS (SELECT 1 FROM blind_link b WHERE b.media_id = m.id
                       AND b.agency_id = e.agency_id);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$
"""
SIGNATURE = "tessera_cap_other_records(bigint, bigint)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(_FUNCTION.format(path=f"{path}, pg_temp"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
