"""Searches of the web UI: camera serial, place, marker type, a dropped file, a media
item's camera/GPS links, text pages; on SQLite and PostgreSQL, with the sharing rules
of ``sharing_world`` (camera, GPS and markers are ``full`` facts)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from tessera.app import App, Caller, Role
from tessera.app import search as search_uc
from tessera.app import text as text_uc
from tessera.errors import InvalidInput, NotFound
from tessera.storage import audit_log, repo
from tessera.storage.models import FingerprintModel, Media, MediaMetadataModel, MediaText
from tests.app.sharing_world import EXPECTED, build

NL_B = Caller(role=Role.ANALYST, user_id=7, email="b@example.org", agency_code="NL-B")
OP = Caller.local_operator()
LAT, LON = 52.0, 4.3
M_PER_DEG_LAT = 6_371_008.8 * 3.141592653589793 / 180  # 111,195 m: the oracle's metre


@pytest.fixture
def world(app: App) -> tuple[App, dict[str, dict[str, int]]]:
    """Every resource's media taken with camera "Canon 0012345"; resource i lies
    i * 10 m north of (LAT, LON)."""
    with app.transaction() as s:
        ids = build(s)
        for i, res in enumerate(sorted(ids)):
            md = s.get(MediaMetadataModel, ids[res]["media"])
            assert md is not None
            md.make, md.body_serial, md.camera_key = "Canon Inc.", "0012345", "canon/12345"
            md.latitude, md.longitude = LAT + i * 10 / M_PER_DEG_LAT, LON
    return app, ids


def _full(ids: dict[str, dict[str, int]]) -> set[int]:
    return {ids[r]["media"] for r, lv in EXPECTED.items() if lv == "full"}


def test_camera_serial_finds_the_body_whatever_the_spelling(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    every = {v["media"] for v in ids.values()}
    for serial, make in (("12345", None), ("0012345", "CANON"), (" 12345 ", "Canon Inc.")):
        r = search_uc.by_camera(app, OP, serial, make=make, limit=500)
        assert {h.media_id for h in r.hits} == every and r.next_after is None
    assert search_uc.by_camera(app, OP, "12345", make="Nikon").hits == ()
    assert search_uc.by_camera(app, OP, "2345").hits == ()  # the whole serial, not a part
    seen = search_uc.by_camera(app, NL_B, "12345", limit=500)
    assert {h.media_id for h in seen.hits} == _full(ids)
    with pytest.raises(InvalidInput):
        search_uc.by_camera(app, OP, "0000")


def test_camera_pages_are_cut_in_order(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    got: list[int] = []
    after = 0
    while True:
        page = search_uc.by_camera(app, OP, "12345", limit=5, after=after)
        got += [h.media_id for h in page.hits]
        if page.next_after is None:
            break
        after = page.next_after
    assert got == sorted(v["media"] for v in ids.values())
    newest: list[int] = []
    after = 0
    while True:  # newest first: the same media, the other way, pages neither repeat nor skip
        page = search_uc.by_camera(app, OP, "12345", limit=5, after=after, newest=True)
        newest += [h.media_id for h in page.hits]
        if page.next_after is None:
            break
        after = page.next_after
    assert newest == got[::-1]


def test_place_radius_nearest_first_and_paged(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    order = [ids[r]["media"] for r in sorted(ids)]  # resource i at i * 10 m
    r = search_uc.by_place(app, OP, LAT, LON, 45.0, limit=50)
    assert [h.media_id for h in r.hits] == order[:5]  # 0, 10, 20, 30, 40 m
    assert [round(h.distance_m) for h in r.hits] == [0, 10, 20, 30, 40]
    pages: list[int] = []
    offset = 0
    while True:
        page = search_uc.by_place(app, OP, LAT, LON, 1000.0, limit=4, offset=offset)
        pages += [h.media_id for h in page.hits]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert pages == order
    seen = search_uc.by_place(app, NL_B, LAT, LON, 1000.0, limit=500)
    assert {h.media_id for h in seen.hits} == _full(ids)
    for lat, lon, radius in ((91.0, 0.0, 10.0), (0.0, 181.0, 10.0), (0.0, 0.0, 0.0)):
        with pytest.raises(InvalidInput):
            search_uc.by_place(app, OP, lat, lon, radius)


def _place_pages(app: App, caller: Caller, radius: float, **kw: object) -> list[int]:
    got: list[int] = []
    offset = 0
    while True:
        page = search_uc.by_place(app, caller, LAT, LON, radius, limit=3, offset=offset, **kw)  # type: ignore[arg-type]
        got += [h.media_id for h in page.hits]
        assert all(h.distance_m <= radius for h in page.hits)
        if page.next_offset is None:
            return got
        offset = page.next_offset


def test_place_sorts_page_in_sql_both_ways(world) -> None:  # type: ignore[no-untyped-def]
    """Farthest first is the nearest-first order reversed; by media id both ways the
    same media (the box's corners never shown, pages neither repeat nor skip)."""
    app, ids = world
    order = [ids[r]["media"] for r in sorted(ids)]  # resource i at i * 10 m north
    inside = order[:5]  # 0..40 m; the rest are beyond 45 m
    assert _place_pages(app, OP, 45.0) == inside
    assert _place_pages(app, OP, 45.0, sort="distance", descending=True) == inside[::-1]
    assert _place_pages(app, OP, 45.0, sort="media") == sorted(inside)
    assert _place_pages(app, OP, 45.0, sort="media", descending=True) == sorted(inside)[::-1]
    assert _place_pages(app, OP, 1000.0, sort="media", descending=True) == sorted(order)[::-1]
    seen = _place_pages(app, NL_B, 1000.0, sort="media")
    assert seen == sorted(_full(ids))
    with pytest.raises(InvalidInput, match="sort"):
        search_uc.by_place(app, OP, LAT, LON, 45.0, sort="latitude")


def test_place_search_wraps_at_the_antimeridian(world) -> None:  # type: ignore[no-untyped-def]
    """Points 0.0004 degrees either side of 180 degrees are ~43 m apart across the
    line (the oracle: degrees x metres per degree x cos(latitude)), not 40,000 km."""
    app, ids = world
    lat = -17.0  # Fiji
    east, west, far_e, far_w = (ids[r]["media"] for r in sorted(ids)[:4])
    with app.transaction() as s:
        for media_id, lon in (
            (east, 179.9996),
            (west, -179.9996),
            (far_e, 179.99),
            (far_w, -179.99),
        ):
            md = s.get(MediaMetadataModel, media_id)
            assert md is not None
            md.latitude, md.longitude = lat, lon
    m_per_deg_lon = M_PER_DEG_LAT * np.cos(np.radians(lat))
    near = search_uc.by_place(app, OP, lat, 180.0, 100.0)
    assert {h.media_id for h in near.hits} == {east, west}
    for h in near.hits:
        assert h.distance_m == pytest.approx(0.0004 * m_per_deg_lon, rel=1e-3)
    from_west = search_uc.by_place(app, OP, lat, -179.9999, 100.0)
    assert [h.media_id for h in from_west.hits] == [west, east]  # nearest first, across
    assert [round(h.distance_m) for h in from_west.hits] == [
        round(0.0003 * m_per_deg_lon),
        round(0.0005 * m_per_deg_lon),
    ]
    links = search_uc.media_links(app, OP, east)
    assert west in {ln.media_id for ln in links.links if ln.reason == "gps-near"}


def test_marker_type_and_media_links_are_full_facts(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    seen = search_uc.by_marker_type(app, NL_B, "poster", limit=500)
    assert {h.media_id for h in seen.hits} == _full(ids)
    every = [h.marker_id for h in search_uc.by_marker_type(app, OP, None, limit=500).hits]
    assert every == sorted(every) and len(every) > 2
    first = search_uc.by_marker_type(app, OP, None, limit=2, newest=True)
    rest = search_uc.by_marker_type(
        app, OP, None, limit=500, newest=True, after=first.next_after or 0
    )
    assert [h.marker_id for h in first.hits + rest.hits] == every[::-1]
    assert {h.note for h in seen.hits} == {
        f"marker-{r}" for r, lv in EXPECTED.items() if lv == "full"
    }
    assert search_uc.by_marker_type(app, OP, "signage").hits == ()
    with pytest.raises(InvalidInput):
        search_uc.by_marker_type(app, OP, "spaceship")
    own = ids["own"]["media"]
    links = search_uc.media_links(app, NL_B, own)
    assert links.camera_key == "canon/12345"
    same = {x.media_id for x in links.links if x.reason == "same-camera"}
    assert same == _full(ids) - {own}
    with pytest.raises(NotFound):  # status is not enough to see its camera
        search_uc.media_links(app, NL_B, ids["network-status"]["media"])


def test_a_dropped_file_is_hashed_looked_up_and_not_stored(app: App) -> None:
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    sha = hashlib.sha256(data).digest()
    with app.transaction() as s:
        agency = repo.create_agency(s, "NL-A", "NL", "A", "a@example.org")
        series = repo.create_series(s, "Known", agency)
        m = Media(sha256=sha, md5=hashlib.md5(data).digest(), kind="image", byte_size=len(data))
        s.add(m)
        s.flush()
        repo.link(s, "series", series.id, "media", m.id)
        known_id = m.id
        before = repo.stats(s)
    r = search_uc.by_file(app, OP, data)
    assert r.hashes.sha256 == sha.hex() and r.hashes.md5 == hashlib.md5(data).hexdigest()
    assert r.hashes.pdq is not None and len(r.hashes.pdq) == 64
    exact = next(a for a in r.lookup.results if a.type == "sha256")
    assert [x.media_id for x in exact.matches] == [known_id]
    assert [x.name for x in r.lookup.series] == ["Known"]
    with app.transaction() as s:
        assert repo.stats(s) == before  # nothing stored


def test_text_search_pages(app: App) -> None:
    with app.transaction() as s:
        for i in range(7):
            d = hashlib.sha256(bytes([i])).digest()
            m = Media(sha256=d, kind="image", byte_size=1)
            s.add(m)
            s.flush()
            boxes = [[10, 20, 30, 8, "harbour", 91.5], ["bad"]]  # a malformed box is skipped
            s.add(MediaText(media_id=m.id, engine="t", language="eng", text="harbour", boxes=boxes))
    got: list[int] = []
    offset = 0
    while True:
        page = text_uc.search(app, OP, "harbour", limit=3, offset=offset)
        got += [h.media_id for h in page.hits]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert len(got) == 7 and len(set(got)) == 7
    words = text_uc.of_media(app, OP, got[0])
    assert [(b.text, b.language) for b in words.blocks] == [("harbour", "eng")]
    w = words.blocks[0].words
    assert [(x.word, x.x, x.y, x.width, x.height, x.confidence) for x in w] == [
        ("harbour", 10, 20, 30, 8, 91.5)
    ]


def test_text_search_sorts_page_in_sql(app: App) -> None:
    """Best match first (more occurrences of the word rank higher on both engines),
    or by media id either way; every order pages without repeating or skipping."""
    with app.transaction() as s:
        ids = []
        for i, body in enumerate(["harbour", "harbour harbour harbour", "harbour", "harbour x"]):
            m = Media(sha256=hashlib.sha256(b"t" + bytes([i])).digest(), kind="image", byte_size=1)
            s.add(m)
            s.flush()
            ids.append(m.id)
            s.add(MediaText(media_id=m.id, engine="t", language="eng", text=body, boxes=[]))

    def pages(**kw: object) -> list[int]:
        got: list[int] = []
        offset = 0
        while True:
            page = text_uc.search(app, OP, "harbour", limit=2, offset=offset, **kw)  # type: ignore[arg-type]
            got += [h.media_id for h in page.hits]
            if page.next_offset is None:
                return got
            offset = page.next_offset

    best = pages()
    assert best[0] == ids[1] and sorted(best) == sorted(ids)
    assert pages(sort="relevance", descending=True) == best[::-1]
    assert pages(sort="media") == sorted(ids)
    assert pages(sort="media", descending=True) == sorted(ids)[::-1]
    with pytest.raises(InvalidInput, match="sort"):
        text_uc.search(app, OP, "harbour", sort="text")


def test_picture_sizes_in_one_go_match_show_one_by_one(world) -> None:  # type: ignore[no-untyped-def]
    """The media page's sizes of other pictures (one transaction) are what ``show``
    gives one id at a time: the same media, the same width and height."""
    from tessera.app import media as media_uc

    app, ids = world
    every = sorted(v["media"] for v in ids.values())
    with app.transaction() as s:
        for n, mid in enumerate(every):
            m = s.get(Media, mid)
            assert m is not None
            m.width, m.height = (640 + n, 480) if n % 3 else (None, None)
    for caller in (NL_B, OP):
        want = {}
        for mid in every:
            try:
                d = media_uc.show(app, caller, str(mid))
            except NotFound:
                continue
            if d.media.width and d.media.height:
                want[mid] = (d.media.width, d.media.height)
        assert media_uc.picture_sizes(app, caller, every) == want
    assert len(media_uc.picture_sizes(app, NL_B, every)) < len(
        media_uc.picture_sizes(app, OP, every)
    )


def test_network_searches_are_audited(world) -> None:  # type: ignore[no-untyped-def]
    app, _ = world
    with app.transaction() as s:
        before = audit_log.head(s).size
    search_uc.by_camera(app, NL_B, "12345")
    search_uc.by_place(app, NL_B, LAT, LON, 100.0)
    search_uc.by_marker_type(app, NL_B, None)
    with app.transaction() as s:
        assert audit_log.head(s).size == before + 3


def test_media_matches_are_near_pdqs_of_visible_media(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    base = bytes(range(32))
    near = bytes([base[0] ^ 0b111]) + base[1:]  # 3 bits apart
    far = bytes(b ^ 0xFF for b in base)  # 256 bits apart
    codes = {"own": base, "network-full": near, "network-status": near, "unshared": near}
    codes["default"] = far
    with app.transaction() as s:
        for res, code in codes.items():
            s.add(
                FingerprintModel(
                    media_id=ids[res]["media"], algorithm="pdq", version=1, value=code, quality=100
                )
            )
    r = search_uc.media_matches(app, NL_B, ids["own"]["media"])
    assert [(h.media_id, h.distance) for h in r.hits] == sorted(
        (ids[x]["media"], 3) for x in ("network-full", "network-status")
    )  # unshared: not for NL-B; default: too far; itself: left out
    every = search_uc.media_matches(app, OP, ids["own"]["media"])
    assert {h.media_id for h in every.hits} == {
        ids[x]["media"] for x in ("network-full", "network-status", "unshared")
    }
    with pytest.raises(NotFound):
        search_uc.media_matches(app, NL_B, ids["unshared"]["media"])


def test_series_links_by_camera_and_place_in_few_queries(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    from tessera.app import series as series_uc

    order = sorted(ids)
    me = order.index("own")
    d = series_uc.show(app, OP, "S-own")
    others = {ids[r]["media"] for r in order if r != "own"}
    camera = {x.media_id for x in d.linked_media if x.reason == "same-camera"}
    place = {x.media_id for x in d.linked_media if x.reason == "gps-near"}
    assert camera == others  # one camera took them all
    assert place == {
        ids[r]["media"] for i, r in enumerate(order) if r != "own" and abs(i - me) <= 10
    }
    assert {x.via_media for x in d.linked_media} == {ids["own"]["media"]}


def test_series_links_show_only_media_the_caller_sees_in_full(world) -> None:  # type: ignore[no-untyped-def]
    """NL-B's own series: every resource shares its camera and lies within 100 m of
    some other, but only media NL-B sees in full may be named (on SQLite the query
    itself returns every agency's media)."""
    app, ids = world
    from tessera.app import series as series_uc

    d = series_uc.show(app, NL_B, "S-own")
    assert d.level == "full"
    shown = {x.media_id for x in d.linked_media}
    assert {x.media_id for x in d.linked_media if x.reason == "same-camera"} == _full(ids) - {
        ids["own"]["media"]
    }
    assert shown <= _full(ids)
