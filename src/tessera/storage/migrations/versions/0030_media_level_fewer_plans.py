"""``tessera_media_level`` (the read rule of media, fingerprints, metadata, text, markers):
the same rule, without three correlated grant look-ups planned into every call.

Measured as the table owner on the 100k-media bench home (``bench_web.py``'s
``bench_web9``, 5,000 calls, load 8.5): 0029's function took 186-232 us a call, of
which ~170 us went to its three grant sub-queries (one per kind of container), even
for items whose containers are all the caller's own, where they never run: removing
them alone brought a call to ~60 us. The policy calls it once per row read through
Row-Level Security, so every page that reads a few hundred rows paid it.

The new function reads the item's containers once (series memberships, sightings'
cases, exchange entries, as 0029 did) into: does the caller own one, does another
agency's entry sit in a case the caller owns (``full``, never capped), and which
series and cases the caller does not own. An owned container without a blind link
is ``full`` and ends the call; otherwise the grants of the others are read in one
join (most specific grant first: agency, country, network; else a series is
``status`` and a case ``none``), and an owned container under a blind link counts as
``status`` (migration 0019). The rule is 0019's term for term:
``tests/storage/test_media_level_function.py`` compares it with 0019's definition
for every item and caller of seeded random worlds, and with 0029's. Measured the
same way: 63-68 us a call for the owner, 88 us for another agency's caller
(0029: 186-190 us).

The read policies of ``media_text``, ``media_metadata``, ``marker`` and
``media_location`` say ``tessera_media_level(media_id) >= 3`` instead of ``= 3``: the
same rows (the level is 0 to 3), but the planner guesses a third of the rows pass an
inequality and 1 in 200 an equality, so with ``= 3`` it believed a page's rows were
few and read them all to sort them (the marker search: every ``poster`` marker of
1,000, each policy-checked, 388 ms as the service role at load 11) instead of reading
the index in order and stopping at the page's end (25 rows: 31 ms).

Revision ID: 0030
Revises: 0026
Create Date: 2026-12-06 07:55:00
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0026"
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
  v_own boolean;
  v_top boolean;
  v_series bigint[];
  v_cases bigint[];
  v_level integer;
BEGIN
  IF v_code = '' THEN RETURN 0; END IF;
  SELECT a.id, a.country INTO v_id, v_country FROM agency a WHERE a.code = v_code;
  IF v_id IS NULL THEN RETURN 0; END IF;
  SELECT coalesce(bool_or(x.own), false), coalesce(bool_or(x.top), false),
         array_agg(x.sid) FILTER (WHERE x.sid IS NOT NULL),
         array_agg(x.cid) FILTER (WHERE x.cid IS NOT NULL)
    INTO v_own, v_top, v_series, v_cases
    FROM (
      SELECT coalesce(s.agency_id = v_id, false) AS own, false AS top,
             CASE WHEN s.agency_id = v_id THEN NULL ELSE s.id END AS sid, NULL::bigint AS cid
        FROM series_media sm JOIN series s ON s.id = sm.series_id
       WHERE sm.media_id = p_media
      UNION ALL
      SELECT coalesce(c.agency_id = v_id, false), false,
             NULL, CASE WHEN c.agency_id = v_id THEN NULL ELSE c.id END
        FROM sighting si JOIN cases c ON c.id = si.case_id
       WHERE si.media_id = p_media
      UNION ALL
      SELECT coalesce(e.agency_id = v_id, false),
             coalesce(e.agency_id <> v_id AND c.agency_id = v_id, false),
             NULL,
             CASE WHEN e.agency_id = v_id OR c.agency_id = v_id THEN NULL ELSE c.id END
        FROM exchange_entry e LEFT JOIN cases c ON c.id = e.case_id
       WHERE e.media_id = p_media
    ) x;
  IF v_top THEN RETURN 3; END IF;
  IF v_own THEN
    v_blind := EXISTS (SELECT 1 FROM blind_link b
                        WHERE b.media_id = p_media AND b.agency_id = v_id);
    IF NOT v_blind THEN RETURN 3; END IF;
  END IF;
  v_level := CASE WHEN v_own THEN 2 ELSE 0 END;
  IF v_series IS NULL AND v_cases IS NULL THEN RETURN v_level; END IF;
  SELECT greatest(v_level, coalesce(max(coalesce(y.best, y.dflt)), 0)) INTO v_level
    FROM (
      SELECT 2 AS dflt, (array_agg(tessera_level_rank(g.level)
                ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END)
                FILTER (WHERE g.id IS NOT NULL))[1] AS best
        FROM unnest(v_series) u(id)
        LEFT JOIN sharing_grant g ON g.series_id = u.id
         AND ((g.scope = 'agency' AND g.grantee = v_code)
           OR (g.scope = 'country' AND g.grantee = v_country) OR g.scope = 'network')
       GROUP BY u.id
      UNION ALL
      SELECT 0, (array_agg(tessera_level_rank(g.level)
                ORDER BY CASE g.scope WHEN 'agency' THEN 0 WHEN 'country' THEN 1 ELSE 2 END)
                FILTER (WHERE g.id IS NOT NULL))[1]
        FROM unnest(v_cases) u(id)
        LEFT JOIN sharing_grant g ON g.case_id = u.id
         AND ((g.scope = 'agency' AND g.grantee = v_code)
           OR (g.scope = 'country' AND g.grantee = v_country) OR g.scope = 'network')
       GROUP BY u.id
    ) y;
  RETURN v_level;
END $$
"""


# 0029's definition, restored by downgrade
_MEDIA_LEVEL_0029 = """
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


FULL_ONLY = ("media_text", "media_metadata", "marker", "media_location")
"""Tables whose rows are read only at ``full`` (migration 0006)."""


def _apply(sql: str, rule: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(sql.format(path=f"{path}, pg_temp"))
        for table in FULL_ONLY:
            op.execute(
                f"ALTER POLICY tessera_read ON {table} USING (tessera_media_level(media_id) {rule})"
            )


def upgrade() -> None:
    _apply(_MEDIA_LEVEL, ">= 3")


def downgrade() -> None:
    _apply(_MEDIA_LEVEL_0029, "= 3")
