"""One unit of work for several use cases (``visibility.unit``, a web page's reads).

Inside a unit every use case of its caller joins one transaction: the answers must be
exactly those of the same use cases each in its own transaction (the oracle), for
every role and sharing situation of ``tests/app/sharing_world``, on SQLite and on
PostgreSQL through Row-Level Security; a use case's error (``NotFound``) must not
spoil the unit's later reads; what the unit writes (an audit entry) commits with it
or not at all; another caller never joins it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tessera.app import App, Caller, Role, Settings, audit, markers, series
from tessera.app.visibility import Unit, transaction, unit
from tessera.errors import NotFound
from tessera.storage import audit_log
from tessera.storage.db import Database
from tests.app.sharing_world import CALLER_AGENCY, RESOURCES, build, pg_service_world, series_name

ROLES = ["viewer", "curator", "operator"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql-rls"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    home = tmp_path_factory.mktemp("unit")
    if request.param == "sqlite":
        db = Database(f"sqlite:///{home / 'tessera.sqlite'}")
        db.migrate()
        with db.session() as s:
            build(s)
        db.dispose()
        with App(Settings.for_home(home)) as app:
            yield app
    else:
        for _owner, service, _ids in pg_service_world():
            with App(Settings.for_home(home, database_url=service.url)) as app:
                yield app


def _reads(app: App, caller: Caller) -> list[Any]:
    """Every resource's series page and markers, and the series list, as JSON (or the
    error's words)."""
    out: list[Any] = []
    for res in RESOURCES:
        name = series_name(res)
        try:
            out.append(series.show(app, caller, name).to_json())
        except NotFound as exc:
            out.append(("NotFound", str(exc)))
        try:
            out.append([m.to_json() for m in markers.list_markers(app, caller, series_name=name)])
        except NotFound as exc:
            out.append(("NotFound", str(exc)))
    out.append([r.to_json() for r in series.list_series(app, caller)])
    return out


@pytest.mark.parametrize("role", ROLES)
def test_a_units_reads_are_those_of_separate_transactions(world: App, role: str) -> None:
    caller = Caller(role=Role(role), user_id=42, email="u@b.example", agency_code=CALLER_AGENCY)
    alone = _reads(world, caller)
    assert any(isinstance(x, tuple) for x in alone), "the world hides some series"
    assert any(isinstance(x, dict) for x in alone), "and shows others"
    with unit(world, caller) as u:
        together = _reads(u, caller)
        with transaction(u, caller) as (s, vis):  # joined, not a transaction of its own
            assert s is u.session and vis is u.visibility
    assert together == alone


def _audited(app: App) -> int:
    with app.transaction() as s:
        return audit_log.head(s).size


def test_a_unit_commits_what_it_wrote_once_and_only_with_it(app: App) -> None:
    caller = Caller(role=Role.CURATOR, user_id=7, email="c@x.example", agency_code="NOPE")
    before = _audited(app)
    with pytest.raises(RuntimeError), unit(app, caller) as u:
        audit.record(u, caller, "web.view", target="/a")
        raise RuntimeError("the page failed after its audit entry")
    assert _audited(app) == before, "rolled back with the unit"
    with unit(app, caller) as u:
        audit.record(u, caller, "web.view", target="/b")
        with u.transaction() as s:  # the same transaction: its own entry is seen
            assert s is u.session and audit_log.head(s).size == before + 1
    assert _audited(app) == before + 1


def test_another_caller_and_a_closed_unit_get_transactions_of_their_own(
    app: App, tmp_path: Path
) -> None:
    caller = Caller(role=Role.VIEWER, user_id=1, email="v@x.example", agency_code="NOPE")
    other = Caller(role=Role.VIEWER, user_id=2, email="w@x.example", agency_code="ELSE")
    with unit(app, caller) as u:
        assert isinstance(u, Unit)
        with transaction(u, other) as (s, vis):
            assert s is not u.session and vis.caller == other
        with unit(u, caller) as again:  # nested: the same unit
            assert again is u
    with u.transaction() as s, transaction(u, caller) as (s2, _):
        assert s is not u.session and s2 is not u.session
