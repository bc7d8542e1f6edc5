"""Per-series counts kept by the database: members, submissions by agency, sightings by case.

The series page, the series list, the print report and the graph of a series or
case counted over every member on each request (~0.3-0.6 s at p95 for a 100k-media
series on SQLite, 1.6-2.1 s on PostgreSQL; issue 13 asks for 200 ms). These tables
hold the counts, and triggers on ``series_media``, ``sighting`` and ``media`` keep
them as rows change, on both backends, whichever code path writes:

* ``series_stats(series_id, members)``: live memberships of live media (the
  series' ``media_count``).
* ``media_agency_sightings(media_id, agency_id, n)``: live sightings of a media
  item by an agency; internal, so that "this agency now has the item" (0 -> 1) and
  "no longer" (1 -> 0) are decided by one atomic counter, not by a racy EXISTS.
* ``series_agency_submissions(series_id, agency_id, media, first_seen, last_seen,
  exact)``: members an agency has a live sighting of, and the first / last such
  sighting. A removal cannot shrink a minimum incrementally: when it touches
  ``first_seen`` or ``last_seen`` the row is marked ``exact = false`` and readers
  recompute the two times for that agency (``storage.series_activity``); a later
  0 -> 1 transition from no media makes the row exact again.
* ``series_case_sightings(series_id, case_id, n)``: live sightings in the case of
  live members (the graph's series-case edge weight).

Rows whose count drops to 0 stay (readers ask for ``> 0``), except the internal
``media_agency_sightings`` which is pruned.

On PostgreSQL the trigger functions run ``INSERT ... ON CONFLICT DO UPDATE SET n =
n + 1`` (a row lock: atomic under concurrent writers, no application lock). A pair
(membership, sighting) of one media item written by two transactions at once would
be seen by neither trigger (each reads before the other commits), so both trigger
functions first lock the media row (``FOR NO KEY UPDATE``: foreign-key checks still
pass): the later one then reads the earlier one's committed row. They are
SECURITY DEFINER with ``search_path`` pinned to this schema, so writers under RLS
(the service role) maintain tables they may not write themselves. The count tables
have RLS with read policies only: a series' rows follow the series' read policy,
a (series, case) row also the case's; ``media_agency_sightings`` has none (nobody
but the triggers reads it). Submissions count every agency's sightings, as on
SQLite (they are a ``status`` fact of the series, issue 11).

Upgrade creates the tables, backfills them from the existing rows and creates the
triggers; downgrade drops them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLES = (
    "series_stats",
    "media_agency_sightings",
    "series_agency_submissions",
    "series_case_sightings",
)

# -- backfill (both backends) ------------------------------------------------------

_BACKFILL = (
    """
INSERT INTO series_stats (series_id, members)
SELECT sm.series_id, count(*) FROM series_media sm JOIN media m ON m.id = sm.media_id
 WHERE sm.deleted_at IS NULL AND m.deleted_at IS NULL GROUP BY sm.series_id
""",
    """
INSERT INTO media_agency_sightings (media_id, agency_id, n)
SELECT g.media_id, g.agency_id, count(*) FROM sighting g
 WHERE g.deleted_at IS NULL GROUP BY g.media_id, g.agency_id
""",
    """
INSERT INTO series_agency_submissions
       (series_id, agency_id, media, first_seen, last_seen, exact)
SELECT sm.series_id, g.agency_id, count(DISTINCT g.media_id), min(g.seen_at),
       max(g.seen_at), {true}
  FROM series_media sm JOIN sighting g ON g.media_id = sm.media_id
 WHERE sm.deleted_at IS NULL AND g.deleted_at IS NULL
 GROUP BY sm.series_id, g.agency_id
""",
    """
INSERT INTO series_case_sightings (series_id, case_id, n)
SELECT sm.series_id, g.case_id, count(*)
  FROM series_media sm JOIN sighting g ON g.media_id = sm.media_id
 WHERE sm.deleted_at IS NULL AND g.deleted_at IS NULL
 GROUP BY sm.series_id, g.case_id
""",
)

# -- SQLite triggers -----------------------------------------------------------------
# Each change is "take away the old row's part (if it counted), add the new row's
# part (if it counts)"; the bodies below are written once per direction with NEW/OLD
# and +1/-1 filled in. SQLite serialises writers, so plain statements are atomic.


def _sqlite_member(row: str, sign: str) -> list[str]:
    """A membership ``row`` (NEW/OLD) added (sign +) or taken away (sign -)."""
    return [
        f"""INSERT INTO series_stats (series_id, members)
 SELECT {row}.series_id, {sign}1 FROM media m WHERE m.id = {row}.media_id AND m.deleted_at IS NULL
 ON CONFLICT (series_id) DO UPDATE SET members = members + excluded.members""",
        f"""INSERT INTO series_case_sightings (series_id, case_id, n)
 SELECT {row}.series_id, g.case_id, {sign}count(*) FROM sighting g
  WHERE g.media_id = {row}.media_id AND g.deleted_at IS NULL GROUP BY g.case_id
 ON CONFLICT (series_id, case_id) DO UPDATE SET n = n + excluded.n""",
        *(
            [
                # a removal touching an agency's first or last sighting: times inexact
                f"""UPDATE series_agency_submissions SET exact = 0
 WHERE series_id = {row}.series_id AND exact AND EXISTS (
   SELECT 1 FROM sighting g WHERE g.media_id = {row}.media_id
      AND g.agency_id = series_agency_submissions.agency_id AND g.deleted_at IS NULL
      AND (g.seen_at <= series_agency_submissions.first_seen
           OR g.seen_at >= series_agency_submissions.last_seen))""",
                f"""UPDATE series_agency_submissions SET media = media - 1
 WHERE series_id = {row}.series_id AND agency_id IN (
   SELECT agency_id FROM media_agency_sightings WHERE media_id = {row}.media_id AND n > 0)""",
            ]
            if sign == "-"
            else [
                f"""INSERT INTO series_agency_submissions
   (series_id, agency_id, media, first_seen, last_seen, exact)
 SELECT {row}.series_id, g.agency_id, 1, min(g.seen_at), max(g.seen_at), 1 FROM sighting g
  WHERE g.media_id = {row}.media_id AND g.deleted_at IS NULL GROUP BY g.agency_id
 ON CONFLICT (series_id, agency_id) DO UPDATE SET
   exact = CASE WHEN media <= 0 THEN 1 ELSE exact END,
   first_seen = CASE WHEN media <= 0 THEN excluded.first_seen
                ELSE min(first_seen, excluded.first_seen) END,
   last_seen = CASE WHEN media <= 0 THEN excluded.last_seen
               ELSE max(last_seen, excluded.last_seen) END,
   media = media + 1"""
            ]
        ),
    ]


def _sqlite_sighting(row: str, sign: str) -> list[str]:
    """A sighting ``row`` (NEW/OLD) added (sign +) or taken away (sign -)."""
    live = f"""SELECT sm.series_id FROM series_media sm
  WHERE sm.media_id = {row}.media_id AND sm.deleted_at IS NULL"""
    mas = f"""(SELECT n FROM media_agency_sightings
   WHERE media_id = {row}.media_id AND agency_id = {row}.agency_id)"""
    out = [
        f"""INSERT INTO media_agency_sightings (media_id, agency_id, n)
 VALUES ({row}.media_id, {row}.agency_id, {sign}1)
 ON CONFLICT (media_id, agency_id) DO UPDATE SET n = n + excluded.n""",
        f"""INSERT INTO series_case_sightings (series_id, case_id, n)
 SELECT sm.series_id, {row}.case_id, {sign}1 FROM series_media sm
  WHERE sm.media_id = {row}.media_id AND sm.deleted_at IS NULL
 ON CONFLICT (series_id, case_id) DO UPDATE SET n = n + excluded.n""",
    ]
    if sign == "+":
        out += [
            # the agency's first live sighting of the item: one more member for it
            f"""INSERT INTO series_agency_submissions
   (series_id, agency_id, media, first_seen, last_seen, exact)
 SELECT sm.series_id, {row}.agency_id, 1, {row}.seen_at, {row}.seen_at, 1 FROM series_media sm
  WHERE sm.media_id = {row}.media_id AND sm.deleted_at IS NULL AND {mas} = 1
 ON CONFLICT (series_id, agency_id) DO UPDATE SET
   exact = CASE WHEN media <= 0 THEN 1 ELSE exact END,
   first_seen = CASE WHEN media <= 0 THEN excluded.first_seen
                ELSE min(first_seen, excluded.first_seen) END,
   last_seen = CASE WHEN media <= 0 THEN excluded.last_seen
               ELSE max(last_seen, excluded.last_seen) END,
   media = media + 1""",
            f"""UPDATE series_agency_submissions
 SET first_seen = min(first_seen, {row}.seen_at), last_seen = max(last_seen, {row}.seen_at)
 WHERE agency_id = {row}.agency_id AND series_id IN ({live}) AND {mas} > 1
   AND ({row}.seen_at < first_seen OR {row}.seen_at > last_seen)""",
        ]
    else:
        out += [
            f"""UPDATE series_agency_submissions SET exact = 0
 WHERE agency_id = {row}.agency_id AND series_id IN ({live}) AND exact
   AND ({row}.seen_at <= first_seen OR {row}.seen_at >= last_seen)""",
            f"""UPDATE series_agency_submissions SET media = media - 1
 WHERE agency_id = {row}.agency_id AND series_id IN ({live}) AND {mas} = 0""",
            f"""DELETE FROM media_agency_sightings
 WHERE media_id = {row}.media_id AND agency_id = {row}.agency_id AND n = 0""",
        ]
    return out


def _sqlite_media(row: str, sign: str) -> list[str]:
    return [
        f"""INSERT INTO series_stats (series_id, members)
 SELECT sm.series_id, {sign}1 FROM series_media sm
  WHERE sm.media_id = {row}.id AND sm.deleted_at IS NULL
 ON CONFLICT (series_id) DO UPDATE SET members = members + excluded.members"""
    ]


def _sqlite_trigger(name: str, when: str, table: str, cond: str, body: list[str]) -> str:
    stmts = ";\n".join(body)
    where = f" WHEN {cond}" if cond else ""
    return (
        f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where}\nBEGIN\n{stmts};\nEND"
    )


_LIVE_CHANGED = (
    "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    " OR OLD.media_id <> NEW.media_id OR OLD.{key} <> NEW.{key}"
)


def _sqlite_triggers() -> list[str]:
    sm_upd = _LIVE_CHANGED.format(key="series_id")
    g_upd = _LIVE_CHANGED.format(key="case_id") + (
        " OR OLD.agency_id <> NEW.agency_id OR OLD.seen_at <> NEW.seen_at"
    )
    return [
        _sqlite_trigger(
            "tessera_agg_sm_ins",
            "INSERT",
            "series_media",
            "NEW.deleted_at IS NULL",
            _sqlite_member("NEW", "+"),
        ),
        _sqlite_trigger(
            "tessera_agg_sm_del",
            "DELETE",
            "series_media",
            "OLD.deleted_at IS NULL",
            _sqlite_member("OLD", "-"),
        ),
        _sqlite_trigger(
            "tessera_agg_sm_upd_old",
            "UPDATE",
            "series_media",
            f"OLD.deleted_at IS NULL AND ({sm_upd})",
            _sqlite_member("OLD", "-"),
        ),
        _sqlite_trigger(
            "tessera_agg_sm_upd_new",
            "UPDATE",
            "series_media",
            f"NEW.deleted_at IS NULL AND ({sm_upd})",
            _sqlite_member("NEW", "+"),
        ),
        _sqlite_trigger(
            "tessera_agg_g_ins",
            "INSERT",
            "sighting",
            "NEW.deleted_at IS NULL",
            _sqlite_sighting("NEW", "+"),
        ),
        _sqlite_trigger(
            "tessera_agg_g_del",
            "DELETE",
            "sighting",
            "OLD.deleted_at IS NULL",
            _sqlite_sighting("OLD", "-"),
        ),
        _sqlite_trigger(
            "tessera_agg_g_upd_old",
            "UPDATE",
            "sighting",
            f"OLD.deleted_at IS NULL AND ({g_upd})",
            _sqlite_sighting("OLD", "-"),
        ),
        _sqlite_trigger(
            "tessera_agg_g_upd_new",
            "UPDATE",
            "sighting",
            f"NEW.deleted_at IS NULL AND ({g_upd})",
            _sqlite_sighting("NEW", "+"),
        ),
        _sqlite_trigger(
            "tessera_agg_m_gone",
            "UPDATE OF deleted_at",
            "media",
            "OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL",
            _sqlite_media("OLD", "-"),
        ),
        _sqlite_trigger(
            "tessera_agg_m_back",
            "UPDATE OF deleted_at",
            "media",
            "OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL",
            _sqlite_media("NEW", "+"),
        ),
    ]


SQLITE_TRIGGERS = (
    "tessera_agg_sm_ins",
    "tessera_agg_sm_del",
    "tessera_agg_sm_upd_old",
    "tessera_agg_sm_upd_new",
    "tessera_agg_g_ins",
    "tessera_agg_g_del",
    "tessera_agg_g_upd_old",
    "tessera_agg_g_upd_new",
    "tessera_agg_m_gone",
    "tessera_agg_m_back",
)

# -- PostgreSQL trigger functions ----------------------------------------------------

_PG_MEMBER = """
CREATE FUNCTION tessera_agg_member(p_series bigint, p_media bigint, p_sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  -- one writer at a time per media item: a membership and a sighting of the same item
  -- added at once by two transactions would otherwise each miss the other's row
  PERFORM 1 FROM media WHERE id = p_media FOR NO KEY UPDATE;
  INSERT INTO series_stats AS t (series_id, members)
  SELECT p_series, p_sign FROM media m WHERE m.id = p_media AND m.deleted_at IS NULL
  ON CONFLICT (series_id) DO UPDATE SET members = t.members + excluded.members;

  INSERT INTO series_case_sightings AS t (series_id, case_id, n)
  SELECT p_series, g.case_id, p_sign * count(*) FROM sighting g
   WHERE g.media_id = p_media AND g.deleted_at IS NULL GROUP BY g.case_id
   ORDER BY g.case_id
  ON CONFLICT (series_id, case_id) DO UPDATE SET n = t.n + excluded.n;

  IF p_sign > 0 THEN
    INSERT INTO series_agency_submissions AS t
           (series_id, agency_id, media, first_seen, last_seen, exact)
    SELECT p_series, g.agency_id, 1, min(g.seen_at), max(g.seen_at), true FROM sighting g
     WHERE g.media_id = p_media AND g.deleted_at IS NULL GROUP BY g.agency_id
     ORDER BY g.agency_id
    ON CONFLICT (series_id, agency_id) DO UPDATE SET
      exact = CASE WHEN t.media <= 0 THEN true ELSE t.exact END,
      first_seen = CASE WHEN t.media <= 0 THEN excluded.first_seen
                   ELSE least(t.first_seen, excluded.first_seen) END,
      last_seen = CASE WHEN t.media <= 0 THEN excluded.last_seen
                  ELSE greatest(t.last_seen, excluded.last_seen) END,
      media = t.media + 1;
  ELSE
    UPDATE series_agency_submissions t SET
      media = t.media - 1,
      exact = t.exact AND NOT EXISTS (
        SELECT 1 FROM sighting g WHERE g.media_id = p_media AND g.agency_id = t.agency_id
           AND g.deleted_at IS NULL
           AND (g.seen_at <= t.first_seen OR g.seen_at >= t.last_seen))
     WHERE t.series_id = p_series AND t.agency_id IN (
       SELECT a.agency_id FROM media_agency_sightings a WHERE a.media_id = p_media AND a.n > 0);
  END IF;
END $$
"""

_PG_SIGHTING = """
CREATE FUNCTION tessera_agg_sighting(p_media bigint, p_case bigint, p_agency bigint,
                                     p_seen timestamptz, p_sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
DECLARE
  v_n integer;
BEGIN
  -- one writer at a time per media item: a membership and a sighting of the same item
  -- added at once by two transactions would otherwise each miss the other's row
  PERFORM 1 FROM media WHERE id = p_media FOR NO KEY UPDATE;
  INSERT INTO media_agency_sightings AS t (media_id, agency_id, n)
  VALUES (p_media, p_agency, p_sign)
  ON CONFLICT (media_id, agency_id) DO UPDATE SET n = t.n + excluded.n
  RETURNING t.n INTO v_n;

  INSERT INTO series_case_sightings AS t (series_id, case_id, n)
  SELECT sm.series_id, p_case, p_sign FROM series_media sm
   WHERE sm.media_id = p_media AND sm.deleted_at IS NULL ORDER BY sm.series_id
  ON CONFLICT (series_id, case_id) DO UPDATE SET n = t.n + excluded.n;

  IF p_sign > 0 AND v_n = 1 THEN
    INSERT INTO series_agency_submissions AS t
           (series_id, agency_id, media, first_seen, last_seen, exact)
    SELECT sm.series_id, p_agency, 1, p_seen, p_seen, true FROM series_media sm
     WHERE sm.media_id = p_media AND sm.deleted_at IS NULL ORDER BY sm.series_id
    ON CONFLICT (series_id, agency_id) DO UPDATE SET
      exact = CASE WHEN t.media <= 0 THEN true ELSE t.exact END,
      first_seen = CASE WHEN t.media <= 0 THEN excluded.first_seen
                   ELSE least(t.first_seen, excluded.first_seen) END,
      last_seen = CASE WHEN t.media <= 0 THEN excluded.last_seen
                  ELSE greatest(t.last_seen, excluded.last_seen) END,
      media = t.media + 1;
  ELSIF p_sign > 0 THEN
    UPDATE series_agency_submissions t
       SET first_seen = least(t.first_seen, p_seen), last_seen = greatest(t.last_seen, p_seen)
     WHERE t.agency_id = p_agency AND (p_seen < t.first_seen OR p_seen > t.last_seen)
       AND t.series_id IN (SELECT sm.series_id FROM series_media sm
                            WHERE sm.media_id = p_media AND sm.deleted_at IS NULL);
  ELSE
    UPDATE series_agency_submissions t
       SET media = t.media - CASE WHEN v_n = 0 THEN 1 ELSE 0 END,
           exact = t.exact AND NOT (p_seen <= t.first_seen OR p_seen >= t.last_seen)
     WHERE t.agency_id = p_agency
       AND t.series_id IN (SELECT sm.series_id FROM series_media sm
                            WHERE sm.media_id = p_media AND sm.deleted_at IS NULL);
    IF v_n = 0 THEN
      DELETE FROM media_agency_sightings WHERE media_id = p_media AND agency_id = p_agency
         AND n = 0;
    END IF;
  END IF;
END $$
"""

_PG_MEDIA = """
CREATE FUNCTION tessera_agg_media(p_media bigint, p_sign integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  INSERT INTO series_stats AS t (series_id, members)
  SELECT sm.series_id, p_sign FROM series_media sm
   WHERE sm.media_id = p_media AND sm.deleted_at IS NULL ORDER BY sm.series_id
  ON CONFLICT (series_id) DO UPDATE SET members = t.members + excluded.members;
END $$
"""

_PG_TRIGGER_FUNCTIONS = (
    """
CREATE FUNCTION tessera_agg_series_media_trg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
    PERFORM tessera_agg_member(OLD.series_id, OLD.media_id, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
    PERFORM tessera_agg_member(NEW.series_id, NEW.media_id, 1);
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE FUNCTION tessera_agg_sighting_trg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
    PERFORM tessera_agg_sighting(OLD.media_id, OLD.case_id, OLD.agency_id, OLD.seen_at, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
    PERFORM tessera_agg_sighting(NEW.media_id, NEW.case_id, NEW.agency_id, NEW.seen_at, 1);
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE FUNCTION tessera_agg_media_trg() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
BEGIN
  IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
    PERFORM tessera_agg_media(OLD.id, -1);
  ELSIF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
    PERFORM tessera_agg_media(NEW.id, 1);
  END IF;
  RETURN NULL;
END $$
""",
)

_PG_TRIGGERS = (
    # an UPDATE counts only when it moves a row in or out of what is counted
    "CREATE TRIGGER tessera_agg_series_media_iud AFTER INSERT OR DELETE ON series_media "
    "FOR EACH ROW EXECUTE FUNCTION tessera_agg_series_media_trg()",
    "CREATE TRIGGER tessera_agg_series_media_upd AFTER UPDATE ON series_media FOR EACH ROW "
    "WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) "
    "OR OLD.media_id <> NEW.media_id OR OLD.series_id <> NEW.series_id) "
    "EXECUTE FUNCTION tessera_agg_series_media_trg()",
    "CREATE TRIGGER tessera_agg_sighting_iud AFTER INSERT OR DELETE ON sighting "
    "FOR EACH ROW EXECUTE FUNCTION tessera_agg_sighting_trg()",
    "CREATE TRIGGER tessera_agg_sighting_upd AFTER UPDATE ON sighting FOR EACH ROW "
    "WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) "
    "OR OLD.media_id <> NEW.media_id OR OLD.case_id <> NEW.case_id "
    "OR OLD.agency_id <> NEW.agency_id OR OLD.seen_at <> NEW.seen_at) "
    "EXECUTE FUNCTION tessera_agg_sighting_trg()",
    "CREATE TRIGGER tessera_agg_media_upd AFTER UPDATE OF deleted_at ON media FOR EACH ROW "
    "WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)) "
    "EXECUTE FUNCTION tessera_agg_media_trg()",
)
PG_TRIGGERS = (
    ("tessera_agg_series_media_iud", "series_media"),
    ("tessera_agg_series_media_upd", "series_media"),
    ("tessera_agg_sighting_iud", "sighting"),
    ("tessera_agg_sighting_upd", "sighting"),
    ("tessera_agg_media_upd", "media"),
)
PG_FUNCTIONS = (
    "tessera_agg_series_media_trg()",
    "tessera_agg_sighting_trg()",
    "tessera_agg_media_trg()",
    "tessera_agg_member(bigint, bigint, integer)",
    "tessera_agg_sighting(bigint, bigint, bigint, timestamptz, integer)",
    "tessera_agg_media(bigint, integer)",
)
_SERIES_READ = "tessera_series_level(series_id) >= 1"
_PG_POLICIES = (
    "ALTER TABLE series_stats ENABLE ROW LEVEL SECURITY",
    f"CREATE POLICY tessera_read ON series_stats FOR SELECT USING ({_SERIES_READ})",
    "ALTER TABLE series_agency_submissions ENABLE ROW LEVEL SECURITY",
    f"CREATE POLICY tessera_read ON series_agency_submissions FOR SELECT USING ({_SERIES_READ})",
    "ALTER TABLE series_case_sightings ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY tessera_read ON series_case_sightings FOR SELECT USING "
    f"({_SERIES_READ} AND tessera_case_level(case_id) >= 1)",
    # read and written by the trigger functions only
    "ALTER TABLE media_agency_sightings ENABLE ROW LEVEL SECURITY",
)


def _create_tables() -> None:
    op.create_table(
        "series_stats",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_stats_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", name="pk_series_stats"),
    )
    op.create_table(
        "media_agency_sightings",
        sa.Column("media_id", sa.BigInteger(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("media_id", "agency_id", name="pk_media_agency_sightings"),
    )
    op.create_table(
        "series_agency_submissions",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("media", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exact", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_agency_submissions_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "agency_id", name="pk_series_agency_submissions"),
    )
    op.create_table(
        "series_case_sightings",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name="fk_series_case_sightings_series_id_series",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("series_id", "case_id", name="pk_series_case_sightings"),
    )
    # the graph of a case: its series by weight
    op.create_index("ix_series_case_sightings_case_id", "series_case_sightings", ["case_id"])


def upgrade() -> None:
    _create_tables()
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    for stmt in _BACKFILL:
        op.execute(stmt.format(true="true" if pg else "1"))
    if pg:
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        pinned = f"{path}, pg_temp"
        for fn in (_PG_MEMBER, _PG_SIGHTING, _PG_MEDIA, *_PG_TRIGGER_FUNCTIONS):
            op.execute(fn.format(path=pinned))
        for stmt in (*_PG_TRIGGERS, *_PG_POLICIES):
            op.execute(stmt)
    else:
        for stmt in _sqlite_triggers():
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for fn in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_series_case_sightings_case_id", table_name="series_case_sightings")
    for table in reversed(TABLES):
        op.drop_table(table)
