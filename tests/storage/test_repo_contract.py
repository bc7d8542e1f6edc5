"""The repository layer behaves the same on SQLite and PostgreSQL (contract tests)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.features.local import LocalFeatures
from tessera.ingest.writer import write_batch
from tessera.pipeline.result import FileResult
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import IngestItem, IngestRun, Media, Sighting, series_media


def _file(path: str, content: bytes, pdq: str | None = None, status: str = "ok") -> FileResult:
    return FileResult(
        path=path,
        status=status,  # type: ignore[arg-type]
        size=len(content),
        md5=hashlib.md5(content).hexdigest(),
        sha1=hashlib.sha1(content).hexdigest(),
        sha256=hashlib.sha256(content).hexdigest(),
        pdq=pdq,
        quality=100 if pdq else None,
        format="jpeg" if pdq else None,
        reason=None if status == "ok" else "corrupt",
        message=None if status == "ok" else "bad",
    )


def _run(db: Database, agency: str, case: str, series: str | None = None) -> int:
    with db.session() as s:
        a = repo.get_agency(s, agency)
        c = repo.get_or_create_case(s, a, case)
        sid = repo.get_series(s, series).id if series else None
        run = IngestRun(agency_id=a.id, case_id=c.id, series_id=sid, root=f"/{case}")
        s.add(run)
        s.flush()
        return run.id


def test_schema_is_current_after_migrate(db: Database) -> None:
    """Migrations bring a new database to head, and running them again changes nothing."""
    assert db.is_current()
    db.migrate()
    assert db.is_current()


def test_models_match_migrations(db: Database) -> None:
    """The ORM models and the migrated schema agree: no change is missing a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tessera.storage.models import Base

    def managed(obj: object, name: str | None, type_: str, *_: object) -> bool:
        # full-text search (FTS5 tables, the GIN index) is created by SQL in migration 0002
        return not (name or "").startswith(("media_text_fts", "ix_media_text_fts"))

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": managed})
        assert compare_metadata(ctx, Base.metadata) == []


def test_agency_rules(db: Database) -> None:
    """Agencies are unique by code; country must be ISO alpha-2; unknown codes are NotFound."""
    with db.session() as s:
        a = repo.create_agency(s, "NL-NPU", "nl", "Dutch unit", "vid@example.org")
        assert a.country == "NL"
    with pytest.raises(Conflict), db.session() as s:
        repo.create_agency(s, "NL-NPU", "NL", "again")
    with pytest.raises(InvalidInput), db.session() as s:
        repo.create_agency(s, "X", "Netherlands", "bad country")
    with pytest.raises(InvalidInput), db.session() as s:
        repo.create_agency(s, "bad code!", "NL", "bad code")
    with pytest.raises(NotFound), db.session() as s:
        repo.get_agency(s, "NOPE")


def test_case_is_created_once_per_agency(db: Database) -> None:
    """The same case number gives the same case for one agency, another for another agency."""
    with db.session() as s:
        a = repo.create_agency(s, "A1", "NL", "a")
        b = repo.create_agency(s, "B1", "DE", "b")
        c1 = repo.get_or_create_case(s, a, "2026-7")
        c2 = repo.get_or_create_case(s, a, "2026-7")
        c3 = repo.get_or_create_case(s, b, "2026-7")
        assert c1.id == c2.id != c3.id


def test_series_status_records_who_identified_and_when(db: Database) -> None:
    """Identification flags carry the identifying agency and a time; clearing removes both."""
    with db.session() as s:
        nl = repo.create_agency(s, "NL", "NL", "nl", "nl@example.org")
        de = repo.create_agency(s, "DE", "DE", "de")
        series = repo.create_series(
            s, "Amber", nl, baseline=True, category_profile="US", category=1
        )
        repo.set_identified(s, series, "victim", True, by=de)
    with db.session() as s:
        st = repo.series_status(s, repo.get_series(s, "Amber"))
        assert st.victim_identified and st.victim_identified_by == "DE"
        assert st.victim_identified_at is not None
        assert not st.offender_identified and st.offender_identified_by is None
        assert st.owner_code == "NL" and st.contact == "nl@example.org" and st.baseline
        repo.set_identified(s, repo.get_series(s, "Amber"), "victim", False, by=None)
    with db.session() as s:
        st = repo.series_status(s, repo.get_series(s, "Amber"))
        assert not st.victim_identified and st.victim_identified_at is None
    with pytest.raises(Conflict), db.session() as s:
        repo.create_series(s, "Amber", repo.get_agency(s, "NL"))


def test_write_batch_dedupes_media_and_counts_agencies(db: Database) -> None:
    """Media are unique by SHA-256; sightings per path; submissions count distinct agencies."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
        repo.create_agency(s, "DE", "DE", "de")
        repo.create_series(s, "Amber", repo.get_agency(s, "NL"))
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    run1 = _run(db, "NL", "c1", "Amber")
    with db.session() as s:
        run = s.get(IngestRun, run1)
        out = write_batch(
            s,
            run,
            [
                _file("/a/1.jpg", b"one", pdq),
                _file("/a/1-copy.jpg", b"one", pdq),
                _file("/a/2.bin", b"two", status="error"),
                _file("/a/empty", b"", status="error"),
            ],
        )
    assert out.statuses == {
        "/a/1.jpg": "new",
        "/a/1-copy.jpg": "known",
        "/a/2.bin": "error",
        "/a/empty": "error",
    }
    assert len(out.new_pdq) == 1 and out.new_pdq[0][2] == bytes.fromhex(pdq)
    run2 = _run(db, "DE", "c9")
    with db.session() as s:
        out2 = write_batch(s, s.get(IngestRun, run2), [_file("/b/x.jpg", b"one", pdq)])
    assert out2.statuses == {"/b/x.jpg": "known"} and out2.new_pdq == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 2  # "one", "two"
        one = repo.media_by_sha256(s, [hashlib.sha256(b"one").digest()])[
            hashlib.sha256(b"one").digest()
        ]
        assert one.submissions == 2  # NL and DE
        assert s.scalar(select(func.count()).select_from(Sighting)) == 4
        assert s.scalar(select(func.count()).select_from(IngestItem)) == 5
        linked = s.scalar(select(func.count()).select_from(series_media))
        assert linked == 2  # "one" and the undecodable "two" both joined Amber in run 1
        assert repo.stats(s).per_agency["DE"]["sightings"] == 1


def test_exact_lookup_by_each_digest(db: Database) -> None:
    """Media are found by MD5, SHA-1 and SHA-256 alike; unknown digests find nothing."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
    run = _run(db, "NL", "c1")
    with db.session() as s:
        write_batch(s, s.get(IngestRun, run), [_file("/x", b"payload")])
    with db.session() as s:
        for alg in ("md5", "sha1", "sha256"):
            digest = hashlib.new(alg, b"payload").digest()
            assert digest in repo.media_by_digest(s, alg, [digest, b"\0" * len(digest)])
            assert repo.media_by_digest(s, alg, [hashlib.new(alg, b"other").digest()]) == {}
        with pytest.raises(InvalidInput):
            repo.media_by_digest(s, "crc32", [b"1234"])


def test_all_three_digests_looked_up_at_once_find_what_each_lookup_finds(db: Database) -> None:
    """``media_ids_by_digests`` (one query for a chunk of files) finds, for each
    digest, the media ``media_by_digest`` finds; over 300 files a query too; a
    soft-deleted medium is not found; unknown digests find nothing."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
    run = _run(db, "NL", "c1")
    contents = [b"payload-%d" % k for k in range(700)]
    with db.session() as s:
        write_batch(s, s.get(IngestRun, run), [_file(f"/x{k}", c) for k, c in enumerate(contents)])
    gone = hashlib.sha256(contents[4]).digest()
    with db.session() as s:
        s.execute(update(Media).where(Media.sha256 == gone).values(deleted_at=func.now()))
    asked = [*contents[::2], b"never stored"]  # 350 stored (one deleted), 1 unknown
    digests = {a: [hashlib.new(a, c).digest() for c in asked] for a in ("sha256", "md5", "sha1")}
    with db.session() as s:
        hits = repo.media_ids_by_digests(
            s, digests["sha256"][:200], digests["md5"][100:], digests["sha1"][150:]
        )
        for alg, part in (("sha256", slice(0, 200)), ("md5", slice(100, None))):
            each = {d: m.id for d, m in repo.media_by_digest(s, alg, digests[alg][part]).items()}
            assert getattr(hits, alg) == each and each
        each = {d: m.id for d, m in repo.media_by_digest(s, "sha1", digests["sha1"][150:]).items()}
        assert hits.sha1 == each and len(each) == len(asked) - 150 - 1
    assert gone not in hits.sha256 and len(hits.sha256) == 200 - 1
    assert hashlib.sha256(b"never stored").digest() not in hits.sha256


def _sqlite_plan(db: Database, table: str, call: Callable[[Session], object]) -> list[str]:
    """SQLite's query plan of the one query on ``table`` that ``call`` makes."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's query planner (PostgreSQL plans by its statistics)")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_a: Any) -> None:
        if f"FROM {table}" in statement:
            statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.session() as s:
            call(s)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    statement, params = statements[0]
    with db.engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]


def test_all_three_digests_reach_their_rows_by_index_on_sqlite(db: Database) -> None:
    """The OR of the three digests' IN lists is answered through each digest's index
    (a scan of every medium would cost each verdict chunk the whole table)."""
    plan = _sqlite_plan(
        db,
        "media",
        lambda s: repo.media_ids_by_digests(
            s, [b"\1" * 32], [b"\2" * 16, b"\3" * 16], [b"\4" * 20]
        ),
    )
    reads = [step for step in plan if "media" in step]
    assert reads and not any(step.startswith("SCAN media") for step in reads), plan
    assert {"sha256", "md5", "sha1"} <= {
        c for step in reads for c in ("sha256", "md5", "sha1") if f"{c}=?" in step
    }, plan


def test_fingerprints_after_pages_in_id_order(db: Database) -> None:
    """The index catch-up query returns rows after a given id, ordered, limited."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
    run = _run(db, "NL", "c1")
    pdqs = [f"{i:064x}" for i in range(1, 6)]
    with db.session() as s:
        write_batch(
            s, s.get(IngestRun, run), [_file(f"/{i}", bytes([i]), p) for i, p in enumerate(pdqs)]
        )
    with db.session() as s:
        rows = repo.fingerprints_after(s, "pdq", 0, limit=3)
        assert [r[2].hex() for r in rows] == pdqs[:3]
        rest = repo.fingerprints_after(s, "pdq", rows[-1][0])
        assert [r[2].hex() for r in rest] == pdqs[3:]
        assert repo.max_fingerprint_id(s, "pdq") == rest[-1][0]


def test_links_are_idempotent_and_validated(db: Database) -> None:
    """Linking twice reports the existing link; impossible link kinds are refused."""
    with db.session() as s:
        a = repo.create_agency(s, "NL", "NL", "nl")
        series = repo.create_series(s, "Amber", a)
        victim = repo.get_or_create_victim(s, "V-0001")
        assert repo.link(s, "series", series.id, "victim", victim.id) is True
        assert repo.link(s, "series", series.id, "victim", victim.id) is False
        loc = repo.create_location(s, "a kitchen", "NL", 52.1, 5.1)
        assert repo.link(s, "series", series.id, "location", loc.id) is True
        with pytest.raises(InvalidInput):
            repo.link(s, "media", 1, "victim", victim.id)
        with pytest.raises(InvalidInput):
            repo.create_location(s, "half coordinates", latitude=1.0)
        with pytest.raises(InvalidInput):
            repo.create_location(s, "off the map", latitude=91.0, longitude=0.0)


def test_failed_transaction_leaves_nothing(db: Database) -> None:
    """A batch that fails midway commits none of its rows."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
    run = _run(db, "NL", "c1")
    with pytest.raises(RuntimeError), db.session() as s:
        write_batch(s, s.get(IngestRun, run), [_file("/1", b"1"), _file("/2", b"2")])
        raise RuntimeError("killed")
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Media)) == 0
        assert s.scalar(select(func.count()).select_from(IngestItem)) == 0


def test_feature_blobs_reads_many_in_one_call_as_one_by_one(db: Database) -> None:
    """The copy check's batched read: every stored still's local-features blob by
    (media id, position), past the 200-key chunk, none for a key with no blob (another
    position, an unknown id, a file stored without features) or for deleted media."""
    with db.session() as s:
        repo.create_agency(s, "NL", "NL", "nl")
    run = _run(db, "NL", "c1")
    rng = np.random.default_rng(5)
    blobs = [
        LocalFeatures(
            rng.uniform(0, 99, (4, 2)).astype(np.float32),
            rng.integers(0, 90, (4, 128), dtype=np.uint8),
            np.full(4, 3.0, np.float16),
            np.zeros(4, np.float16),
            100,
            100,
        ).to_bytes()
        for _ in range(203)
    ]
    files = [
        replace(_file(f"/f/{i}.png", f"pic {i}".encode()), features=blobs[i]) for i in range(203)
    ]
    files.append(_file("/f/plain.png", b"no features"))
    with db.session() as s:
        write_batch(s, s.get(IngestRun, run), files)
        ids = {
            f.path: m.id
            for f in files
            for m in [repo.media_by_sha256(s, [bytes.fromhex(f.sha256 or "")]).popitem()[1]]
        }
    gone = ids["/f/7.png"]
    with db.session() as s:
        s.execute(update(Media).where(Media.id == gone).values(deleted_at=datetime.now(UTC)))
    keys = [(mid, 0) for mid in ids.values()] + [(ids["/f/1.png"], 1), (10**9, 0)]
    with db.session() as s:
        found = repo.feature_blobs(s, keys)
        assert found == {(ids[f"/f/{i}.png"], 0): blobs[i] for i in range(203) if i != 7}
        assert found[(ids["/f/3.png"], 0)] == repo.feature_blob(s, ids["/f/3.png"])
        assert repo.feature_blobs(s, []) == {}


def test_feature_blobs_finds_its_rows_by_media_id_on_sqlite(db: Database) -> None:
    """SQLite answers a (media id, position) row-value IN by scanning every row of the
    algorithm (~90 ms a verdict chunk at 100,000 stored pictures, whatever the chunk's
    size); the query must reach its rows through the (media id, ...) unique index."""
    plan = _sqlite_plan(
        db, "fingerprint", lambda s: repo.feature_blobs(s, [(1, 0), (2, 0), (5, 3)])
    )
    reads = [step for step in plan if "fingerprint" in step]
    assert reads and all("media_id=?" in step for step in reads), plan
