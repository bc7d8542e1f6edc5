"""Sharing rules: a level per grantee for every series and case, and Row-Level Security.

``sharing_grant`` holds, per series or case, the level (``none``, ``hash``,
``status``, ``full``) granted to the whole network (``scope='network'``,
``grantee='*'``), to a country (ISO code) or to an agency (its code). The most
specific grant for a caller wins (agency over country over network); with no grant
a series is ``status`` to the network and a case ``none``; the owner agency always
sees everything (``tessera.app.visibility`` is the reference for these rules).

On PostgreSQL the same rules are enforced a second time by Row-Level Security: the
network service connects as a role that neither owns the tables nor has
BYPASSRLS, and every transaction names its caller's agency with
``set_config('tessera.agency', CODE, true)``; a transaction that names none sees
nothing (fail closed). The policies call SECURITY DEFINER functions that compute
the caller's level exactly as the application does. RLS filters rows, not columns:
rows needed for a ``hash`` answer (the series, its media links, the media) are
visible from ``hash`` up, rows that only ``full`` shows (victim, offender and
location links, OCR text, metadata, markers) only at ``full``; the application
redacts the columns in between. Tables stay ENABLE (not FORCE) so the owner role
(migrations, the node's local operator at the command line) is not filtered.

Revision ID: 0006
Revises: 0003, 0005 (merges the two branches main had)
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = ("0003", "0005")
branch_labels = None
depends_on = None

_FUNCTIONS = [
    # rank of a level name; unknown text ranks as none (fail closed)
    "CREATE FUNCTION tessera_level_rank(lvl text) RETURNS integer LANGUAGE sql IMMUTABLE AS "
    "$$ SELECT CASE lvl WHEN 'hash' THEN 1 WHEN 'status' THEN 2 WHEN 'full' THEN 3 "
    "ELSE 0 END $$",
    # the caller's level on one series (p_series) or case (p_case) owned by p_owner
    """
CREATE FUNCTION tessera_grant_level(p_series bigint, p_case bigint, p_owner bigint,
                                    p_default integer)
RETURNS integer LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  v_code text := coalesce(current_setting('tessera.agency', true), '');
  v_id bigint;
  v_country text;
  v_level text;
BEGIN
  IF v_code = '' THEN RETURN 0; END IF;
  SELECT id, country INTO v_id, v_country FROM agency WHERE code = v_code;
  IF v_id IS NULL THEN RETURN 0; END IF;
  IF v_id = p_owner THEN RETURN 3; END IF;
  SELECT g.level INTO v_level FROM sharing_grant g
   WHERE ((p_series IS NOT NULL AND g.series_id = p_series)
       OR (p_series IS NULL AND g.case_id = p_case))
     AND ((g.scope = 'agency' AND g.grantee = v_code)
       OR (g.scope = 'country' AND g.grantee = v_country)
       OR g.scope = 'network')
   ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END
   LIMIT 1;
  IF v_level IS NULL THEN RETURN p_default; END IF;
  RETURN tessera_level_rank(v_level);
END $$
""",
    "CREATE FUNCTION tessera_series_level(p_series bigint) RETURNS integer "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
    "$$ SELECT coalesce((SELECT tessera_grant_level(s.id, NULL, s.agency_id, 2) "
    "FROM series s WHERE s.id = p_series), 0) $$",
    "CREATE FUNCTION tessera_case_level(p_case bigint) RETURNS integer "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
    "$$ SELECT coalesce((SELECT tessera_grant_level(NULL, c.id, c.agency_id, 0) "
    "FROM cases c WHERE c.id = p_case), 0) $$",
    # a media item: the best of the series it is in and the cases it was sighted in
    """
CREATE FUNCTION tessera_media_level(p_media bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT coalesce(max(l), 0) FROM (
    SELECT tessera_series_level(sm.series_id) AS l FROM series_media sm
     WHERE sm.media_id = p_media
    UNION ALL
    SELECT tessera_case_level(g.case_id) FROM sighting g WHERE g.media_id = p_media
  ) x
$$
""",
    # ownership, for writes: the caller's agency id, owners of series / cases / media
    "CREATE FUNCTION tessera_caller_agency() RETURNS bigint "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
    "$$ SELECT id FROM agency WHERE code = current_setting('tessera.agency', true) $$",
    "CREATE FUNCTION tessera_series_owner(p_series bigint) RETURNS bigint "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
    "$$ SELECT agency_id FROM series WHERE id = p_series $$",
    "CREATE FUNCTION tessera_case_owner(p_case bigint) RETURNS bigint "
    "LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS "
    "$$ SELECT agency_id FROM cases WHERE id = p_case $$",
    """
CREATE FUNCTION tessera_media_owned(p_media bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT EXISTS (SELECT 1 FROM sighting g WHERE g.media_id = p_media
                   AND g.agency_id = tessera_caller_agency())
      OR EXISTS (SELECT 1 FROM series_media sm JOIN series s ON s.id = sm.series_id
                  WHERE sm.media_id = p_media AND s.agency_id = tessera_caller_agency())
$$
""",
    "CREATE FUNCTION tessera_has_caller() RETURNS boolean LANGUAGE sql STABLE AS "
    "$$ SELECT coalesce(current_setting('tessera.agency', true), '') <> '' $$",
    # the node's index machinery (PDQ, video, audio, scene indexes) reads every hash and
    # media id, never metadata: its connections start with tessera.index=on
    "CREATE FUNCTION tessera_is_index() RETURNS boolean LANGUAGE sql STABLE AS "
    "$$ SELECT coalesce(current_setting('tessera.index', true), '') = 'on' $$",
]
_FUNCTION_NAMES = [
    "tessera_media_owned(bigint)",
    "tessera_case_owner(bigint)",
    "tessera_series_owner(bigint)",
    "tessera_caller_agency()",
    "tessera_media_level(bigint)",
    "tessera_case_level(bigint)",
    "tessera_series_level(bigint)",
    "tessera_grant_level(bigint, bigint, bigint, integer)",
    "tessera_level_rank(text)",
    "tessera_has_caller()",
    "tessera_is_index()",
]

_SERIES = "tessera_series_level(series_id)"
_CASE = "tessera_case_level(case_id)"
_ME = "tessera_caller_agency()"
_OWN_SERIES = f"tessera_series_owner(series_id) = {_ME}"
_OWN_CASE = f"tessera_case_owner(case_id) = {_ME}"
_OWN_GRANT = f"CASE WHEN series_id IS NOT NULL THEN {_OWN_SERIES} ELSE {_OWN_CASE} END"
_GRANT_READ = (
    f"({_OWN_GRANT}) OR (tessera_has_caller() AND (scope = 'network' "
    "OR (scope = 'agency' AND grantee = current_setting('tessera.agency', true)) "
    "OR (scope = 'country' AND grantee = "
    "(SELECT country FROM agency WHERE code = current_setting('tessera.agency', true)))))"
)
_OWN_MEDIA = "tessera_media_owned(media_id)"

# table -> (who may read a row, who may change or delete one); levels: 1 hash, 2 status,
# 3 full; writes need ownership (a full grant lets others read, never write)
POLICIES: dict[str, tuple[str, str]] = {
    "series": ("tessera_grant_level(id, NULL, agency_id, 2) >= 1", f"agency_id = {_ME}"),
    "cases": ("tessera_grant_level(NULL, id, agency_id, 0) >= 1", f"agency_id = {_ME}"),
    "sharing_grant": (_GRANT_READ, f"({_OWN_GRANT})"),
    "series_media": (f"{_SERIES} >= 1", _OWN_SERIES),
    "series_victim": (f"{_SERIES} = 3", _OWN_SERIES),
    "series_offender": (f"{_SERIES} = 3", _OWN_SERIES),
    "series_location": (f"{_SERIES} = 3", _OWN_SERIES),
    # any caller who sees a media item may count its submission (ingest updates it)
    "media": (
        "tessera_is_index() OR tessera_media_level(id) >= 1",
        "tessera_media_level(id) >= 1",
    ),
    "sighting": (f"{_CASE} >= 1", _OWN_CASE),
    "fingerprint": ("tessera_is_index() OR tessera_media_level(media_id) >= 1", _OWN_MEDIA),
    "media_text": ("tessera_media_level(media_id) = 3", _OWN_MEDIA),
    "media_metadata": ("tessera_media_level(media_id) = 3", _OWN_MEDIA),
    "marker": ("tessera_media_level(media_id) = 3", _OWN_MEDIA),
    "media_location": ("tessera_media_level(media_id) = 3", _OWN_MEDIA),
}
# new rows whose visibility follows from rows written after them (a media item before its
# sighting) may be inserted by any identified caller
_INSERT_ANY_CALLER = {"media", "fingerprint", "media_text", "media_metadata", "marker"}


def _pg_policies() -> list[str]:
    out = []
    for table, (read, write) in POLICIES.items():
        insert = "tessera_has_caller()" if table in _INSERT_ANY_CALLER else write
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"CREATE POLICY tessera_read ON {table} FOR SELECT USING ({read})",
            f"CREATE POLICY tessera_insert ON {table} FOR INSERT WITH CHECK ({insert})",
            f"CREATE POLICY tessera_update ON {table} FOR UPDATE USING ({write}) "
            f"WITH CHECK ({write})",
            f"CREATE POLICY tessera_delete ON {table} FOR DELETE USING ({write})",
        ]
    return out


def upgrade() -> None:
    op.create_table(
        "sharing_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("grantee", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("granted_by", sa.String(length=254), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(series_id IS NULL) <> (case_id IS NULL)", name=op.f("ck_sharing_grant_one_target")
        ),
        sa.CheckConstraint(
            "scope IN ('network', 'country', 'agency')", name=op.f("ck_sharing_grant_scope")
        ),
        sa.CheckConstraint(
            "level IN ('none', 'hash', 'status', 'full')", name=op.f("ck_sharing_grant_level")
        ),
        sa.CheckConstraint(
            "scope <> 'network' OR grantee = '*'", name=op.f("ck_sharing_grant_network")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_sharing_grant_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_sharing_grant_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_grant")),
        sa.UniqueConstraint(
            "series_id", "scope", "grantee", name=op.f("uq_sharing_grant_series_id")
        ),
        sa.UniqueConstraint("case_id", "scope", "grantee", name=op.f("uq_sharing_grant_case_id")),
    )
    op.create_index(op.f("ix_sharing_grant_series_id"), "sharing_grant", ["series_id"])
    op.create_index(op.f("ix_sharing_grant_case_id"), "sharing_grant", ["case_id"])
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _FUNCTIONS + _pg_policies():
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in POLICIES:
            for name in ("tessera_read", "tessera_insert", "tessera_update", "tessera_delete"):
                op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.drop_index(op.f("ix_sharing_grant_case_id"), table_name="sharing_grant")
    op.drop_index(op.f("ix_sharing_grant_series_id"), table_name="sharing_grant")
    op.drop_table("sharing_grant")
    if op.get_bind().dialect.name == "postgresql":
        for fn in _FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
