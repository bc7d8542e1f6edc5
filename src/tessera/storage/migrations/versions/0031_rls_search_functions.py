"""``tessera_text_search``, ``tessera_camera_search``, ``tessera_metadata_in_boxes``: the
match first, the read rule after it, for a connection that Row-Level Security filters.

Under RLS the read policy of ``media_text`` (``tessera_media_level(media_id) >= 3``)
is a security barrier: PostgreSQL checks it on a row before any operator that is not
LEAKPROOF, and ``@@`` is not, so a text search called ``tessera_media_level`` on every
text row of the database before looking at its words (10,000 calls for a search
matching 1,215 of them on the 100k-media bench home). Marking the operator LEAKPROOF
needs a superuser, and would be false.

The function runs as the table owner (no policy) and does what the policy-filtered
query did, in another order: the match through the GIN index, the page's order
(relevance or media id, either way round, ties by media id and row id as
``tessera.storage.text_search`` orders them), then, item by item in that order until
the page is full, the join's condition (the item is not deleted: one look-up by id,
where a join planned a scan of every media row, 28 of 48 ms) and the read rule: rows
either refuses are not counted, so ``p_offset`` and ``p_limit`` count visible rows as
OFFSET and LIMIT did. The rule is the policies' own: the text row's
``tessera_media_level(media_id) >= 3``; the joined ``media`` row's policy
(``tessera_is_index() OR tessera_media_level(id) >= 1``) holds whenever that does, as
it is the same item. A caller who sees nothing gets nothing, after every match was
checked (as before, but matches only).

Measured through ``bench_web.py --service-role`` (100k media, ``search text``:
``harbour hotel``, 10 requests, main's query and this function alternated twice on one
schema, load 5.5-7.8): PostgreSQL CPU per page 451-538 -> 22-49 ms, p95 1,012-1,645
-> 130-236 ms.

``tessera_camera_search`` does the same for the camera serial search without a make
(``tessera.storage.metadata_search.by_camera_key``): ``right(camera_key, n) =
'/serial'`` is not LEAKPROOF either, so the policy-filtered query checked the read
rule on every ``media_metadata`` row it read in media id order until the page was
full (~3,000 rows for 25 hits of a serial on 1 % of the items: 205 ms as the service
role in psql). The function reads the same index order as the owner, the serial
first, then the item's not-deleted condition and the read rule
(``tessera_media_level(media_id) >= 3``, as the policy), under the page's LIMIT: 2-20
ms. Oldest first after ``p_after``, or newest first below it (all when it is 0).

``tessera_metadata_in_boxes`` serves the GPS links of a media item and a series
(``tessera.storage.camera_links``: the media within 100 m of a point, up to 10 points
a series page): the policy-filtered join checked the rule twice a row, once for the
``media_metadata`` row (``>= 3``) and once for its ``media`` row (``>= 1``, implied by
the first); the function reads the same latitude/longitude boxes as the owner and
checks ``tessera_media_level(media_id) >= 3`` once a row.

``tests/storage/test_rls_search_functions.py`` compares the three with the policy-filtered
queries as a role RLS filters, for every caller of seeded worlds. The application
calls them only where ``row_security_active`` says RLS filters the connection (the
service role); a connection RLS does not filter (the owner: migrations, the local
operator) reads as before. SQLite has no RLS and keeps its queries.

Revision ID: 0031
Revises: 0027
Create Date: 2026-12-06 10:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0031"
down_revision = "0027"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE FUNCTION tessera_text_search(p_query text, p_relevance boolean, p_descending boolean,
                                    p_limit integer, p_offset integer)
RETURNS SETOF media_text LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = {path} AS $$
DECLARE
  v_sign integer := CASE WHEN p_descending THEN -1 ELSE 1 END;
  v_skip integer := p_offset;
  v_left integer := p_limit;
  v_query tsquery := to_tsquery('simple', p_query);
  r media_text;
BEGIN
  IF p_limit IS NULL OR p_offset IS NULL OR p_limit < 1 OR p_offset < 0 THEN RETURN; END IF;
  FOR r IN
    SELECT t.* FROM media_text t
     WHERE to_tsvector('simple', t.text) @@ v_query
     ORDER BY CASE WHEN p_relevance
                   THEN -v_sign * ts_rank(to_tsvector('simple', t.text), v_query) END,
              v_sign * t.media_id, v_sign * t.id
  LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM media m
                               WHERE m.id = r.media_id AND m.deleted_at IS NULL);
    CONTINUE WHEN NOT coalesce(tessera_media_level(r.media_id) >= 3, false);
    IF v_skip > 0 THEN
      v_skip := v_skip - 1;
      CONTINUE;
    END IF;
    RETURN NEXT r;
    v_left := v_left - 1;
    EXIT WHEN v_left = 0;
  END LOOP;
END $$
"""

# the dynamic statement is one of four fixed texts (no caller's text in it), planned
# with the page's values: LIMIT known, the planner reads media_id's index in order
_CAMERA = """
CREATE FUNCTION tessera_camera_search(p_suffix text, p_newest boolean, p_after bigint,
                                      p_limit integer)
RETURNS SETOF media_metadata LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = {path} AS $$
BEGIN
  IF p_suffix IS NULL OR p_newest IS NULL OR p_after IS NULL OR p_limit IS NULL
     OR p_limit < 1 THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE
    'SELECT mm.* FROM media_metadata mm WHERE right(mm.camera_key, length($1)) = $1'
    || CASE WHEN NOT p_newest THEN ' AND mm.media_id > $2'
            WHEN p_after <> 0 THEN ' AND mm.media_id < $2' ELSE '' END
    || ' AND EXISTS (SELECT 1 FROM media m WHERE m.id = mm.media_id AND m.deleted_at IS NULL)'
       ' AND tessera_media_level(mm.media_id) >= 3 ORDER BY mm.media_id'
    || CASE WHEN p_newest THEN ' DESC' ELSE '' END || ' LIMIT $3'
    USING p_suffix, p_after, p_limit;
END $$
"""
# per box (its number, a latitude and a longitude range; a box across the antimeridian
# is two with one number): the metadata rows inside it whose item is live and which
# the caller sees in full, the rule checked once a row
_BOXES = """
CREATE FUNCTION tessera_metadata_in_boxes(p_box bigint[], p_lat_lo float8[],
                                          p_lat_hi float8[], p_lon_lo float8[],
                                          p_lon_hi float8[])
RETURNS TABLE (j bigint, media_id bigint, latitude float8, longitude float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {path} AS $$
  SELECT b.j, md.media_id, md.latitude, md.longitude
    FROM unnest(p_box, p_lat_lo, p_lat_hi, p_lon_lo, p_lon_hi) AS b(j, lat_lo, lat_hi, lo, hi)
    JOIN media_metadata md ON md.latitude BETWEEN b.lat_lo AND b.lat_hi
     AND md.longitude BETWEEN b.lo AND b.hi
    JOIN media m ON m.id = md.media_id AND m.deleted_at IS NULL
   WHERE tessera_media_level(md.media_id) >= 3
$$
"""
SIGNATURES = (
    "tessera_text_search(text, boolean, boolean, integer, integer)",
    "tessera_camera_search(text, boolean, bigint, integer)",
    "tessera_metadata_in_boxes(bigint[], float8[], float8[], float8[], float8[])",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        path = bind.exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
        op.execute(_FUNCTION.format(path=f"{path}, pg_temp"))
        op.execute(_CAMERA.format(path=f"{path}, pg_temp"))
        op.execute(_BOXES.format(path=f"{path}, pg_temp"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for signature in SIGNATURES:
            op.execute(f"DROP FUNCTION IF EXISTS {signature}")
