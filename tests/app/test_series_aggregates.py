"""The per-series counts kept by triggers (migration 0023) equal a count from scratch.

Writes go through every path that changes series membership or sightings: ingest
(with a series, a second agency, a second path), exchange import into a series and
case, removing media from a series, undoing an ingest run, deleting and restoring a
series, and concurrent writers inserting and soft-deleting rows at once (on
PostgreSQL several transactions really run together, with no application lock).
After each step the kept tables are compared with COUNTs over ``series_media``,
``sighting`` and ``media``, the oracle being the queries the pages ran before.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text, update

from tessera.app import App, Caller, exchange, runs, series
from tessera.errors import InvalidRecord
from tessera.ingest.writer import write_batch
from tessera.storage import bulk_load, repo
from tessera.storage import series_activity as activity
from tessera.storage.models import (
    IngestRun,
    Media,
    Sighting,
    series_agency_submissions,
    series_case_sightings,
    series_media,
    series_stats,
)
from tests.storage.test_repo_contract import _file

OP = Caller.local_operator()
DAY = timedelta(days=1)


def _members(s) -> dict[int, int]:  # type: ignore[no-untyped-def]
    rows = s.execute(
        select(series_media.c.series_id, func.count())
        .join(Media, Media.id == series_media.c.media_id)
        .where(series_media.c.deleted_at.is_(None), Media.deleted_at.is_(None))
        .group_by(series_media.c.series_id)
    )
    return {int(a): int(n) for a, n in rows}


def _live_pairs():  # type: ignore[no-untyped-def]
    return (
        select(series_media.c.series_id, Sighting)
        .join(Sighting, Sighting.media_id == series_media.c.media_id)
        .where(series_media.c.deleted_at.is_(None), Sighting.deleted_at.is_(None))
    ).subquery()


def _check(app: App, *, submissions: bool = True) -> None:
    """Every kept count equals its count from scratch; submissions as the page reads them
    (and each media item's ``submissions`` where the writes went through the application)."""
    with app.transaction() as s:
        kept = {
            int(a): int(n)
            for a, n in s.execute(select(series_stats.c.series_id, series_stats.c.members))
            if n
        }
        assert kept == _members(s)
        p = _live_pairs()
        by_case = {
            (int(a), int(c)): int(n)
            for a, c, n in s.execute(
                select(p.c.series_id, p.c.case_id, func.count()).group_by(
                    p.c.series_id, p.c.case_id
                )
            )
        }
        sc = series_case_sightings.c
        assert {
            (int(a), int(c)): int(n)
            for a, c, n in s.execute(select(sc.series_id, sc.case_id, sc.n).where(sc.n != 0))
        } == by_case
        by_agency = {
            (int(a), int(g)): (int(n), lo, hi)
            for a, g, n, lo, hi in s.execute(
                select(
                    p.c.series_id,
                    p.c.agency_id,
                    func.count(func.distinct(p.c.media_id)),
                    func.min(p.c.seen_at),
                    func.max(p.c.seen_at),
                ).group_by(p.c.series_id, p.c.agency_id)
            )
        }
        sa = series_agency_submissions.c
        assert {
            (int(a), int(g)): int(n)
            for a, g, n in s.execute(
                select(sa.series_id, sa.agency_id, sa.media).where(sa.media != 0)
            )
        } == {k: v[0] for k, v in by_agency.items()}
        codes = {a.id: a.code for a in repo.list_agencies(s)}
        for sid in {k[0] for k in by_agency} | set(kept):
            got = {
                r.agency: (r.media, r.first_seen, r.last_seen) for r in activity.submissions(s, sid)
            }
            want = {codes[g]: v for (a, g), v in by_agency.items() if a == sid}
            assert got == want, sid
        if not submissions:
            return
        # media.submissions: the distinct agencies of an item's live sightings
        distinct = dict(
            s.execute(
                select(Sighting.media_id, func.count(func.distinct(Sighting.agency_id)))
                .where(Sighting.deleted_at.is_(None))
                .group_by(Sighting.media_id)
            ).all()
        )
        for mid, n in s.execute(select(Media.id, Media.submissions)):
            assert n == distinct.get(mid, 0), mid


def _ingest(
    app: App, agency: str, case: str, series_name: str | None, *, files: list[bytes], tag: str
) -> int:
    with app.db.write_session() as s:
        a = repo.get_agency(s, agency)
        c = repo.get_or_create_case(s, a, case)
        sid = repo.get_series(s, series_name).id if series_name else None
        run = IngestRun(agency_id=a.id, case_id=c.id, series_id=sid, root=f"/{tag}")
        s.add(run)
        s.flush()
        write_batch(s, run, [_file(f"/{tag}/{i}.jpg", b, "ab" * 32) for i, b in enumerate(files)])
        return int(run.id)


def _world(app: App) -> None:
    with app.transaction() as s:
        a = repo.create_agency(s, "NL-A", "NL", "a", "a@example.org")
        repo.create_agency(s, "DE-B", "DE", "b")
        repo.create_series(s, "S1", a)
        repo.create_series(s, "S2", a)


FILES = [f"picture {i}".encode() for i in range(12)]


def test_kept_counts_follow_every_write_path(app: App, tmp_path: Path) -> None:
    _world(app)
    _check(app)
    first = _ingest(app, "NL-A", "c1", "S1", files=FILES[:8], tag="a1")
    _check(app)
    _ingest(app, "NL-A", "c1", "S1", files=FILES[:3], tag="a1-copies")  # same case, other paths
    _ingest(app, "NL-A", "c2", "S2", files=FILES[4:10], tag="a2")  # items in two series
    second = _ingest(
        app, "DE-B", "b1", None, files=FILES[2:6], tag="b1"
    )  # another agency, no series
    _check(app)
    hashes = tmp_path / "list.txt"
    hashes.write_text(
        "".join(f"sha256 {hashlib.sha256(b).hexdigest()}\n" for b in [*FILES[6:12], b"only"])
    )
    exchange.import_file(app, OP, "hashlist", hashes, agency_code="NL-A", case="a-imp", series="S1")
    _check(app)
    with app.transaction() as s:
        ids = sorted(
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id).where(
                    series_media.c.series_id == repo.get_series(s, "S1").id
                )
            )
        )
    series.remove_media(app, OP, "S1", ids[:2])
    _check(app)
    runs.undo(app, OP, second)  # DE-B's sightings of items in S1 and S2 go
    _check(app)
    runs.undo(app, OP, first)  # items only this run brought are deleted
    _check(app)
    series.delete(app, OP, "S2")
    _check(app)
    series.restore(app, OP, "S2")
    _check(app)
    again = _ingest(app, "NL-A", "c3", "S1", files=FILES[:5], tag="a3")  # revives undone media
    _check(app)
    runs.undo(app, OP, again)
    _check(app)


def test_an_import_in_many_batches_drops_the_link_triggers_once(app: App, tmp_path: Path) -> None:
    """An import links its new media with the link triggers dropped once for the whole
    import, not per batch (``bulk_load.HeldLinkTriggers``); a batch that also links
    older media brings them back first, the import's end brings them back before it
    commits, and a failed import rolls the drop back: the kept counts stay exact and
    the triggers are there after each import."""
    _world(app)
    _ingest(app, "NL-A", "c1", None, files=FILES[:4], tag="a1")  # older media, no series
    drops: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("DROP TRIGGER"):
            drops.append(statement)

    event.listen(app.db.engine, "before_cursor_execute", count)
    # new, new, (new, old), new, new, (old, new), new: batches of two
    order = [6, 7, 8, 0, 9, 10, 1, 11, b"x"]
    digests = [hashlib.sha256(FILES[i] if isinstance(i, int) else i).hexdigest() for i in order]
    hashes = tmp_path / "list.txt"
    hashes.write_text("".join(f"sha256 {d}\n" for d in digests))
    done = exchange.import_file(
        app, OP, "hashlist", hashes, agency_code="NL-A", case="imp", series="S1", batch_size=2
    )
    assert (done.new_media, done.matched_media) == (7, 2)
    sqlite = app.db.dialect == "sqlite"
    # dropped at the first batch, and again after the batches linking older media
    assert len(drops) == (2 * 3 if sqlite else 0)
    _check(app)
    bad = tmp_path / "bad.txt"
    more = [hashlib.sha256(b"more %d" % i).hexdigest() for i in range(5)]
    bad.write_text("".join(f"sha256 {d}\n" for d in more) + "sha256 not-a-digest\n")
    with pytest.raises(InvalidRecord):
        exchange.import_file(
            app, OP, "hashlist", bad, agency_code="NL-A", series="S1", batch_size=2
        )
    event.remove(app.db.engine, "before_cursor_execute", count)
    _check(app)
    with app.transaction() as s:
        held = set(bulk_load.link_triggers(s))
        assert held == ({"tessera_agg_sm_ins", "tessera_cam_sm_ins"} if sqlite else set())
        assert repo.series_status(s, repo.get_series(s, "S1")).media_count == 9


def test_a_removal_at_the_edge_recounts_first_and_last_seen(app: App) -> None:
    """Taking away an agency's first or last sighting marks the kept times inexact; the
    page then shows the times of what is left, as a count from scratch would."""
    _world(app)
    _ingest(app, "NL-A", "c1", "S1", files=FILES[:4], tag="a1")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with app.transaction() as s:
        rows = list(s.scalars(select(Sighting).order_by(Sighting.id)))
        for i, g in enumerate(rows):  # spread the times: 1 Jan, 2 Jan, ...
            g.seen_at = t0 + i * DAY
    _check(app, submissions=False)
    with app.transaction() as s:
        s.execute(update(Sighting).where(Sighting.id == rows[0].id).values(deleted_at=t0))
        s.execute(update(Sighting).where(Sighting.id == rows[-1].id).values(deleted_at=t0))
        sid = repo.get_series(s, "S1").id
    _check(app, submissions=False)
    with app.transaction() as s:
        (r,) = activity.submissions(s, sid)
        assert r.media == 2
        assert (_utc(r.first_seen), _utc(r.last_seen)) == (t0 + DAY, t0 + 2 * DAY)


def _utc(t: datetime | None) -> datetime | None:
    """SQLite gives the stored UTC time back naive, PostgreSQL aware."""
    return None if t is None else t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def test_concurrent_writers_keep_exact_counts(app: App) -> None:
    """Writers in their own transactions at once, without the writer lock: sightings of
    the same items by the same and other agencies, memberships added and removed while
    others add sightings of the same items (each trigger reading before the other
    commits would miss the pair: the trigger functions lock the media row first)."""
    _world(app)
    _ingest(app, "NL-A", "c1", "S1", files=FILES[:6], tag="seed")
    with app.transaction() as s:
        media_ids = sorted(int(m) for m in s.scalars(select(Media.id)))
        agencies = {a.code: a.id for a in repo.list_agencies(s)}
        cases = {
            code: repo.get_or_create_case(s, repo.get_agency(s, code), f"k-{code}").id
            for code in agencies
        }
        s2 = repo.get_series(s, "S2").id
    pg = app.db.dialect == "postgresql"
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(w: int) -> None:
        code = "NL-A" if w % 2 else "DE-B"
        try:
            barrier.wait(timeout=30)
            with app.db.engine.begin() as conn:
                if not pg:  # SQLite has one writer at a time: wait for it, as ingest does
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                for m in media_ids:  # in id order, as a statement's rows are locked
                    if w == 0 and m in media_ids[:3]:  # the membership first, uncommitted
                        conn.execute(series_media.insert().values(series_id=s2, media_id=m))
                    if w == 1 and m == media_ids[-1]:
                        conn.execute(
                            text(
                                "UPDATE series_media SET deleted_at = :t "
                                "WHERE media_id = :m AND series_id <> :s2"
                            ),
                            {"t": datetime.now(UTC), "m": m, "s2": s2},
                        )
                    conn.execute(
                        Sighting.__table__.insert().values(
                            media_id=m,
                            case_id=cases[code],
                            agency_id=agencies[code],
                            original_path=f"/w{w}/{m}.jpg",
                            seen_at=datetime.now(UTC),
                        )
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.transaction() as s:  # raw inserts do not count submissions: set them
        s.execute(
            update(Media).values(
                submissions=select(func.count(func.distinct(Sighting.agency_id)))
                .where(Sighting.media_id == Media.id, Sighting.deleted_at.is_(None))
                .scalar_subquery()
            )
        )
    _check(app)
