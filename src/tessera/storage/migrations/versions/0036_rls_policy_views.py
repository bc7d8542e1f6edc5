"""Read policies as plain SQL the planner runs inside each query, not a function call a row.

Measured as the service role on the 100k-media bench home (``bench_web.py
--service-role``, load ~3.5): ``tessera_media_level`` costs ~37 us a call and
``tessera_series_level`` ~17 us, against ~3.4 us for the same probes written as a
correlated ``EXISTS`` in the query (a function's own statements each pay executor
start-up and shutdown, the call a SECURITY DEFINER context switch). The read policies
call one of them once per row read, so a page's reads of a few hundred rows spent
much of their database time there (a media item's 200 same-camera rows, two policies
a row: ~17 ms).

The read rules of ``media``, ``fingerprint`` and ``exchange_hash`` (level >= hash),
``media_text``, ``media_metadata``, ``marker`` and ``media_location`` (full),
``series_media`` (its series at hash or more) and ``sighting`` (its case at hash or
more) now say ``EXISTS (SELECT 1 FROM <view> v WHERE v.seen_id = <the row's id>
OFFSET 0)``. Each view lists what the caller named by ``tessera.agency`` sees at that
level, one row per container granting it, the rule of ``tessera_media_level``
(migration 0030) and ``tessera_series_level`` / ``tessera_case_level`` (0006) term for
term:

* no caller (or an unknown agency) sees nothing;
* the caller's own series, case or exchange entry gives ``full``, ``status`` where the
  caller holds a blind link to the item (migration 0019);
* another agency's exchange entry in the caller's own case gives ``full``;
* anything else of another agency gives its best grant to the caller (agency before
  country before network), else ``status`` for a series and ``none`` for a case.

The caller's agency is read once per statement (an InitPlan); a container of the
caller's own costs an index probe in the query's executor; only another agency's pays
a call of 0006's ``tessera_grant_level``. ``OFFSET 0`` keeps the ``EXISTS`` a probe
per row: without it the planner may hash every id the caller sees (~0.5 s for 100k
media) for a page that reads 50 rows. The price is planning: a statement reading
``media`` plans ~0.25 ms longer (0.36 against 0.11 ms). 2,000 media rows read in id
order: 151 -> 19 ms; 2,000 metadata rows: 158 -> 12 ms; 2,000 memberships: 46 -> 2 ms.

A view is owned by the tables' owner, so the tables it reads are read without their
own policies (no recursion), and it shows only what the caller may see anyway (the
ids the policy lets through). Every role that may read ``media`` (the service role)
may read them; a role granted ``SELECT ON ALL TABLES`` later gets them with the
tables. ``tessera_media_level`` and the other functions stay for the write policies
and the search functions (migration 0031). ``tests/storage/test_rls_policy_views.py``
compares every changed policy's rows with the functions' rule, for every caller of
seeded random worlds, as a role RLS filters.

Revision ID: 0036
Revises: 0034
Create Date: 2026-12-06 16:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0036"
down_revision = "0034"
branch_labels = None
depends_on = None

_ME = "(SELECT tessera_caller_agency())"  # an InitPlan: read once per statement


def _other(series: str, case: str, owner: str, default: int) -> str:
    """Another agency's series or case: the caller's best grant on it, else ``default``
    (0 without a caller). Called only for rows the caller does not own (0006's function)."""
    return f"tessera_grant_level({series}, {case}, {owner}, {default})"


def _not_blind(media: str) -> str:
    """No blind link of the caller's to the item (else its own container gives status)."""
    return (
        "NOT EXISTS (SELECT 1 FROM blind_link b"
        f" WHERE b.media_id = {media} AND b.agency_id = {_ME})"
    )


_SERIES = _other("s.id", "NULL", "s.agency_id", 2)
_CASE = _other("NULL", "k.id", "k.agency_id", 0)

VIEWS = {
    # media the caller sees at hash or more: one row per container granting it
    "tessera_rls_media_hash": f"""
SELECT sm.media_id AS seen_id FROM series_media sm JOIN series s ON s.id = sm.series_id
 WHERE s.agency_id = {_ME} OR {_SERIES} >= 1
UNION ALL
SELECT si.media_id FROM sighting si JOIN cases k ON k.id = si.case_id
 WHERE k.agency_id = {_ME} OR {_CASE} >= 1
UNION ALL
SELECT e.media_id FROM exchange_entry e LEFT JOIN cases k ON k.id = e.case_id
 WHERE e.agency_id = {_ME} OR k.agency_id = {_ME} OR {_CASE} >= 1
""",
    # media the caller sees in full
    "tessera_rls_media_full": f"""
SELECT sm.media_id AS seen_id FROM series_media sm JOIN series s ON s.id = sm.series_id
 WHERE CASE WHEN s.agency_id = {_ME} THEN {_not_blind("sm.media_id")} ELSE {_SERIES} = 3 END
UNION ALL
SELECT si.media_id FROM sighting si JOIN cases k ON k.id = si.case_id
 WHERE CASE WHEN k.agency_id = {_ME} THEN {_not_blind("si.media_id")} ELSE {_CASE} = 3 END
UNION ALL
SELECT e.media_id FROM exchange_entry e LEFT JOIN cases k ON k.id = e.case_id
 WHERE CASE WHEN e.agency_id = {_ME} THEN {_not_blind("e.media_id")}
            WHEN k.agency_id = {_ME} THEN true
            ELSE {_CASE} = 3 END
""",
    # series the caller sees at hash or more
    "tessera_rls_series_hash": f"""
SELECT s.id AS seen_id FROM series s WHERE s.agency_id = {_ME} OR {_SERIES} >= 1
""",
    # cases the caller sees at hash or more
    "tessera_rls_case_hash": f"""
SELECT k.id AS seen_id FROM cases k WHERE k.agency_id = {_ME} OR {_CASE} >= 1
""",
}


def _seen(view: str, column: str) -> str:
    # OFFSET 0: a probe per row (a few index reads), never a hash of every id the caller
    # sees (the planner's other choice for an EXISTS: ~0.5 s for 100k media, paid by a
    # page that reads 50 rows, because it costs the filter for the whole index range)
    return f"EXISTS (SELECT 1 FROM {view} v WHERE v.seen_id = {column} OFFSET 0)"


# table -> (read rule now, read rule of 0030 / 0006 restored by downgrade)
POLICIES = {
    "media": (
        f"tessera_is_index() OR {_seen('tessera_rls_media_hash', 'id')}",
        "tessera_is_index() OR tessera_media_level(id) >= 1",
    ),
    "fingerprint": (
        f"tessera_is_index() OR {_seen('tessera_rls_media_hash', 'media_id')}",
        "tessera_is_index() OR tessera_media_level(media_id) >= 1",
    ),
    "exchange_hash": (
        _seen("tessera_rls_media_hash", "media_id"),
        "tessera_media_level(media_id) >= 1",
    ),
    **{
        table: (
            _seen("tessera_rls_media_full", "media_id"),
            "tessera_media_level(media_id) >= 3",
        )
        for table in ("media_text", "media_metadata", "marker", "media_location")
    },
    "series_media": (
        _seen("tessera_rls_series_hash", "series_id"),
        "tessera_series_level(series_id) >= 1",
    ),
    "sighting": (
        _seen("tessera_rls_case_hash", "case_id"),
        "tessera_case_level(case_id) >= 1",
    ),
}


_READERS = """
SELECT DISTINCT CASE WHEN grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(grantee) END
  FROM information_schema.role_table_grants
 WHERE table_schema = current_schema() AND table_name = 'media' AND privilege_type = 'SELECT'
   AND grantee <> current_user
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    readers = op.get_bind().exec_driver_sql(_READERS).scalars().all()
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body}")
        for role in readers:  # whoever reads media (the service role) reads these
            op.execute(f"GRANT SELECT ON {name} TO {role}")
    for table, (rule, _) in POLICIES.items():
        op.execute(f"ALTER POLICY tessera_read ON {table} USING ({rule})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (_, rule) in POLICIES.items():
        op.execute(f"ALTER POLICY tessera_read ON {table} USING ({rule})")
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
