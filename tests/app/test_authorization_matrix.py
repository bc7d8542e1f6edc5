"""The authorization matrix: every use case x role x resource, exact fields, 0 leaks.

Generated over the application layer's use cases (the API's routes call the same
functions), the five roles of an ``NL-B`` user plus the node's local operator, and
one series per sharing situation of ``tests/app/sharing_world`` (own, default,
unshared, network / country / agency grants at each level, grants to others).
Expectations come from the hand-written ``EXPECTED`` levels and the rules:

* a read below ``status`` is ``NotFound`` worded exactly as for a missing name;
  ``status`` shows name and status but no markers / linked media; ``full`` shows
  them; the grants only to the owner;
* a change is ``NotFound`` when the caller cannot see the series,
  ``PermissionDenied`` when it can but is not of the owner agency or is below
  curator, and succeeds otherwise;
* every result, serialised as the interfaces send it, is searched for every
  resource's secrets of a level above what the caller has: 0 may appear.

Runs on SQLite and on PostgreSQL through a login role without BYPASSRLS (RLS on).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tessera.app import (
    App,
    Caller,
    Role,
    Settings,
    exchange,
    links,
    lookup,
    markers,
    series,
    sharing,
    similar,
    stats,
    text,
)
from tessera.app.results import Result
from tessera.errors import NotFound, PermissionDenied
from tessera.exchange import bundle
from tessera.storage.db import Database
from tests.app.sharing_world import (
    CALLER_AGENCY,
    EXPECTED,
    RANK,
    RESOURCES,
    build,
    digest,
    pg_service_world,
    secrets,
    series_name,
    word,
)

ROLES = ["viewer", "analyst", "curator", "admin", "operator", "local"]
READS = [
    "series.show",
    "series.list_series",
    "lookup.lookup",
    "exchange.export",
    "text.search",
    "markers.list_markers",
    "markers.find",
    "similar.to_media",
]
WRITES = ["series.set_status", "links.link", "sharing.share_series"]
_CAN_WRITE = {"curator", "admin", "operator", "local"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql-rls"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, App, dict[str, dict[str, int]]]]:
    home = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
        db = Database(f"sqlite:///{home / 'tessera.sqlite'}")
        db.migrate()
        with db.session() as s:
            ids = build(s)
        db.dispose()
        with App(Settings.for_home(home)) as app:
            yield "sqlite", app, ids
    else:
        for _owner, service, pg_ids in pg_service_world():
            with App(Settings.for_home(home, database_url=service.url)) as app:
                yield "postgresql-rls", app, pg_ids


def _caller(role: str) -> Caller:
    if role == "local":
        return Caller.local_operator()
    return Caller(role=Role(role), user_id=42, email="user@b.example", agency_code=CALLER_AGENCY)


def _level(role: str, res: str) -> str:
    return "full" if role == "local" else EXPECTED[res]


def _assert_no_leak(payload: Any, role: str) -> None:
    text = json.dumps(payload, default=str)
    for res in RESOURCES:
        have = RANK[_level(role, res)]
        for need, words in secrets(res).items():
            if have < RANK[need]:
                for w in words:
                    assert w not in text, f"{w} leaked to {role} (has {_level(role, res)})"


def _skip_local_under_rls(backend: str, role: str) -> None:
    if backend == "postgresql-rls" and role == "local":
        pytest.skip("the local operator connects as the table owner, never as the service role")


def _check_series(r: series.SeriesSummary, role: str, res: str) -> None:
    want = _level(role, res)
    assert r.name == series_name(res)
    assert r.level == want
    assert r.owner_code == RESOURCES[res][0] and r.category == 1 and r.media_count == 1
    if isinstance(r, series.SeriesDetail):
        assert (len(r.markers) == 1) == (want == "full")
        assert r.markers == () or r.markers[0].note == f"marker-{res}"
        owner = role == "local" or RESOURCES[res][0] == CALLER_AGENCY
        assert (r.sharing is not None) == owner


@pytest.mark.parametrize("res", list(RESOURCES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("use_case", READS)
def test_reads(
    world: tuple[str, App, dict[str, dict[str, int]]], use_case: str, role: str, res: str
) -> None:
    backend, app, ids = world
    _skip_local_under_rls(backend, role)
    caller, level = _caller(role), _level(role, res)
    name = series_name(res)
    sees_status = RANK[level] >= RANK["status"]
    if use_case == "series.show":
        if RANK[level] < RANK["status"]:
            with pytest.raises(NotFound) as exc:
                series.show(app, caller, name)
            assert str(exc.value) == f"no series {name!r}"  # as for a name that never existed
            return
        detail = series.show(app, caller, name)
        _check_series(detail, role, res)
        _assert_no_leak(detail.to_json(), role)
    elif use_case == "text.search":  # OCR text is a full-level fact
        found = text.search(app, caller, word(res))
        _assert_no_leak(found.to_json(), role)
        assert [h.media_id for h in found.hits] == ([ids[res]["media"]] if level == "full" else [])
        assert all(h.series == (name,) for h in found.hits)
    elif use_case == "markers.list_markers":
        if not sees_status:
            with pytest.raises(NotFound) as exc:
                markers.list_markers(app, caller, series_name=name)
            assert str(exc.value) == f"no series {name!r}"
            return
        listed = markers.list_markers(app, caller, series_name=name)
        _assert_no_leak([m.to_json() for m in listed], role)
        assert [m.note for m in listed] == ([f"marker-{res}"] if level == "full" else [])
    elif use_case == "markers.find":
        marker_id = ids[res]["marker"]
        if level != "full":
            with pytest.raises(NotFound) as exc:
                markers.find(app, caller, marker_id)
            assert str(exc.value) == f"no marker with id {marker_id}"
            return
        hits = markers.find(app, caller, marker_id)
        _assert_no_leak(hits.to_json(), role)
        assert hits.marker == marker_id
    elif use_case == "similar.to_media":
        media_id = ids[res]["media"]
        with pytest.raises(NotFound) as exc:
            similar.to_media(app, caller, media_id)
        if sees_status:  # seen: the real reason (the world stores no local features)
            assert "has no local features" in str(exc.value)
        else:  # worded exactly as for an id that does not exist
            assert str(exc.value) == f"no media item with id {media_id}"
    elif use_case == "exchange.export":
        if role == "viewer":
            with pytest.raises(PermissionDenied):
                exchange.export(app, caller, "bundle", io.StringIO())
            return
        out = io.StringIO()
        exchange.export(app, caller, "bundle", out)
        _assert_no_leak(out.getvalue(), role)
        records = {r.sha256: r for r in bundle.read(io.BytesIO(out.getvalue().encode()))}
        got = records.get(digest(res).hex())
        if level == "none":
            assert got is None
            return
        assert got is not None and got.md5 == digest(res)[:16].hex()
        if level == "hash":  # hashes only
            assert got.series is None and got.category is None
        else:
            assert got.series == name and got.category == 1
    elif use_case == "lookup.lookup":
        q = lookup.HashQuery(type="sha256", hash=digest(res).hex())
        if role == "viewer":  # looking up is an analyst's work
            with pytest.raises(PermissionDenied):
                lookup.lookup(app, caller, [q])
            return
        found = lookup.lookup(app, caller, [q])
        _assert_no_leak(found.to_json(), role)
        matches = found.results[0].matches
        if level == "none":
            assert matches == () and found.series == ()
            return
        (m,) = matches
        assert m.match == "exact"
        if level == "hash":  # "known to the network" + the owner's contact, nothing more
            assert m.series == () and found.series == () and m.contacts == ("a@example.org",)
        else:
            (summary,) = found.series
            assert m.series == (summary.series_id,) and m.contacts == ()
            _check_series(summary, role, res)
    else:
        rows = series.list_series(app, caller)
        _assert_no_leak([r.to_json() for r in rows], role)
        mine = [r for r in rows if r.name == name]
        assert len(mine) == (1 if RANK[level] >= RANK["status"] else 0)
        for r in mine:
            _check_series(r, role, res)


@pytest.mark.parametrize("res", list(RESOURCES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("use_case", WRITES)
def test_changes(
    world: tuple[str, App, dict[str, dict[str, int]]], use_case: str, role: str, res: str
) -> None:
    backend, app, _ids = world
    _skip_local_under_rls(backend, role)
    caller, level = _caller(role), _level(role, res)
    name = series_name(res)

    def call() -> Result:
        # each succeeding call leaves the world as it was (idempotent by design)
        if use_case == "series.set_status":
            return series.set_status(app, caller, name, victim_identified=False)
        if use_case == "links.link":
            return links.link(app, caller, "victim", f"V-{res}", series_name=name)
        grants = RESOURCES[res][1]
        scope, _grantee, lv = grants[0] if grants else ("network", "*", "status")
        assert scope == "network"
        return sharing.share_series(app, caller, name, lv, network=True)

    owner = role == "local" or RESOURCES[res][0] == CALLER_AGENCY
    if RANK[level] < RANK["status"]:
        with pytest.raises(NotFound) as exc:
            call()
        assert str(exc.value) == f"no series {name!r}"
    elif not owner or role not in _CAN_WRITE:
        with pytest.raises(PermissionDenied):
            call()
    else:
        result = call()
        _assert_no_leak(result.to_json(), role)
        if isinstance(result, links.LinkResult):
            assert not result.added


@pytest.mark.parametrize("role", ROLES)
def test_stats_count_only_what_the_caller_sees(
    world: tuple[str, App, dict[str, dict[str, int]]], role: str
) -> None:
    backend, app, _ids = world
    _skip_local_under_rls(backend, role)
    st = stats.stats(app, _caller(role))
    _assert_no_leak(st.to_json(), role)
    at = {lv: {r for r in RESOURCES if RANK[_level(role, r)] >= RANK[lv]} for lv in RANK}
    assert st.series == len(at["status"])
    assert st.media == len(at["hash"])
    assert st.victims == st.offenders == len(at["full"])
    # cases default to none: a user counts the sightings of its own agency's cases only
    assert st.sightings == (len(RESOURCES) if role == "local" else 1)
    assert st.per_agency["NL-A"]["series"] == len(at["status"] - {"own"})
    assert st.per_agency["NL-B"]["series"] == 1


def test_the_matrix_covers_every_situation() -> None:
    """Own, default, unshared, each scope at each level, and grants to others."""
    assert {
        EXPECTED[f"{scope}-{lv}"] for scope in ("network", "country", "agency") for lv in RANK
    } == set(RANK)
    assert EXPECTED["own"] == "full" and EXPECTED["unshared"] == "none"
