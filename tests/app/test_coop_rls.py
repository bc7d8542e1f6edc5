"""Deconfliction under PostgreSQL Row-Level Security (and the same on SQLite).

The network service connects as a role that neither owns the tables nor bypasses
RLS, so every query it runs sees only what the named caller may see. Deconfliction
must still find the series of *other* agencies that a hit touched (a blind hit on
a ``none`` series included) and the owners must be told, while the caller learns
nothing its level withholds. The world is ``tests.app.sharing_world`` (NL-A owns
the series, NL-B is the finder, DE-C a third agency); expectations are written out
by hand from the issue's rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tessera.app import App, Caller, Role, coop, lookup, trust
from tessera.app.settings import Settings
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import Media, Sighting
from tests.app.sharing_world import build, digest, pg_service_world, series_name

NEW = hashlib.sha256(b"new-unclassified").digest()


def _add_new_case_media(db: Database) -> tuple[int, int]:
    """One unclassified media item sighted in a new case of NL-B and one of DE-C:
    (media id, NL-B's case id)."""
    with db.session() as s:
        m = Media(sha256=NEW, md5=NEW[:16], sha1=NEW[:20], kind="image", byte_size=1, submissions=2)
        s.add(m)
        s.flush()
        cases = {}
        for code, number in (("NL-B", "B-NEW"), ("DE-C", "C-NEW")):
            agency = repo.get_agency(s, code)
            case = repo.get_or_create_case(s, agency, number)
            s.add(Sighting(media_id=m.id, case_id=case.id, agency_id=agency.id, original_path="/x"))
            cases[code] = case.id
        return int(m.id), cases["NL-B"]


@pytest.fixture(params=["sqlite", "postgresql-rls"])
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[App, dict, tuple[int, int]]]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
        db.migrate()
        with db.session() as s:
            ids = build(s)
        new = _add_new_case_media(db)
        db.dispose()
        with App(Settings.for_home(tmp_path)) as app:
            yield app, ids, new
    else:
        for owner, service, pg_ids in pg_service_world():
            new = _add_new_case_media(owner)
            with App(Settings.for_home(tmp_path, database_url=service.url)) as app:
                yield app, pg_ids, new


def who(agency: str, role: Role = Role.ANALYST) -> Caller:
    return Caller(role=role, user_id=None, email=f"u@{agency.lower()}.example", agency_code=agency)


def _sha(res: str) -> lookup.HashQuery:
    return lookup.HashQuery(type="sha256", hash=digest(res).hex())


def test_blind_hit_found_and_owner_told_under_rls(world: tuple[App, dict, tuple[int, int]]) -> None:
    app, _ids, _new = world
    b = who("NL-B")
    r = lookup.lookup(app, b, [_sha("unshared"), _sha("network-hash")])
    # B sees the hash-level match, nothing of the unshared one
    assert [len(a.matches) for a in r.results] == [0, 1]
    text = json.dumps(r.to_json(), default=str)
    assert series_name("unshared") not in text and series_name("network-hash") not in text
    # NL-A is told of both hits, with its series' names, B and B's country
    notes = coop.list_notifications(app, who("NL-A"))
    hits = {n.payload["series"]: n.payload for n in notes if n.kind == "series-hit"}
    assert set(hits) == {series_name("unshared"), series_name("network-hash")}
    for p in hits.values():
        assert p["finder_agency"] == "NL-B" and p["finder_country"] == "NL" and p["files"] == 1
    overlaps = {o.series: o for o in coop.list_overlaps(app, who("NL-A"))}
    assert overlaps[series_name("unshared")].side == "owner"
    # B: no notification, the unshared overlap does not exist; the hash one is unnamed
    assert coop.list_notifications(app, b) == []
    mine = coop.list_overlaps(app, b)
    assert [(o.side, o.series, o.other_contact) for o in mine] == [
        ("finder", None, "a@example.org")
    ]
    assert series_name("unshared") not in json.dumps([o.to_json() for o in mine], default=str)
    # DE-C is no side of any of it
    assert coop.list_notifications(app, who("DE-C")) == []
    assert coop.list_overlaps(app, who("DE-C")) == []


def test_new_case_overlap_found_on_both_sides_under_rls(
    world: tuple[App, dict, tuple[int, int]],
) -> None:
    app, _ids, (new, b_case) = world
    raised = coop.notice(app, who("NL-B"), {new}, via="ingest", case_id=b_case, deliver=False)
    assert len(raised) == 2
    (nb,) = coop.list_notifications(app, who("NL-B"))
    (nc,) = coop.list_notifications(app, who("DE-C"))
    assert nb.kind == nc.kind == "case-overlap"
    assert nb.payload["your_case"] == "B-NEW" and nc.payload["your_case"] == "C-NEW"
    assert nb.payload["files"] == nc.payload["files"] == 1
    # neither case is shared (default none): neither side is named to the other
    assert nb.payload["other"] == {"agency": None, "country": None, "case": None, "contact": None}
    assert "C-NEW" not in nb.text and "B-NEW" not in nc.text


def test_quarantine_and_baseline_owners_found_under_rls(
    world: tuple[App, dict, tuple[int, int]],
) -> None:
    """The flood guard and the Baseline review find the owner of a series the
    caller cannot see (both read series membership across agencies)."""
    app, ids, _new = world
    media = ids["unshared"]["media"]
    held = trust.guard_triage(app, who("NL-B"), {media: 20}, 40)
    assert held == {media}
    kinds = [n.kind for n in coop.list_notifications(app, who("NL-A"))]
    assert "quarantine" in kinds
    assert coop.list_notifications(app, who("NL-B")) == []


def test_network_triage_job_blind_hit_under_rls(world: tuple[App, dict, tuple[int, int]]) -> None:
    """A triage job over the API (hashes a client computed) by NL-B of a file of NL-A's
    unshared series: NL-B's result says new, NL-A is told (the exact match is found
    through the index connection, like PDQ)."""
    from tessera.app import accounts, triage_jobs

    app, _ids, _new = world
    accounts.create_user(
        app, Caller.local_operator(), "ana@nl-b.example", agency="NL-B", role="analyst",
        password=None,
    )  # fmt: skip
    with app.transaction() as s:
        uid = int(
            s.execute(text("SELECT id FROM app_user WHERE email = 'ana@nl-b.example'")).scalar_one()
        )
    b = Caller(role=Role.ANALYST, user_id=uid, email="ana@nl-b.example", agency_code="NL-B")
    d = digest("unshared")
    rec = {"path": "/q/x.jpg", "status": "ok", "size": 1, "kind": "image", "sha256": d.hex(),
           "md5": d[:16].hex(), "sha1": d[:20].hex()}  # fmt: skip
    job = triage_jobs.submit(app, b, [rec])
    assert triage_jobs.run_one(app)
    done = triage_jobs.status(app, b, job.id)
    assert done.state == "done", done
    assert series_name("unshared") not in done.model_dump_json()
    assert [r["status"] for r in (done.result or {})["results"]] == ["new"]
    (n,) = [x for x in coop.list_notifications(app, who("NL-A")) if x.kind == "series-hit"]
    assert n.payload["via"] == "triage" and n.payload["finder_agency"] == "NL-B"
    assert n.payload["series"] == series_name("unshared")
