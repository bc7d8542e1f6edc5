"""OCR text search, metadata links, markers and stored features: SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from tessera.errors import InvalidInput, NotFound
from tessera.features.local import LocalFeatures
from tessera.ingest.writer import write_batch
from tessera.pipeline.result import FileResult
from tessera.storage import camera_links, markers, repo
from tessera.storage.db import Database
from tessera.storage.models import IngestRun, MediaText
from tessera.storage.text_search import query_words, search_text


def _features(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return LocalFeatures(
        rng.uniform(0, 400, (n, 2)).astype(np.float32),
        rng.integers(0, 255, (n, 128), dtype=np.uint8),
        np.full(n, 4.0, np.float16),
        np.zeros(n, np.float16),
        640,
        480,
    ).to_bytes()


def _file(
    path: str,
    words: str | None = None,
    metadata: dict[str, object] | None = None,
    features: bytes | None = None,
) -> FileResult:
    content = path.encode()
    return FileResult(
        path=path,
        status="ok",
        size=len(content),
        md5=hashlib.md5(content).hexdigest(),
        sha1=hashlib.sha1(content).hexdigest(),
        sha256=hashlib.sha256(content).hexdigest(),
        format="jpeg",
        width=640,
        height=480,
        features=features,
        metadata=metadata,
        text=[[10 * i, 5, 8, 8, w, 90.0] for i, w in enumerate(words.split())] if words else None,
        text_language="eng" if words else None,
    )


def _ingest(db: Database, files: list[FileResult]) -> dict[str, int]:
    with db.session() as s:
        if not s.scalar(select(func.count()).select_from(IngestRun)):
            repo.create_agency(s, "NL", "NL", "nl")
            repo.create_series(s, "Amber", repo.get_agency(s, "NL"))
        a = repo.get_agency(s, "NL")
        c = repo.get_or_create_case(s, a, "c1")
        run = IngestRun(agency_id=a.id, case_id=c.id, series_id=None, root="/x")
        s.add(run)
        s.flush()
        out = write_batch(s, run, files)
        assert set(out.statuses.values()) == {"new"}
        ids = {
            f.path: repo.media_by_sha256(s, [bytes.fromhex(f.sha256 or "")])[
                bytes.fromhex(f.sha256 or "")
            ].id
            for f in files
        }
    return ids


def test_text_search_needs_every_word_any_order_and_prefixes(db: Database) -> None:
    ids = _ingest(
        db,
        [
            _file("/a.jpg", "DOUBLE PARKING PROHIBITED"),
            _file("/b.jpg", "Conference Sports Centre Car Parks"),
            _file("/c.jpg", "Café Zürich"),
            _file("/d.jpg"),
        ],
    )
    with db.session() as s:
        assert [h.media_id for h in search_text(s, "prohibited parking")] == [ids["/a.jpg"]]
        assert [h.media_id for h in search_text(s, "PARKING sports")] == []
        assert {h.media_id for h in search_text(s, "park*")} == {ids["/a.jpg"], ids["/b.jpg"]}
        assert [h.media_id for h in search_text(s, "zürich")] == [ids["/c.jpg"]]
        hit = search_text(s, "centre")[0]
        assert hit.language == "eng" and [b[4] for b in hit.boxes][2] == "Centre"
        # engine syntax in a query is treated as words, never executed
        assert search_text(s, '"AND" OR ( NEAR') == []
    with pytest.raises(InvalidInput):
        query_words(" ()* ")


def test_text_index_follows_updates_and_deletes(db: Database) -> None:
    ids = _ingest(db, [_file("/a.jpg", "harbour hotel")])
    with db.session() as s:
        row = s.scalar(select(MediaText).where(MediaText.media_id == ids["/a.jpg"]))
        assert row is not None
        row.text = "station hotel"
    with db.session() as s:
        assert search_text(s, "harbour") == []
        assert [h.media_id for h in search_text(s, "station")] == [ids["/a.jpg"]]
        s.execute(delete(MediaText))
    with db.session() as s:
        assert search_text(s, "station") == [] and search_text(s, "hotel") == []


def test_camera_and_gps_links(db: Database) -> None:
    cam = {"make": "Canon", "body_serial": "430165528", "camera_key": "canon/430165528"}
    venice = {"latitude": 45.4328333, "longitude": 12.329}
    ids = _ingest(
        db,
        [
            _file("/fox1.png", metadata=cam),
            _file("/fox2.png", metadata={**cam, "model": "EOS"}),
            _file("/other-cam.png", metadata={**cam, "camera_key": "nikon/430165528"}),
            _file("/roofs1.jpg", metadata=venice),
            # ~12 m north-east, and ~1.1 km away
            _file("/roofs2.jpg", metadata={"latitude": 45.43291, "longitude": 12.32905}),
            _file("/far.jpg", metadata={"latitude": 45.4428, "longitude": 12.329}),
        ],
    )
    with db.session() as s:
        assert camera_links.same_camera(s, "canon/430165528") == sorted(
            [ids["/fox1.png"], ids["/fox2.png"]]
        )
        near = camera_links.near_point(s, 45.4328333, 12.329, radius_m=50)
        assert [m for m, _ in near] == [ids["/roofs1.jpg"], ids["/roofs2.jpg"]]
        assert 5 < near[1][1] < 20
        wide = camera_links.near_point(s, 45.4328333, 12.329, radius_m=2000)
        assert ids["/far.jpg"] in [m for m, _ in wide]
        links = camera_links.links_for(
            s, "canon/430165528", (45.4328333, 12.329), exclude=ids["/fox1.png"]
        )
        assert {(ln.media_id, ln.reason) for ln in links} == {
            (ids["/fox2.png"], "same-camera"),
            (ids["/roofs1.jpg"], "gps-near"),
            (ids["/roofs2.jpg"], "gps-near"),
        }
        series = repo.get_series(s, "Amber")
        repo.link(s, "series", series.id, "media", ids["/fox1.png"])
        out = camera_links.series_links(s, series.id)
        assert [(via, ln.media_id, ln.reason) for via, ln in out] == [
            (ids["/fox1.png"], ids["/fox2.png"], "same-camera")
        ]


def test_markers_store_validate_and_list(db: Database) -> None:
    blob = _features(40, 1)
    ids = _ingest(db, [_file("/p.jpg", features=blob)])
    with db.session() as s:
        media = repo.media_by_id(s, ids["/p.jpg"])
        assert repo.features_of(s, [media.id]) == {media.id: blob}
        series = repo.get_series(s, "Amber")
        loc = repo.create_location(s, "Harbour hotel, room 12")
        mk = markers.create_marker(
            s,
            media,
            (10, 20, 200, 220),
            "poster",
            blob,
            note="band poster",
            series=series,
            location=loc,
        )
        with pytest.raises(InvalidInput, match="not one of"):
            markers.create_marker(s, media, (0, 0, 50, 50), "tattoo", blob)
        with pytest.raises(InvalidInput, match="outside"):
            markers.create_marker(s, media, (0, 0, 641, 50), "poster", blob)
        mid, sid, lid = mk.id, series.id, loc.id
    with db.session() as s:
        assert [m.id for m in markers.list_markers(s, series_id=sid)] == [mid]
        assert [m.id for m in markers.list_markers(s, location_id=lid)] == [mid]
        assert markers.list_markers(s, series_id=sid + 99) == []
        got = markers.get_marker(s, mid)
        assert (got.x0, got.y0, got.x1, got.y1, got.kind) == (10, 20, 200, 220, "poster")
        assert LocalFeatures.from_bytes(got.features).desc.shape == (40, 128)
        with pytest.raises(NotFound):
            markers.get_marker(s, mid + 1)


@pytest.mark.parametrize("bad", ["1,2,3", "a,b,c,d", "5,5,5,9", "-1,0,4,4", "9,0,4,4"])
def test_marker_boxes_are_validated(bad: str) -> None:
    with pytest.raises(InvalidInput):
        markers.parse_box(bad)
    assert markers.parse_box(" 1, 2,30,40") == (1, 2, 30, 40)


def test_scene_store_and_second_stage_on_each_backend(db: Database, tmp_path: Path) -> None:
    """Features written by ingest's writer are found again through the scene store."""
    from tessera.demo.samples import synthetic_picture
    from tessera.features.local import extract
    from tessera.matching.scene_store import SceneStore
    from tessera.matching.scene_triage import second_stage

    pictures = {i: np.asarray(synthetic_picture(480, 360, 100 + i)) for i in range(6)}
    ids = _ingest(
        db,
        [_file(f"/s/{i}.png", features=extract(rgb).to_bytes()) for i, rgb in pictures.items()],
    )
    store = SceneStore(db, tmp_path / "scene")
    assert store.status()["media"] == 6
    crop = extract(pictures[4][30:, 40:]).to_bytes()
    found = second_stage(db, store, [(0, FileResult("/q.png", "ok", features=crop))]).related
    assert [r.media_id for r in found[0] if r.relation == "copy"] == [ids["/s/4.png"]]
