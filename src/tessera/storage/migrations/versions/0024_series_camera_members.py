"""Members per (series, camera) and media per camera, kept by the database.

The series page lists media outside the series taken with the series' cameras
(``storage.camera_links.series_links``): for each of its first 10 cameras the
lowest-id media of that camera that are not members. On a 100k-member series whose
cameras hold only members that meant ~10,000 membership probes a page for nothing
(37-49 ms of PostgreSQL time at load 8, ``EXPLAIN ANALYZE``). Two counts decide it
without a probe: when a camera's media all belong to the series, there is nothing
outside to list.

* ``series_camera_members(series_id, camera_key, members)``: live memberships
  (``series_media.deleted_at IS NULL``) of media whose metadata has that camera key,
  whether the media item is deleted or not (the membership probe does not ask).
* ``camera_media(camera_key, media)``: metadata rows with that camera key.

``members = media`` means every media item of the camera is a member: the camera is
skipped. The list is unchanged: the skipped query could only have answered nothing.
Rows at 0 stay.

Triggers on ``series_media`` and ``media_metadata`` keep both, on both backends,
patterned on migration 0023: on PostgreSQL SECURITY DEFINER functions with
``search_path`` pinned, atomic upserts, and the media row locked first (a membership
and a metadata row of one item written at once by two transactions would otherwise
each miss the other's row). RLS: ``series_camera_members`` is readable under the
series' read rule; ``camera_media`` counts every agency's media, so it has no read
policy at all. A connection under RLS therefore never skips (it reads no totals)
and pays the probes as before; the owner and SQLite skip.

Upgrade creates, backfills and adds the triggers; downgrade drops them.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_BACKFILL = (
    """
INSERT INTO camera_media (camera_key, media)
SELECT camera_key, count(*) FROM media_metadata WHERE camera_key IS NOT NULL
 GROUP BY camera_key
""",
    """
INSERT INTO series_camera_members (series_id, camera_key, members)
SELECT sm.series_id, md.camera_key, count(*)
  FROM series_media sm JOIN media_metadata md ON md.media_id = sm.media_id
 WHERE sm.deleted_at IS NULL AND md.camera_key IS NOT NULL
 GROUP BY sm.series_id, md.camera_key
""",
)

# -- SQLite ---------------------------------------------------------------------------


def _sqlite_member(row: str, sign: str) -> str:
    return f"""INSERT INTO series_camera_members (series_id, camera_key, members)
 SELECT {row}.series_id, md.camera_key, {sign}1 FROM media_metadata md
  WHERE md.media_id = {row}.media_id AND md.camera_key IS NOT NULL
 ON CONFLICT (series_id, camera_key) DO UPDATE SET members = members + excluded.members"""


def _sqlite_camera(row: str, sign: str) -> list[str]:
    return [
        f"""INSERT INTO camera_media (camera_key, media) VALUES ({row}.camera_key, {sign}1)
 ON CONFLICT (camera_key) DO UPDATE SET media = media + excluded.media""",
        f"""INSERT INTO series_camera_members (series_id, camera_key, members)
 SELECT sm.series_id, {row}.camera_key, {sign}1 FROM series_media sm
  WHERE sm.media_id = {row}.media_id AND sm.deleted_at IS NULL
 ON CONFLICT (series_id, camera_key) DO UPDATE SET members = members + excluded.members""",
    ]


def _trigger(name: str, when: str, table: str, cond: str, body: list[str]) -> str:
    stmts = ";\n".join(body)
    where = f" WHEN {cond}" if cond else ""
    return (
        f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where}\nBEGIN\n{stmts};\nEND"
    )


_SM_CHANGED = (
    "((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    " OR OLD.media_id <> NEW.media_id OR OLD.series_id <> NEW.series_id)"
)
_MD_CHANGED = "(OLD.camera_key IS NOT NEW.camera_key OR OLD.media_id <> NEW.media_id)"

_SQLITE = (
    ("tessera_cam_sm_ins", "INSERT", "series_media", "NEW.deleted_at IS NULL",
     [_sqlite_member("NEW", "+")]),
    ("tessera_cam_sm_del", "DELETE", "series_media", "OLD.deleted_at IS NULL",
     [_sqlite_member("OLD", "-")]),
    ("tessera_cam_sm_upd_old", "UPDATE", "series_media",
     f"OLD.deleted_at IS NULL AND {_SM_CHANGED}", [_sqlite_member("OLD", "-")]),
    ("tessera_cam_sm_upd_new", "UPDATE", "series_media",
     f"NEW.deleted_at IS NULL AND {_SM_CHANGED}", [_sqlite_member("NEW", "+")]),
    ("tessera_cam_md_ins", "INSERT", "media_metadata", "NEW.camera_key IS NOT NULL",
     _sqlite_camera("NEW", "+")),
    ("tessera_cam_md_del", "DELETE", "media_metadata", "OLD.camera_key IS NOT NULL",
     _sqlite_camera("OLD", "-")),
    ("tessera_cam_md_upd_old", "UPDATE", "media_metadata",
     f"OLD.camera_key IS NOT NULL AND {_MD_CHANGED}", _sqlite_camera("OLD", "-")),
    ("tessera_cam_md_upd_new", "UPDATE", "media_metadata",
     f"NEW.camera_key IS NOT NULL AND {_MD_CHANGED}", _sqlite_camera("NEW", "+")),
)  # fmt: skip

# -- PostgreSQL -----------------------------------------------------------------------

_PG_FUNCTIONS = (
    """
CREATE FUNCTION tessera_cam_member(p_series bigint, p_media bigint, p_sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  -- one writer at a time per media item (see migration 0023)
  PERFORM 1 FROM media WHERE id = p_media FOR NO KEY UPDATE;
  INSERT INTO series_camera_members AS t (series_id, camera_key, members)
  SELECT p_series, md.camera_key, p_sign FROM media_metadata md
   WHERE md.media_id = p_media AND md.camera_key IS NOT NULL
  ON CONFLICT (series_id, camera_key) DO UPDATE SET members = t.members + excluded.members;
END $$
""",
    """
CREATE FUNCTION tessera_cam_camera(p_media bigint, p_key text, p_sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  PERFORM 1 FROM media WHERE id = p_media FOR NO KEY UPDATE;
  INSERT INTO camera_media AS t (camera_key, media) VALUES (p_key, p_sign)
  ON CONFLICT (camera_key) DO UPDATE SET media = t.media + excluded.media;
  INSERT INTO series_camera_members AS t (series_id, camera_key, members)
  SELECT sm.series_id, p_key, p_sign FROM series_media sm
   WHERE sm.media_id = p_media AND sm.deleted_at IS NULL ORDER BY sm.series_id
  ON CONFLICT (series_id, camera_key) DO UPDATE SET members = t.members + excluded.members;
END $$
""",
    """
CREATE FUNCTION tessera_cam_series_media_trg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
    PERFORM tessera_cam_member(OLD.series_id, OLD.media_id, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
    PERFORM tessera_cam_member(NEW.series_id, NEW.media_id, 1);
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE FUNCTION tessera_cam_metadata_trg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.camera_key IS NOT NULL THEN
    PERFORM tessera_cam_camera(OLD.media_id, OLD.camera_key, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.camera_key IS NOT NULL THEN
    PERFORM tessera_cam_camera(NEW.media_id, NEW.camera_key, 1);
  END IF;
  RETURN NULL;
END $$
""",
)
_PG_TRIGGERS = (
    "CREATE TRIGGER tessera_cam_series_media_iud AFTER INSERT OR DELETE ON series_media "
    "FOR EACH ROW EXECUTE FUNCTION tessera_cam_series_media_trg()",
    "CREATE TRIGGER tessera_cam_series_media_upd AFTER UPDATE ON series_media FOR EACH ROW "
    f"WHEN {_SM_CHANGED} EXECUTE FUNCTION tessera_cam_series_media_trg()",
    "CREATE TRIGGER tessera_cam_metadata_iud AFTER INSERT OR DELETE ON media_metadata "
    "FOR EACH ROW EXECUTE FUNCTION tessera_cam_metadata_trg()",
    "CREATE TRIGGER tessera_cam_metadata_upd AFTER UPDATE ON media_metadata FOR EACH ROW "
    "WHEN (OLD.camera_key IS DISTINCT FROM NEW.camera_key OR OLD.media_id <> NEW.media_id) "
    "EXECUTE FUNCTION tessera_cam_metadata_trg()",
)
PG_TRIGGERS = (
    ("tessera_cam_series_media_iud", "series_media"),
    ("tessera_cam_series_media_upd", "series_media"),
    ("tessera_cam_metadata_iud", "media_metadata"),
    ("tessera_cam_metadata_upd", "media_metadata"),
)
PG_FUNCTIONS = (
    "tessera_cam_series_media_trg()",
    "tessera_cam_metadata_trg()",
    "tessera_cam_member(bigint, bigint, integer)",
    "tessera_cam_camera(bigint, text, integer)",
)
_PG_POLICIES = (
    "ALTER TABLE series_camera_members ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY tessera_read ON series_camera_members FOR SELECT USING "
    "(tessera_series_level(series_id) >= 1)",
    # every agency's media: read and written by the trigger functions (and the owner) only
    "ALTER TABLE camera_media ENABLE ROW LEVEL SECURITY",
)


def upgrade() -> None:
    op.create_table(
        "series_camera_members",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("camera_key", sa.String(length=128), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_camera_members_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "camera_key", name="pk_series_camera_members"),
    )
    op.create_table(
        "camera_media",
        sa.Column("camera_key", sa.String(length=128), nullable=False),
        sa.Column("media", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("camera_key", name="pk_camera_media"),
    )
    for stmt in _BACKFILL:
        op.execute(stmt)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        for fn in _PG_FUNCTIONS:
            op.execute(fn.format(path=f"{path}, pg_temp"))
        for stmt in (*_PG_TRIGGERS, *_PG_POLICIES):
            op.execute(stmt)
    else:
        for name, when, table, cond, body in _SQLITE:
            op.execute(_trigger(name, when, table, cond, body))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for fn in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    else:
        for name, *_ in _SQLITE:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("camera_media")
    op.drop_table("series_camera_members")
