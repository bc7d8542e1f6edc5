"""A series' camera links: one statement for all cameras gives the list the per-camera
loop gave.

``camera_links.series_links`` asked for each of the series' first cameras in turn;
it now asks for them all in one statement (one round trip), and skips a camera whose
media all belong to the series (kept counts, migration 0024). The list must not change: the
answer is compared with the loop as it was (``_loop_links``, copied from before the
change) and with an oracle computed in Python from the seeded rows, on a world with
cameras wholly and partly in the series, more cameras than are scanned, soft-deleted
media and memberships, and media only another agency sighted. SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from tessera.storage import repo, sharing
from tessera.storage.camera_links import SERIES_SCAN, MetadataLink, series_links
from tessera.storage.db import Database
from tessera.storage.models import (
    Media,
    MediaMetadataModel,
    Sighting,
    camera_media,
    series_camera_members,
    series_media,
)
from tests.app.sharing_world import CALLER_AGENCY, EXPECTED, RANK, pg_service_world

NOW = datetime(2026, 12, 6, tzinfo=UTC)

# camera -> its media: "in" a live member, "in-gone" a live membership of a deleted
# media item, "removed" a soft-deleted membership, "out" outside and live, "out-gone"
# outside and deleted, "hidden" outside and sighted only by agency B
CAMERAS: dict[str, list[str]] = {
    "cam/full": ["in", "in", "in", "in"],
    "cam/part": ["in", "out", "in", "out", "out-gone", "out"],
    "cam/removed": ["in", "removed", "out"],
    "cam/hidden": ["in", "hidden", "hidden", "out"],
    "cam/dead-member": ["in-gone", "out", "out-gone"],
    **{f"cam/extra-{i:02d}": ["in", "out", "out"] for i in range(9)},
}


def _loop_links(s: Session, series_id: int, *, limit: int = 200) -> list[tuple[int, int, str]]:
    """The camera half of ``series_links`` before the change: one query per camera."""
    md = MediaMetadataModel
    probe = select(literal(1)).where(
        series_media.c.series_id == series_id,
        series_media.c.media_id == md.media_id,
        series_media.c.deleted_at.is_(None),
    )
    if s.get_bind().dialect.name == "postgresql":
        probe = probe.offset(0)
    outside, member = ~probe.exists(), probe.exists()
    via_of: dict[str, int] = {}
    for key, mid in s.execute(
        select(md.camera_key, md.media_id)
        .where(md.camera_key.is_not(None), member)
        .order_by(md.media_id)
        .limit(SERIES_SCAN * 100)
    ):
        if key and key not in via_of:
            via_of[key] = int(mid)
            if len(via_of) >= SERIES_SCAN:
                break
    out: list[tuple[int, MetadataLink]] = []
    for key in sorted(via_of, key=lambda k: via_of[k]):
        outside_ids = [
            int(m)
            for m in s.scalars(
                select(md.media_id)
                .where(md.camera_key == key, outside)
                .order_by(md.media_id)
                .limit(limit)
            )
        ]
        live = (
            set(
                s.scalars(
                    select(Media.id).where(Media.id.in_(outside_ids), Media.deleted_at.is_(None))
                )
            )
            if outside_ids
            else set()
        )
        found = [m for m in outside_ids if m in live][: limit - len(out)]
        out.extend((via_of[key], MetadataLink(m, "same-camera", key)) for m in found)
        if len(out) >= limit:
            break
    out.sort(key=lambda x: (x[0], x[1].media_id))
    return [(via, ln.media_id, ln.detail) for via, ln in out]


def _seed(s: Session) -> tuple[int, dict[int, tuple[str, str]]]:
    """The world above, media created in a shuffled order; (series id, id -> (camera, kind))."""
    a = repo.create_agency(s, "NL-A", "NL", "Unit A", "a@example.org")
    b = repo.create_agency(s, "NL-B", "NL", "Unit B", "b@example.org")
    series = repo.create_series(s, "Cameras", a)
    case_a = repo.get_or_create_case(s, a, "A-1")
    case_b = repo.get_or_create_case(s, b, "B-1")
    items = [(cam, kind) for cam, kinds in CAMERAS.items() for kind in kinds]
    random.Random(7).shuffle(items)
    made: dict[int, tuple[str, str]] = {}
    for n, (cam, kind) in enumerate(items):
        d = hashlib.sha256(f"{cam}/{n}".encode()).digest()
        media = Media(sha256=d, md5=d[:16], sha1=d[:20], kind="image", byte_size=1, submissions=1)
        s.add(media)
        s.flush()
        mine = kind != "hidden"
        s.add(
            Sighting(
                media_id=media.id,
                case_id=(case_a if mine else case_b).id,
                agency_id=(a if mine else b).id,
                original_path=f"/evidence/{n}.jpg",
                seen_at=NOW,
            )
        )
        s.add(MediaMetadataModel(media_id=media.id, make="Canon", camera_key=cam, data={}))
        s.flush()
        if kind in ("in", "in-gone", "removed"):
            s.execute(
                insert(series_media).values(
                    series_id=series.id,
                    media_id=media.id,
                    deleted_at=NOW if kind == "removed" else None,
                )
            )
        if kind.endswith("-gone"):
            media.deleted_at = NOW
        made[media.id] = (cam, kind)
    s.flush()
    return series.id, made


def _oracle(made: dict[int, tuple[str, str]], limit: int) -> list[tuple[int, int, str]]:
    """The list by its definition, from the seeded rows alone."""
    members = sorted(m for m, (_, kind) in made.items() if kind in ("in", "in-gone"))
    via_of: dict[str, int] = {}
    for m in members:
        via_of.setdefault(made[m][0], m)
    cams = sorted(via_of, key=lambda c: via_of[c])[:SERIES_SCAN]
    out: list[tuple[int, int, str]] = []
    for cam in cams:
        outside = sorted(m for m, (c, _) in made.items() if c == cam and m not in members)
        live = [m for m in outside[:limit] if not made[m][1].endswith("-gone")]
        out.extend((via_of[cam], m, cam) for m in live[: limit - len(out)])
        if len(out) >= limit:
            break
    return sorted(out)


def test_all_cameras_at_once_list_what_the_per_camera_loop_listed(db: Database) -> None:
    with db.session() as s:
        series_id, made = _seed(s)
        assert len(CAMERAS) > SERIES_SCAN  # some cameras are never scanned
        for limit in (200, 7, 3, 1):
            new = [
                (via, ln.media_id, ln.detail)
                for via, ln in series_links(s, series_id, limit=limit)
                if ln.reason == "same-camera"
            ]
            assert new == _loop_links(s, series_id, limit=limit) == _oracle(made, limit)
        full = [ln.media_id for _, ln in series_links(s, series_id)]
        # wholly-in cameras give nothing; deleted media and members never show; a
        # soft-deleted membership is outside; another agency's media show to the
        # owner connection (RLS hides them from a service-role caller on PostgreSQL)
        kinds = {made[m][1] for m in full}
        assert kinds <= {"out", "removed", "hidden"} and "removed" in kinds
        assert not {m for m in full if made[m][0] == "cam/full"}


def _recount(s: Session) -> tuple[dict[str, int], dict[tuple[int, str], int]]:
    """The two kept counts from scratch (rows at 0 left out)."""
    md, sm = MediaMetadataModel, series_media
    per_camera = {
        str(k): int(n)
        for k, n in s.execute(
            select(md.camera_key, func.count())
            .where(md.camera_key.is_not(None))
            .group_by(md.camera_key)
        )
    }
    members = {
        (int(sid), str(k)): int(n)
        for sid, k, n in s.execute(
            select(sm.c.series_id, md.camera_key, func.count())
            .join(md, md.media_id == sm.c.media_id)
            .where(sm.c.deleted_at.is_(None), md.camera_key.is_not(None))
            .group_by(sm.c.series_id, md.camera_key)
        )
    }
    return per_camera, members


def _kept(s: Session) -> tuple[dict[str, int], dict[tuple[int, str], int]]:
    return (
        {str(k): int(n) for k, n in s.execute(select(camera_media)) if n},
        {(int(sid), str(k)): int(n) for sid, k, n in s.execute(select(series_camera_members)) if n},
    )


def test_kept_camera_counts_follow_every_change_and_skipping_lists_the_same(
    db: Database,
) -> None:
    with db.session() as s:
        series_id, made = _seed(s)
        assert _kept(s) == _recount(s)
        by_kind = {kind: sorted(m for m, (_, k) in made.items() if k == kind) for kind in
                   ("in", "out", "removed", "hidden")}  # fmt: skip
        full = [m for m, (c, _) in made.items() if c == "cam/full"]
        changes = [
            # a membership removed softly, restored, added, deleted outright
            update(series_media).where(series_media.c.media_id == full[0]).values(deleted_at=NOW),
            update(series_media)
            .where(series_media.c.media_id == by_kind["removed"][0])
            .values(deleted_at=None),
            insert(series_media).values(series_id=series_id, media_id=by_kind["out"][0]),
            delete(series_media).where(series_media.c.media_id == by_kind["in"][1]),
            # a camera key changed, cleared, set; a metadata row deleted
            update(MediaMetadataModel)
            .where(MediaMetadataModel.media_id == by_kind["in"][2])
            .values(camera_key="cam/full"),
            update(MediaMetadataModel)
            .where(MediaMetadataModel.media_id == by_kind["out"][1])
            .values(camera_key=None),
            update(MediaMetadataModel)
            .where(MediaMetadataModel.media_id == by_kind["out"][1])
            .values(camera_key="cam/new"),
            delete(MediaMetadataModel).where(MediaMetadataModel.media_id == by_kind["hidden"][0]),
        ]
        for stmt in changes:
            s.execute(stmt)
            assert _kept(s) == _recount(s)
            for limit in (200, 2):
                new = [
                    (via, ln.media_id, ln.detail)
                    for via, ln in series_links(s, series_id, limit=limit)
                    if ln.reason == "same-camera"
                ]
                assert new == _loop_links(s, series_id, limit=limit)
        # the whole series gone: its rows go with it
        s.execute(delete(series_media).where(series_media.c.series_id == series_id))
        assert _kept(s) == _recount(s)


def test_a_camera_wholly_in_the_series_is_not_probed(db: Database) -> None:
    """Only cameras with media outside the series are asked for (statement count)."""
    from sqlalchemy import event

    with db.session() as s:
        series_id, _ = _seed(s)
        seen: list[str] = []

        def log(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(db.engine, "before_cursor_execute", log)
        try:
            series_links(s, series_id)
        finally:
            event.remove(db.engine, "before_cursor_execute", log)
        union = [st for st in seen if "UNION ALL" in st]
        assert len(union) == 1 and "cam/full" not in str(union)
        # 10 cameras scanned, cam/full skipped: 9 parts
        assert union[0].count("UNION ALL") == 8


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[Database, Database, dict[str, dict[str, int]]]]:
    """(owner, service role under RLS, ids) of the sharing world, every item of one camera."""
    for owner, service, ids in pg_service_world():
        with owner.session() as s:
            s.execute(update(MediaMetadataModel).values(camera_key="cam/shared"))
        yield owner, service, ids


def test_under_rls_the_counts_follow_the_series_and_the_totals_are_unread(pg) -> None:  # type: ignore[no-untyped-def]
    owner, service, ids = pg
    by_series = {v["series"]: k for k, v in ids.items()}
    with owner.session() as s:
        assert _kept(s) == _recount(s)
        assert _kept(s)[0] == {"cam/shared": len(EXPECTED)}
    with service.session() as s:
        for table in ("series_camera_members", "camera_media"):
            assert s.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
        sharing.set_rls_caller(s, CALLER_AGENCY)
        rows = s.scalars(text("SELECT series_id FROM series_camera_members"))
        visible = {r for r, lv in EXPECTED.items() if RANK[lv] >= RANK["hash"]}
        # camera keys are metadata: read only where the series is seen in full (0028)
        assert {by_series[x] for x in rows} == {r for r, lv in EXPECTED.items() if lv == "full"}
        assert s.scalar(text("SELECT count(*) FROM camera_media")) == 0  # every agency's
        # the list a service-role caller gets: the loop's, another agency's hidden
        # media left out by RLS alike
        for res in ("own", *sorted(visible - {"own"})):
            sid = ids[res]["series"]
            new = [(v, ln.media_id, ln.detail) for v, ln in series_links(s, sid)]
            assert new == _loop_links(s, sid), res
        own = [ln.media_id for _, ln in series_links(s, ids["own"]["series"])]
        full = {ids[r]["media"] for r, lv in EXPECTED.items() if lv == "full" and r != "own"}
        assert set(own) == full


def test_under_rls_a_camera_wholly_in_a_readable_series_is_skipped(pg) -> None:  # type: ignore[no-untyped-def]
    """Migration 0028: the service role learns which cameras to skip without reading
    ``camera_media``, only for series it sees in full; the list is unchanged."""
    owner, service, ids = pg
    whole = {
        "own": "cam/own-only",
        "unshared": "cam/unshared-only",
        "status": "cam/status-only",
        "full": "cam/full-only",
    }
    res_of = {
        "own": "own",
        "unshared": "unshared",
        "status": "network-status",
        "full": "network-full",
    }
    try:
        with owner.session() as s:
            for tag, key in whole.items():
                s.execute(
                    update(MediaMetadataModel)
                    .where(MediaMetadataModel.media_id == ids[res_of[tag]]["media"])
                    .values(camera_key=key)
                )
        with service.session() as s:
            sharing.set_rls_caller(s, CALLER_AGENCY)
            for tag, key in whole.items():
                sid = ids[res_of[tag]]["series"]
                asked = sorted(whole.values())  # every key, any series: only its own answers
                got = set(
                    s.scalars(
                        text("SELECT * FROM tessera_whole_cameras(:s, :k)"), {"s": sid, "k": asked}
                    )
                )
                # a series the caller does not see in full answers nothing, not even its
                # own camera (camera keys are metadata)
                assert got == (set() if tag in ("unshared", "status") else {key}), tag
                new = [(v, ln.media_id, ln.detail) for v, ln in series_links(s, sid)]
                assert new == _loop_links(s, sid), tag
            # the skip is taken: the own series' camera is not probed at all
            from sqlalchemy import event

            seen: list[str] = []

            def log(*args: object) -> None:
                seen.append(str(args[2]))

            event.listen(service.engine, "before_cursor_execute", log)
            try:
                series_links(s, ids["own"]["series"])
            finally:
                event.remove(service.engine, "before_cursor_execute", log)
            probes = [st for st in seen if " AS k, " in st]  # the outside-media probe
            assert seen and not probes, seen
    finally:
        with owner.session() as s:
            s.execute(update(MediaMetadataModel).values(camera_key="cam/shared"))


def _metres_north(lat: float, lon: float, north: float, east: float) -> tuple[float, float]:
    """A point ``north`` and ``east`` metres away (small offsets, spherical Earth)."""
    import math

    r = 6_371_008.8
    return (
        lat + math.degrees(north / r),
        lon + math.degrees(east / (r * math.cos(math.radians(lat)))),
    )


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The oracle's own great-circle distance (not the code under test's)."""
    import math

    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_gps_links_in_one_statement_list_what_the_definition_lists(db: Database) -> None:
    """The GPS half of ``series_links`` asks for every scanned point at once: the list is
    the definition's, computed here from the seeded rows: for the series' first
    ``SERIES_SCAN`` members with a point, in id order, the live media within 100 m,
    nearest first, not members, each listed once (at its first point)."""
    rng = random.Random(11)
    with db.session() as s:
        a = repo.create_agency(s, "NL-A", "NL", "Unit A", "a@example.org")
        series = repo.create_series(s, "Places", a)
        case = repo.get_or_create_case(s, a, "A-1")
        # (lat, lon, member?, membership removed?, media deleted?)
        specs: list[tuple[float, float, bool, bool, bool]] = []
        centres = [(52.37 + 0.01 * i, 4.89 + 0.013 * i) for i in range(13)]
        centres.append((10.0, 179.99995))  # the antimeridian: neighbours on both sides
        for lat, lon in centres:
            specs.append((lat, lon, True, False, False))
            for _ in range(rng.randint(1, 5)):
                dist = rng.choice([5.0, 30.0, 60.0, 99.0, 101.0, 150.0])
                north = dist * rng.choice([-1, 1]) * rng.random()
                east = rng.choice([-1, 1]) * (dist**2 - north**2) ** 0.5
                plat, plon = _metres_north(lat, lon, north, east)
                if plon > 180:
                    plon -= 360
                kind = rng.choice(["out", "out", "out", "member", "removed", "gone"])
                specs.append((plat, plon, kind == "member", kind == "removed", kind == "gone"))
        specs.append((*_metres_north(*centres[0], 40, 0), False, False, False))  # near two
        specs.append((*_metres_north(*centres[0], 0, 1), False, False, False))
        rng.shuffle(specs)
        made: dict[int, tuple[float, float, bool, bool, bool]] = {}
        for n, spec in enumerate(specs):
            d = hashlib.sha256(f"gps/{n}".encode()).digest()
            media = Media(sha256=d, md5=d[:16], sha1=d[:20], kind="image", byte_size=1)
            s.add(media)
            s.flush()
            s.add(
                Sighting(
                    media_id=media.id,
                    case_id=case.id,
                    agency_id=a.id,
                    original_path=f"/e/{n}.jpg",
                    seen_at=NOW,
                )
            )
            lat, lon, member, removed, gone = spec
            s.add(MediaMetadataModel(media_id=media.id, latitude=lat, longitude=lon, data={}))
            if member or removed:
                s.execute(
                    insert(series_media).values(
                        series_id=series.id, media_id=media.id, deleted_at=NOW if removed else None
                    )
                )
            if gone:
                media.deleted_at = NOW
            made[media.id] = spec
        s.flush()
        members = {m for m, sp in made.items() if sp[2]}
        scanned = sorted(members)[:SERIES_SCAN]
        for limit in (200, 4):
            want: list[tuple[int, int, str]] = []
            seen: set[int] = set()
            for via in scanned:
                here = made[via][:2]
                near = sorted(
                    (_haversine(here, sp[:2]), m)
                    for m, sp in made.items()
                    if not sp[4] and _haversine(here, sp[:2]) <= 100.0
                )
                for dist, m in near:
                    if m == via or m in members or m in seen:
                        continue
                    seen.add(m)
                    want.append((via, m, f"{dist:.0f} m"))
            want = want[:limit]
            got = [
                (via, ln.media_id, ln.detail)
                for via, ln in series_links(s, series.id, limit=limit)
                if ln.reason == "gps-near"
            ]
            assert [g[:2] for g in got] == [w[:2] for w in want], limit
            for g, w in zip(got, want, strict=True):  # metres as printed, rounding aside
                assert abs(int(g[2].split()[0]) - int(w[2].split()[0])) <= 1, (g, w)
            assert len(want) >= (4 if limit == 4 else 8)  # the world gives links to check
