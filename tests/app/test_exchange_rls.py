"""Exchange import and export as the network service runs them on PostgreSQL: a login
role that neither owns the tables nor bypasses Row-Level Security.

COPY refuses tables under RLS, so this is the import's other path (driver
``executemany``, ids from the sequences, existence checks through the policies).
The contract is the same as on the owner's connection: all or nothing, idempotent,
updates applied, and the rows written are the caller agency's own, so its export
gives them back. The world is ``tests.app.sharing_world`` (NL-B imports; NL-A owns
an unshared series whose media the import names by digest).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.app import App, Caller, Role
from tessera.app import exchange as ex
from tessera.app.settings import Settings
from tessera.errors import InvalidRecord
from tessera.storage.db import Database
from tests.app.sharing_world import digest, pg_service_world

NL_B = Caller(role=Role.CURATOR, user_id=None, email="cur@nl-b.example", agency_code="NL-B")
N = 40


def _md5(i: int) -> str:
    return f"{i:032x}".replace("0", "a", 4)


def _vics(path: Path, *, victim: str = "false", extra: list[dict] | None = None) -> Path:  # type: ignore[type-arg]
    records = [
        {
            "MediaID": i,
            "Category": 1 + i % 3,
            "MD5": _md5(i).upper(),
            "PhotoDNA": f"{i:08x}" * 12,
            "VictimIdentified": victim if i % 2 else "false",
            "Series": "RLS Import",
            "Tags": "poster",
        }
        for i in range(1, N + 1)
    ]
    doc = {
        "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
        "/US/$metadata#Media",
        "value": records + (extra or []),
    }
    path.write_text(json.dumps(doc))
    return path


def _counts(db: Database) -> dict[str, int]:
    """Row counts as the table owner sees them (no policy applies)."""
    with db.session() as s:
        return {
            t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("media", "exchange_entry", "exchange_hash", "fingerprint", "series_media")
        }


@pytest.fixture
def service() -> Iterator[tuple[Database, Database]]:
    for owner, svc, _ids in pg_service_world():
        yield owner, svc


def test_service_role_is_under_rls(service: tuple[Database, Database]) -> None:
    # the premise: without it this file would test the COPY path again
    _owner, svc = service
    with svc.session() as s:
        active = s.execute(
            text("SELECT row_security_active('media'), row_security_active('exchange_entry')")
        ).one()
        assert tuple(active) == (True, True)


def test_import_under_rls_is_idempotent_and_exports_back(
    service: tuple[Database, Database], tmp_path: Path
) -> None:
    owner, svc = service
    before = _counts(owner)
    with App(Settings.for_home(tmp_path, database_url=svc.url)) as app:
        first = ex.import_file(app, NL_B, "vics", _vics(tmp_path / "a.json"), agency_code="NL-B")
        assert (first.records, first.new_media, first.new_entries) == (N, N, N)
        assert first.series_created == ("RLS Import",)
        grown = _counts(owner)
        assert grown["media"] - before["media"] == N
        assert grown["exchange_entry"] - before["exchange_entry"] == N
        assert grown["series_media"] - before["series_media"] == N
        # one PhotoDNA fingerprint and one opaque-hash key per record
        assert grown["fingerprint"] - before["fingerprint"] == N
        assert grown["exchange_hash"] - before["exchange_hash"] == N

        again = ex.import_file(app, NL_B, "vics", _vics(tmp_path / "a.json"), agency_code="NL-B")
        assert (again.new_media, again.new_entries, again.unchanged_entries) == (0, 0, N)
        assert _counts(owner) == grown

        assert not any(v.get("VictimIdentified") is True for v in _export(app)[1])
        upd = ex.import_file(
            app, NL_B, "vics", _vics(tmp_path / "b.json", victim="true"), agency_code="NL-B"
        )
        assert (upd.new_media, upd.updated_entries, upd.unchanged_entries) == (0, N // 2, N // 2)

        n, value = _export(app)
        assert n == N
        assert sorted(v["MD5"].lower() for v in value) == sorted(_md5(i) for i in range(1, N + 1))
        identified = {v["MD5"].lower() for v in value if v.get("VictimIdentified") is True}
        assert identified >= {_md5(i) for i in range(1, N + 1, 2)}


def _export(app: App) -> tuple[int, list[dict]]:  # type: ignore[type-arg]
    out = io.StringIO()
    summary = ex.export(app, NL_B, "vics", out, series="RLS Import")
    return summary.records, json.loads(out.getvalue())["value"]


def test_bad_record_under_rls_stores_nothing(
    service: tuple[Database, Database], tmp_path: Path
) -> None:
    owner, svc = service
    before = _counts(owner)
    bad = _vics(tmp_path / "bad.json", extra=[{"MediaID": N + 1, "MD5": "not-a-digest"}])
    with App(Settings.for_home(tmp_path, database_url=svc.url)) as app:
        with pytest.raises(InvalidRecord) as err:
            ex.import_file(app, NL_B, "vics", bad, agency_code="NL-B")
        assert err.value.record == N + 1
    assert _counts(owner) == before


def test_digest_of_media_the_caller_cannot_see(
    service: tuple[Database, Database], tmp_path: Path
) -> None:
    # NL-A's unshared series holds a media item with this SHA-256: NL-B's import of the
    # same digest must neither fail nor learn of it, and NL-A's rows stay as they were
    owner, svc = service
    sha = digest("unshared").hex()
    path = tmp_path / "u.txt"
    path.write_text(f"sha256 {sha}\nsha256 {'ab' * 32}\n")
    with owner.session() as s:
        owned = s.execute(
            text("SELECT id FROM media WHERE sha256 = :d"), {"d": digest("unshared")}
        ).scalar_one()
    with App(Settings.for_home(tmp_path, database_url=svc.url)) as app:
        summary = ex.import_file(app, NL_B, "hashlist", path, agency_code="NL-B")
    # as if nobody held it: two records, two media new to NL-B (tests.app.test_hidden_content)
    assert (summary.records, summary.new_media, summary.matched_media) == (2, 2, 0)
    with owner.session() as s:
        ids = s.execute(
            text("SELECT id FROM media WHERE sha256 = :d"), {"d": digest("unshared")}
        ).all()
        assert [int(r[0]) for r in ids] == [owned]
