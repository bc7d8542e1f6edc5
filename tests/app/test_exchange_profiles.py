"""A VICS export names the one category profile of its selection (migration 0035's
index): ``category_profiles`` gives what a plain DISTINCT over the selection's entries
gives (the oracle below), on SQLite and PostgreSQL, for everything, a series, an
agency, a case, and with soft-deleted media left out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tessera.app import App, Caller
from tessera.app import exchange as ex
from tessera.errors import InvalidInput
from tessera.storage import repo
from tessera.storage.exchange import export as export_store
from tessera.storage.models import ExchangeEntry, Media

V2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/{}/$metadata#Media"


def _file(path: Path, profile: str, first: int, n: int, series: str) -> Path:
    records = [
        {"MediaID": i, "MD5": f"{first + i:032x}", "Category": 1, "Series": series}
        for i in range(n)
    ]
    path.write_text(json.dumps({"@odata.context": V2.format(profile), "value": records}))
    return path


def _oracle(s: object, ids: object) -> list[str]:
    q = (
        select(ExchangeEntry.category_profile)
        .where(ExchangeEntry.media_id.in_(ids.order_by(None)))  # type: ignore[attr-defined]
        .where(ExchangeEntry.category_profile.is_not(None))
        .distinct()
    )
    return sorted(str(p) for p in s.scalars(q))  # type: ignore[attr-defined]


def test_profiles_of_each_selection(app: App, caller: Caller, tmp_path: Path) -> None:
    with app.transaction() as s:
        repo.create_agency(s, "NL-A", "NL", "A")
        repo.create_agency(s, "UK-B", "GB", "B")
    for code, profile, first, series in (
        ("NL-A", "US", 0, "Amber"),
        ("UK-B", "UK", 100, "Birch"),
        ("NL-A", "Default", 200, "Cedar"),
    ):
        path = _file(tmp_path / f"{profile}.json", profile, first, 4, series)
        ex.import_file(app, caller, "vics", path, agency_code=code, case=f"C-{series}")
    with app.transaction() as s:  # Cedar's media soft-deleted: its profile goes
        cedar = repo.get_series(s, "Cedar").id
        gone = (
            select(text("media_id"))
            .select_from(text("series_media"))
            .where(text(f"series_id = {cedar}"))
        )
        s.execute(update(Media).where(Media.id.in_(gone)).values(deleted_at=Media.first_seen_at))
    with app.transaction() as s:
        amber = repo.get_series(s, "Amber").id
        nl, uk = repo.get_agency(s, "NL-A").id, repo.get_agency(s, "UK-B").id
        (case_b,) = export_store.case_ids(s, "C-Birch")
        expected = {
            "all": ({}, ["UK", "US"]),
            "series": ({"series_id": amber}, ["US"]),
            "agency": ({"agency_id": nl}, ["US"]),
            "other agency": ({"agency_id": uk}, ["UK"]),
            "case": ({"case_id": case_b}, ["UK"]),
            "nothing": ({"series_id": -1}, []),
        }
        for what, (sel, profiles) in expected.items():
            ids = export_store.select_media(**sel)
            assert export_store.category_profiles(s, ids) == _oracle(s, ids) == profiles, what
    with pytest.raises(InvalidInput, match="several profiles"):
        ex.export(app, caller, "vics", io.StringIO())
    out = io.StringIO()
    assert ex.export(app, caller, "vics", out, series="Amber").records == 4
    assert json.loads(out.getvalue())["@odata.context"] == V2.format("US")


def test_the_profile_lookup_uses_the_index(app: App) -> None:
    with app.transaction() as s:
        sql = "SELECT min(category_profile) FROM exchange_entry WHERE category_profile > 'A'"
        if app.db.engine.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        else:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(r[0]) for r in s.execute(text(f"EXPLAIN {sql}")))
        assert "ix_exchange_entry_category_profile" in plan
