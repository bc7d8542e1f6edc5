"""Which of a series' cameras hold only its members, asked under Row-Level Security.

Migration 0024 keeps members per (series, camera) and media per camera so that the
series page skips a camera whose media all belong to the series (nothing outside it
to list). ``camera_media`` counts every agency's media, so it has no read policy and a
connection under RLS (the deployed service role) read no totals and skipped nothing:
each page probed ~10,000 memberships.

``tessera_whole_cameras(series, keys)`` answers the one question the skip needs, as
the table owner, for a series the caller sees in ``full``: the keys among ``keys``
whose media are all members of the series. It gives no count and changes no answer:
a skipped camera's query could only have returned nothing, whoever asked.

Camera keys are metadata (make and body serial), shown only at ``full``; 0024 let
``series_camera_members`` be read from ``hash`` up, which told a connection under RLS
which cameras a series it knew only by hash had used. Its read rule is now ``full``,
as ``media_metadata``'s is. PostgreSQL only; SQLite has no RLS and reads the counts
directly.

Revision ID: 0028
Revises: 0025
Create Date: 2026-12-06 04:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0025"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE FUNCTION tessera_whole_cameras(p_series bigint, p_keys text[])
RETURNS TABLE (camera_key text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {path} AS $$
  SELECT scm.camera_key FROM series_camera_members scm
    JOIN camera_media cm ON cm.camera_key = scm.camera_key
   WHERE scm.series_id = p_series AND scm.camera_key = ANY (p_keys)
     AND scm.members = cm.media AND tessera_series_level(p_series) = 3
$$
"""
SIGNATURE = "tessera_whole_cameras(bigint, text[])"
_POLICY = (
    "DROP POLICY tessera_read ON series_camera_members",
    "CREATE POLICY tessera_read ON series_camera_members FOR SELECT USING "
    "(tessera_series_level(series_id) {rule})",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(_FUNCTION.format(path=f"{path}, pg_temp"))
        for stmt in _POLICY:
            op.execute(stmt.format(rule="= 3"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        for stmt in _POLICY:
            op.execute(stmt.format(rule=">= 1"))
