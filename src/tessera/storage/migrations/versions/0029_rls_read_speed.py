"""Reads under Row-Level Security: one media-level function call instead of ten, and
"media of this camera, lowest ids first" read in key order.

Measured through the service role on a 100k-media home (``bench_web.py
--service-role``): a media page took ~1.3 s, nearly all of it two policy checks per
row on ~1,000 rows of one camera. Two causes, two changes:

* ``tessera_media_level`` (the read rule of ``media``, ``media_metadata``, markers,
  text...) called ``tessera_series_level`` / ``tessera_case_level`` (each calling the
  PL/pgSQL ``tessera_grant_level``, which looks the caller's agency up again), the
  owner functions and ``tessera_caller_agency`` for every container of the item:
  about ten SECURITY DEFINER calls a row, none of which PostgreSQL can inline. It is
  now one PL/pgSQL function that resolves the caller once and reads the grants in
  the same statement. The rule is unchanged, term for term: the highest of the
  item's series levels (the owner 3, else the best grant, agency before country
  before network, else ``status``), its cases' (owner 3, else the best grant, else
  none) and its exchange entries' (the importer 3, else the entry's case), the
  caller's own containers capped at ``status`` where the caller holds a blind link
  (migration 0019). ``tests/storage/test_media_level_function.py`` compares it with
  0019's definition for every item and caller of a world built for it.
* ``ix_media_metadata_camera_key`` becomes ``(camera_key, media_id)``: PostgreSQL
  then reads one camera's rows in id order and stops at the page's limit instead of
  fetching every row of the camera, each policy-checked, and sorting (SQLite's index
  already ended in the rowid, which is ``media_id``).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 04:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_MEDIA_LEVEL = """
CREATE OR REPLACE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
  v_code text := coalesce(current_setting('tessera.agency', true), '');
  v_id bigint;
  v_country text;
  v_blind boolean;
  v_level integer;
BEGIN
  IF v_code = '' THEN RETURN 0; END IF;
  SELECT a.id, a.country INTO v_id, v_country FROM agency a WHERE a.code = v_code;
  IF v_id IS NULL THEN RETURN 0; END IF;
  v_blind := EXISTS (SELECT 1 FROM blind_link b WHERE b.media_id = p_media AND b.agency_id = v_id);
  SELECT coalesce(max(CASE WHEN x.own AND v_blind THEN least(x.l, 2) ELSE x.l END), 0)
    INTO v_level
    FROM (
      SELECT CASE WHEN s.agency_id = v_id THEN 3 ELSE coalesce((
               SELECT tessera_level_rank(g.level) FROM sharing_grant g
                WHERE g.series_id = s.id
                  AND ((g.scope = 'agency' AND g.grantee = v_code)
                    OR (g.scope = 'country' AND g.grantee = v_country) OR g.scope = 'network')
                ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END
                LIMIT 1), 2) END AS l,
             s.agency_id = v_id AS own
        FROM series_media sm JOIN series s ON s.id = sm.series_id
       WHERE sm.media_id = p_media
      UNION ALL
      SELECT CASE WHEN c.agency_id = v_id THEN 3 ELSE coalesce((
               SELECT tessera_level_rank(g.level) FROM sharing_grant g
                WHERE g.case_id = c.id
                  AND ((g.scope = 'agency' AND g.grantee = v_code)
                    OR (g.scope = 'country' AND g.grantee = v_country) OR g.scope = 'network')
                ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END
                LIMIT 1), 0) END,
             c.agency_id = v_id
        FROM sighting si JOIN cases c ON c.id = si.case_id
       WHERE si.media_id = p_media
      UNION ALL
      SELECT CASE WHEN e.agency_id = v_id THEN 3
                  WHEN c.agency_id = v_id THEN 3
                  WHEN c.id IS NULL THEN 0
                  ELSE coalesce((
               SELECT tessera_level_rank(g.level) FROM sharing_grant g
                WHERE g.case_id = c.id
                  AND ((g.scope = 'agency' AND g.grantee = v_code)
                    OR (g.scope = 'country' AND g.grantee = v_country) OR g.scope = 'network')
                ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END
                LIMIT 1), 0) END,
             coalesce(e.agency_id = v_id, false)
        FROM exchange_entry e LEFT JOIN cases c ON c.id = e.case_id
       WHERE e.media_id = p_media
    ) x;
  RETURN v_level;
END $$
"""
# 0019's definition, restored by downgrade
_MEDIA_LEVEL_0019 = """
CREATE OR REPLACE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {path} AS $$
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


def upgrade() -> None:
    op.create_index(
        "ix_media_metadata_camera_key_media_id", "media_metadata", ["camera_key", "media_id"]
    )
    op.drop_index("ix_media_metadata_camera_key", table_name="media_metadata")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(_MEDIA_LEVEL.format(path=f"{path}, pg_temp"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(_MEDIA_LEVEL_0019.format(path=f"{path}, pg_temp"))
    op.create_index("ix_media_metadata_camera_key", "media_metadata", ["camera_key"])
    op.drop_index("ix_media_metadata_camera_key_media_id", table_name="media_metadata")
