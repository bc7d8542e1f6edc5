"""PostgreSQL Row-Level Security hides the same rows as the application's rules.

The service connects as a login role that neither owns the tables nor has
BYPASSRLS. Raw SQL through that connection (no application filter at all) must
return exactly the rows ``tessera.app.visibility`` allows the caller's agency:
series and their media from ``hash`` up, victim/offender/location links, markers,
OCR text and metadata only at ``full``, nothing at all without a caller. The
expected sets come from ``tests/app/sharing_world.EXPECTED`` (written by hand).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tessera.app import App, Caller, Role, Settings, series
from tessera.app.visibility import Visibility
from tessera.storage import sharing
from tessera.storage.db import Database
from tests.app.sharing_world import (
    CALLER_AGENCY,
    EXPECTED,
    RANK,
    pg_service_world,
    series_name,
)


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Database, Database, dict[str, dict[str, int]]]]:
    """(owner database, service-role database, ids) of one migrated world."""
    yield from pg_service_world()


def _at_least(level: str) -> set[str]:
    return {r for r, lv in EXPECTED.items() if RANK[lv] >= RANK[level]}


def _names(rows: object) -> set[str]:
    return {str(r).removeprefix("S-") for r in rows}  # type: ignore[attr-defined]


def test_the_service_role_is_filtered_and_the_owner_is_not(pg) -> None:  # type: ignore[no-untyped-def]
    owner, service, _ = pg
    with service.session() as s:
        assert sharing.rls_bypass_reasons(s) == []
    with owner.session() as s:
        assert sharing.rls_bypass_reasons(s)  # superuser / owner: named


def test_without_a_caller_raw_sql_sees_nothing(pg) -> None:  # type: ignore[no-untyped-def]
    _, service, _ = pg
    with service.session() as s:
        for table in (
            "series",
            "cases",
            "media",
            "sighting",
            "series_media",
            "marker",
            "media_text",
            "media_metadata",
            "series_victim",
            "sharing_grant",
        ):
            assert s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table


def test_raw_sql_as_a_non_owner_shows_exactly_the_allowed_rows(pg) -> None:  # type: ignore[no-untyped-def]
    owner, service, ids = pg
    by_series = {v["series"]: k for k, v in ids.items()}
    by_media = {v["media"]: k for k, v in ids.items()}
    with service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        assert _names(s.scalars(text("SELECT name FROM series"))) == _at_least("hash")
        sm = s.execute(text("SELECT series_id, media_id FROM series_media")).all()
        assert {by_series[a] for a, _ in sm} == _at_least("hash")
        assert {by_media[m] for m in s.scalars(text("SELECT id FROM media"))} == _at_least("hash")
        fp_media = {by_media[m] for m in s.scalars(text("SELECT media_id FROM media_metadata"))}
        assert fp_media == _at_least("full")
        assert {by_media[m] for m in s.scalars(text("SELECT media_id FROM media_text"))} == (
            _at_least("full")
        )
        assert {by_media[m] for m in s.scalars(text("SELECT media_id FROM marker"))} == (
            _at_least("full")
        )
        for link in ("series_victim", "series_offender", "series_location"):
            rows = s.scalars(text(f"SELECT series_id FROM {link}"))
            assert {by_series[x] for x in rows} == _at_least("full"), link
        # cases default to none: only the caller's own case (and its sighting) is visible
        assert set(s.scalars(text("SELECT number FROM cases"))) == {"C-own"}
        assert s.scalar(text("SELECT count(*) FROM sighting")) == 1
        # a series the caller may not see cannot be found by name either
        assert s.scalar(text("SELECT id FROM series WHERE name = 'S-unshared'")) is None
    with owner.session() as s:  # the owner connection (migrations, local CLI) sees all
        assert s.scalar(text("SELECT count(*) FROM series")) == len(EXPECTED)


def test_kept_series_counts_follow_the_series_and_case_rules(pg) -> None:  # type: ignore[no-untyped-def]
    """Migration 0023's count tables: a series' rows as its series row, a (series,
    case) row only where the case is visible too, the internal per-item table never;
    the service role reads them but cannot write them (only the triggers do)."""
    _, service, ids = pg
    by_series = {v["series"]: k for k, v in ids.items()}
    kept = ("series_stats", "series_agency_submissions", "series_case_sightings")
    with service.session() as s:
        for table in (*kept, "media_agency_sightings"):
            assert s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
        sharing.set_rls_caller(s, CALLER_AGENCY)
        for table in kept[:2]:
            rows = s.scalars(text(f"SELECT series_id FROM {table}"))
            assert {by_series[x] for x in rows} == _at_least("hash"), table
        rows = s.scalars(text("SELECT series_id FROM series_case_sightings"))
        assert {by_series[x] for x in rows} == {"own"}  # cases default to none
        assert s.scalar(text("SELECT count(*) FROM media_agency_sightings")) == 0
    with pytest.raises(DBAPIError, match="row-level security"), service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        s.execute(
            text("INSERT INTO series_stats (series_id, members) VALUES (:i, 7)"),
            {"i": ids["unshared"]["series"]},
        )
    with service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        n = s.execute(
            text("UPDATE series_stats SET members = 7 WHERE series_id = :i"),
            {"i": ids["own"]["series"]},
        ).rowcount
        assert n == 0


def test_rls_refuses_writes_to_other_agencies_rows(pg) -> None:  # type: ignore[no-untyped-def]
    _, service, ids = pg
    with service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        # a series it sees at full but does not own: updates touch no row
        n = s.execute(
            text("UPDATE series SET baseline = true WHERE id = :i"),
            {"i": ids["network-full"]["series"]},
        ).rowcount
        assert n == 0
        assert (
            s.execute(
                text("UPDATE series SET baseline = true WHERE id = :i"), {"i": ids["own"]["series"]}
            ).rowcount
            == 1
        )
    with pytest.raises(DBAPIError, match="row-level security"), service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        s.execute(
            text(
                "INSERT INTO series (name, agency_id, victim_identified, offender_identified, "
                "baseline) SELECT 'forged', id, false, false, false FROM agency "
                "WHERE code = 'NL-A'"
            )
        )
    with pytest.raises(DBAPIError, match="row-level security"), service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        s.execute(
            text(
                "INSERT INTO sharing_grant (series_id, scope, grantee, level, granted_at) "
                "VALUES (:i, 'agency', 'NL-B', 'full', now())"
            ),
            {"i": ids["unshared"]["series"]},
        )


def test_the_application_works_under_rls_and_agrees_with_it(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    owner, service, _ = pg
    caller = Caller(role=Role.ANALYST, user_id=1, email="b@example.org", agency_code="NL-B")
    for db in (owner, service):
        with App(Settings.for_home(tmp_path, database_url=db.url)) as app:
            listed = {x.name.removeprefix("S-") for x in series.list_series(app, caller)}
            assert listed == _at_least("status")
            full = series.show(app, caller, series_name("agency-full"))
            assert full.level == "full" and full.markers


def test_functions_agree_with_the_expected_levels(pg) -> None:  # type: ignore[no-untyped-def]
    _, service, ids = pg
    with service.session() as s:
        sharing.set_rls_caller(s, CALLER_AGENCY)
        for res, want in EXPECTED.items():
            got = s.scalar(text("SELECT tessera_series_level(:i)"), {"i": ids[res]["series"]})
            assert got == RANK[want], res
            got = s.scalar(text("SELECT tessera_media_level(:i)"), {"i": ids[res]["media"]})
            assert got == RANK[want], res


_LEVEL = st.sampled_from([None, "none", "hash", "status", "full"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    levels=st.tuples(_LEVEL, _LEVEL, _LEVEL, _LEVEL, _LEVEL),
    caller=st.sampled_from(["NL-A", "NL-B", "DE-C"]),
)
def test_rls_and_the_application_agree_on_any_grants(  # type: ignore[no-untyped-def]
    pg, levels, caller
) -> None:
    """Random grants on one series: PostgreSQL's level function (as the service role)
    equals the application's ``Visibility`` for every caller agency."""
    network, nl, de, agency_b, agency_c = levels
    owner, service, ids = pg
    sid = ids["default"]["series"]
    grants = [
        ("network", "*", network),
        ("country", "NL", nl),
        ("country", "DE", de),
        ("agency", "NL-B", agency_b),
        ("agency", "DE-C", agency_c),
    ]
    with owner.session() as s:
        s.execute(text("DELETE FROM sharing_grant WHERE series_id = :i"), {"i": sid})
        for scope, grantee, level in grants:
            if level is not None:
                sharing.set_grant(s, "series", sid, scope=scope, grantee=grantee, level=level)  # type: ignore[arg-type]
    try:
        who = Caller(role=Role.ANALYST, user_id=1, email="x@example.org", agency_code=caller)
        with owner.session() as s:
            app_level = int(Visibility.of(s, who).series_level(sid))
        with service.session() as s:
            sharing.set_rls_caller(s, caller)
            db_level = s.scalar(text("SELECT tessera_series_level(:i)"), {"i": sid})
            visible = s.scalar(text("SELECT count(*) FROM series WHERE id = :i"), {"i": sid})
        assert db_level == app_level
        assert visible == (1 if app_level >= 1 else 0)
    finally:
        with owner.session() as s:
            s.execute(text("DELETE FROM sharing_grant WHERE series_id = :i"), {"i": sid})


def test_row_security_use_case_tells_the_service_role_from_the_owner(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tessera.app import sharing as sharing_uc

    owner, service, _ = pg
    op = Caller.local_operator()
    with App(Settings.for_home(tmp_path, database_url=service.url)) as app:
        assert sharing_uc.row_security(app, op).enforced
    with App(Settings.for_home(tmp_path, database_url=owner.url)) as app:
        r = sharing_uc.row_security(app, op)
        assert not r.enforced and r.dialect == "postgresql" and r.reasons


def test_imported_records_follow_the_rules_under_rls(pg) -> None:  # type: ignore[no-untyped-def]
    """An agency's imported record is its own (full to it) and hidden from others, even
    where the media item is shared with them in full: the item's owner shares its own
    rows, not another agency's record of the same content (migration 0019; a record
    filed under a case is read where that case is seen in full)."""
    owner, service, ids = pg
    with owner.session() as s:
        for res in ("unshared", "network-full"):
            s.execute(
                text(
                    "INSERT INTO exchange_entry (media_id, agency_id, source_format, data, "
                    "updated_at) SELECT :m, id, 'hashlist', '{}', now() FROM agency "
                    "WHERE code = 'DE-C'"
                ),
                {"m": ids[res]["media"]},
            )
    try:
        with service.session() as s:
            sharing.set_rls_caller(s, CALLER_AGENCY)
            seen = set(s.scalars(text("SELECT media_id FROM exchange_entry")))
            assert seen == set()
        with service.session() as s:
            sharing.set_rls_caller(s, "DE-C")  # the importer sees its records and media
            assert s.scalar(text("SELECT count(*) FROM exchange_entry")) == 2
            level = s.scalar(
                text("SELECT tessera_media_level(:m)"), {"m": ids["unshared"]["media"]}
            )
            assert level == 3
    finally:
        with owner.session() as s:
            s.execute(text("DELETE FROM exchange_entry"))


def test_the_index_reads_every_hash_and_answers_stay_filtered(pg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The index machinery's connection (tessera.index=on) reads all fingerprints and
    media rows but no series; a PDQ lookup through the API served as the service role
    finds what the caller may see and nothing else."""
    from fastapi.testclient import TestClient

    from tessera.api.factory import create_app
    from tessera.storage.db import Database

    owner, service, ids = pg
    pdq = {"network-status": "f" * 63 + "0", "unshared": "0" * 63 + "f"}
    with owner.session() as s:
        for res, hexhash in pdq.items():
            s.execute(
                text(
                    "INSERT INTO fingerprint (media_id, algorithm, version, position, value, "
                    "quality) VALUES (:m, 'pdq', 1, 0, :v, 100)"
                ),
                {"m": ids[res]["media"], "v": bytes.fromhex(hexhash)},
            )
    try:
        index_db = Database(sharing.index_url(service.url))
        with index_db.session() as s:
            assert s.scalar(text("SELECT count(*) FROM fingerprint")) == 2
            assert s.scalar(text("SELECT count(*) FROM media")) == len(ids)
            assert s.scalar(text("SELECT count(*) FROM series")) == 0
            assert s.scalar(text("SELECT count(*) FROM media_text")) == 0
        index_db.dispose()
        who = Caller(role=Role.ANALYST, user_id=1, email="b@example.org", agency_code="NL-B")
        settings = Settings.for_home(tmp_path, database_url=service.url)
        api = create_app(settings, authenticate=lambda _app, _token: who, poll_interval=0.05)
        with TestClient(api) as client:
            for res, hexhash in pdq.items():
                r = client.get(
                    f"/api/v1/lookup?type=pdq&hash={hexhash}",
                    headers={"Authorization": "Bearer x"},
                )
                assert r.status_code == 200, r.text
                matches = r.json()["results"][0]["matches"]
                want = [ids[res]["media"]] if res == "network-status" else []
                assert [m["media_id"] for m in matches] == want, res
    finally:
        with owner.session() as s:
            s.execute(text("DELETE FROM fingerprint"))
