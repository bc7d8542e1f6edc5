"""``tessera ingest`` as the network service runs it on PostgreSQL: a login role that
neither owns the tables nor bypasses Row-Level Security, with the ingesting agency
named as the caller of every transaction.

A new media row is visible to its agency only once its sighting exists, so an
``INSERT ... RETURNING`` of it was refused by the read policy; ingest now takes ids
from the sequences first. The rows written are the ingesting agency's (its case, its
series), and another agency reads of them exactly what sharing gives it: the series
shared at ``status`` (the network default) shows its media and their fingerprints,
never the sightings of a case nobody was granted, nor metadata or text (``full``).
The world is ``tests.app.sharing_world`` (NL-A, NL-B, DE-C).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from tessera.app import App, Caller, Role
from tessera.app import ingest as ingest_uc
from tessera.app import lookup as lk
from tessera.app.settings import Settings
from tessera.app.visibility import Level, Visibility
from tessera.storage import repo
from tessera.storage.db import Database
from tests.app.sharing_world import digest, pg_service_world

NL_A = Caller(role=Role.CURATOR, user_id=None, email="cur@nl-a.example", agency_code="NL-A")
NL_B = Caller(role=Role.CURATOR, user_id=None, email="cur@nl-b.example", agency_code="NL-B")


def _pictures(folder: Path, seed: int, n: int) -> list[bytes]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        path = folder / f"p{i}.png"
        Image.fromarray(small).resize((128, 128), Image.BILINEAR).save(path)
        out.append(hashlib.sha256(path.read_bytes()).digest())
    return out


@pytest.fixture
def service() -> Iterator[tuple[Database, Database]]:
    for owner, svc, _ids in pg_service_world():
        yield owner, svc


def _ids(owner: Database, digests: list[bytes]) -> list[int]:
    with owner.session() as s:
        rows = dict(
            s.execute(
                text("SELECT sha256, id FROM media WHERE sha256 = ANY(:d)"), {"d": digests}
            ).all()
        )
    return [int(rows[d]) for d in digests]


def _seen_as(svc: Database, code: str, ids: list[int]) -> dict[str, int]:
    """Row counts of the items ``ids`` as the service reads them for ``code``."""
    q = {
        "media": "SELECT count(*) FROM media WHERE id = ANY(:m)",
        "fingerprints": "SELECT count(*) FROM fingerprint WHERE media_id = ANY(:m)",
        "sightings": "SELECT count(*) FROM sighting WHERE media_id = ANY(:m)",
        "series": "SELECT count(*) FROM series_media WHERE media_id = ANY(:m)",
        "metadata": "SELECT count(*) FROM media_metadata WHERE media_id = ANY(:m)",
    }
    with svc.session() as s:
        s.execute(text("SELECT set_config('tessera.agency', :c, true)"), {"c": code})
        return {k: int(s.execute(text(v), {"m": ids}).scalar_one()) for k, v in q.items()}


def test_ingest_as_the_service_role(service: tuple[Database, Database], tmp_path: Path) -> None:
    owner, svc = service
    with owner.session() as s:  # NL-B's series, at the network default (status)
        repo.create_series(s, "NLB Shared", repo.get_agency(s, "NL-B"))
        assert s.execute(text("SELECT row_security_active('media')")).scalar_one() is False
    with svc.session() as s:
        assert s.execute(text("SELECT row_security_active('media')")).scalar_one() is True
    shared = _pictures(tmp_path / "shared", 1, 3)
    kept = _pictures(tmp_path / "kept", 2, 2)
    with App(Settings.for_home(tmp_path / "home", database_url=svc.url)) as app:
        r1 = ingest_uc.run(
            app,
            NL_B,
            tmp_path / "shared",
            agency_code="NL-B",
            case_number="B-ING",
            series_name="NLB Shared",
            features=False,
            workers=1,
        )
        r2 = ingest_uc.run(
            app, NL_B, tmp_path / "kept", agency_code="NL-B", case_number="B-ING", features=False
        )
        assert (r1.files_seen, r1.new_media, r1.errors) == (3, 3, 0)
        assert (r2.files_seen, r2.new_media, r2.errors) == (2, 2, 0)
        again = ingest_uc.run(
            app, NL_B, tmp_path / "kept", agency_code="NL-B", case_number="B-ING", features=False
        )
        assert (again.new_media, again.already_known) == (0, 2)

        shared_ids, kept_ids = _ids(owner, shared), _ids(owner, kept)
        with owner.session() as s:  # the rows, as the table owner reads them
            rows = s.execute(
                text(
                    "SELECT m.id, m.has_content, m.submissions, a.code, c.number "
                    "FROM media m JOIN sighting g ON g.media_id = m.id "
                    "JOIN agency a ON a.id = g.agency_id JOIN cases c ON c.id = g.case_id "
                    "WHERE m.id = ANY(:m) ORDER BY m.id"
                ),
                {"m": shared_ids + kept_ids},
            ).all()
            assert [tuple(r[1:]) for r in rows] == [(True, 1, "NL-B", "B-ING")] * 5
            linked = s.execute(
                text(
                    "SELECT sm.media_id FROM series_media sm JOIN series s ON s.id = sm.series_id "
                    "WHERE s.name = 'NLB Shared'"
                )
            ).scalars()
            assert sorted(int(x) for x in linked) == sorted(shared_ids)
            pdq = s.execute(
                text(
                    "SELECT count(*) FROM fingerprint WHERE algorithm = 'pdq' AND "
                    "media_id = ANY(:m)"
                ),
                {"m": shared_ids + kept_ids},
            ).scalar_one()
            assert pdq == 5

        # NL-B reads all of its own; NL-A the shared series' media at status, no sighting
        # of NL-B's case, nothing of the case-only files; DE-C likewise
        assert _seen_as(svc, "NL-B", shared_ids + kept_ids) == {
            "media": 5,
            "fingerprints": 10,  # a still's PDQ and colour layout
            "sightings": 5,
            "series": 3,
            "metadata": 0,  # generated PNGs carry no camera metadata
        }
        for code in ("NL-A", "DE-C"):
            assert _seen_as(svc, code, shared_ids) == {
                "media": 3,
                "fingerprints": 6,
                "sightings": 0,
                "series": 3,
                "metadata": 0,
            }
            assert _seen_as(svc, code, kept_ids) == dict.fromkeys(
                ("media", "fingerprints", "sightings", "series", "metadata"), 0
            )
        with app.transaction() as s:
            s.execute(text("SELECT set_config('tessera.agency', 'NL-A', true)"))
            levels = Visibility.of(s, NL_A).media_levels(shared_ids + kept_ids)
        assert [levels.get(i, Level.NONE) for i in shared_ids + kept_ids] == [Level.STATUS] * 3 + [
            Level.NONE
        ] * 2
        # NL-A's lookups by digest find the shared files only
        found = lk.lookup(
            app, NL_A, [lk.HashQuery(type="sha256", hash=d.hex()) for d in shared + kept]
        )
        assert [[m.media_id for m in a.matches] for a in found.results] == [
            [i] for i in shared_ids
        ] + [[], []]

    # the world's rows of other agencies are as they were
    with owner.session() as s:
        n = s.execute(
            text("SELECT count(*) FROM media WHERE sha256 = :d"), {"d": digest("unshared")}
        ).scalar_one()
        assert n == 1


def test_ingest_of_content_another_agency_holds_unshared(
    service: tuple[Database, Database], tmp_path: Path
) -> None:
    """NL-A ingests pictures into its unshared series; NL-B, which cannot see them,
    ingests the same files: no second row (SHA-256 is unique; the row is found by id
    through migration 0019's function), NL-B's own sighting on it, one more submission,
    NL-A's rows as they were and none of NL-B's case visible to NL-A; the files are
    ``new`` in NL-B's summary, as they would be if NL-A held nothing."""
    owner, svc = service
    digests = _pictures(tmp_path / "files", 3, 2)
    with App(Settings.for_home(tmp_path / "home", database_url=svc.url)) as app:
        a = ingest_uc.run(
            app,
            NL_A,
            tmp_path / "files",
            agency_code="NL-A",
            case_number="A-ING",
            series_name="S-unshared",
            features=False,
        )
        assert (a.new_media, a.errors) == (2, 0)
        ids = _ids(owner, digests)
        assert _seen_as(svc, "NL-B", ids)["media"] == 0  # the premise: hidden from NL-B
        b = ingest_uc.run(
            app, NL_B, tmp_path / "files", agency_code="NL-B", case_number="B-ING", features=False
        )
        # new to NL-B, as if NL-A held nothing (the summary tells nothing of NL-A)
        assert (b.files_seen, b.new_media, b.already_known, b.errors) == (2, 2, 0, 0)
        assert _ids(owner, digests) == ids
        with owner.session() as s:
            per = s.execute(
                text(
                    "SELECT m.id, m.submissions, count(g.id) FROM media m "
                    "JOIN sighting g ON g.media_id = m.id WHERE m.sha256 = ANY(:d) "
                    "GROUP BY m.id, m.submissions ORDER BY m.id"
                ),
                {"d": digests},
            ).all()
            assert [tuple(r[1:]) for r in per] == [(2, 2), (2, 2)]
            assert s.execute(text("SELECT count(*) FROM media")).scalar_one() == len(
                s.execute(text("SELECT DISTINCT sha256 FROM media")).all()
            )
        # NL-A still sees its own (its sightings only); NL-B its own sighting and the
        # row, not NL-A's sighting nor NL-A's series
        assert _seen_as(svc, "NL-A", ids) == {
            "media": 2,
            "fingerprints": 4,
            "sightings": 2,
            "series": 2,
            "metadata": 0,
        }
        assert _seen_as(svc, "NL-B", ids) == {
            "media": 2,
            "fingerprints": 4,
            "sightings": 2,
            "series": 0,
            "metadata": 0,
        }


def test_ingest_completes_the_agency_import_as_the_service_role(
    service: tuple[Database, Database], tmp_path: Path
) -> None:
    """Issue 14 item 3 under RLS: NL-B's hash-only record (imported with its SHA-256)
    gets content and PDQ when NL-B ingests the file; one row."""
    from tessera.app import exchange as ex

    owner, svc = service
    (d,) = _pictures(tmp_path / "files", 4, 1)
    listing = tmp_path / "list.txt"
    listing.write_text(f"sha256 {d.hex()}\n")
    with App(Settings.for_home(tmp_path / "home", database_url=svc.url)) as app:
        ex.import_file(app, NL_B, "hashlist", listing, agency_code="NL-B")
        (mid,) = _ids(owner, [d])
        r = ingest_uc.run(
            app, NL_B, tmp_path / "files", agency_code="NL-B", case_number="B-1", features=False
        )
        assert (r.new_media, r.already_known, r.errors) == (0, 1, 0)
        assert _ids(owner, [d]) == [mid]
        with owner.session() as s:
            row = s.execute(
                text(
                    "SELECT m.has_content, m.width, count(f.id) FROM media m JOIN fingerprint f "
                    "ON f.media_id = m.id AND f.algorithm = 'pdq' WHERE m.id = :m "
                    "GROUP BY m.has_content, m.width"
                ),
                {"m": mid},
            ).one()
        assert tuple(row) == (True, 128, 1)
