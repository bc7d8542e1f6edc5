"""The ingest use case raises deconfliction notices itself (real files, real ingest).

NL-A ingests generated pictures into its series (shared at ``none``); DE-B then
ingests the same files into its own case, shared with NL-A at ``status``: NL-A is
told DE-B, DE, the file count and DE-B's case number; DE-B is told nothing.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.app import App, coop
from tessera.app import ingest as ingest_uc
from tessera.app.sharing import share_case, share_series
from tests.app.test_coop import OP, user
from tests.seeding import ensure_agency, ensure_series


def _pictures(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        # smooth random fields: PDQ quality well above 50, unrelated to each other
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((256, 256), Image.BILINEAR).save(folder / f"p{i}.png")


def test_ingest_notifies_the_series_owner(app: App, tmp_path: Path) -> None:
    ensure_agency(app.db, "NL-A", "NL")
    ensure_agency(app.db, "DE-B", "DE")
    ensure_series(app.db, "S-Secret", "NL-A")
    share_series(app, OP, "S-Secret", "none", network=True)
    pics = tmp_path / "pics"
    _pictures(pics, 3)
    ingest_uc.run(
        app,
        OP,
        pics,
        agency_code="NL-A",
        case_number="NL-1",
        series_name="S-Secret",
        features=False,
        workers=1,
    )
    assert coop.list_notifications(app, OP) == []  # the owner's own ingest
    ingest_uc.run(app, OP, pics, agency_code="DE-B", case_number="DE-5", features=False, workers=1)
    (n,) = coop.list_notifications(app, user("NL-A"))
    assert n.kind == "series-hit" and n.payload["via"] == "ingest"
    assert n.payload["finder_agency"] == "DE-B" and n.payload["files"] == 3
    assert n.payload["finder_case"] is None  # DE-5 is not shared with NL-A
    assert coop.list_notifications(app, user("DE-B")) == []
    share_case(app, OP, "DE-5", "status", agency="DE-B", agencies=["NL-A"])
    more = tmp_path / "more"
    _pictures(more, 3)  # the same pixels again, under another root
    ingest_uc.run(app, OP, more, agency_code="DE-B", case_number="DE-5", features=False, workers=1)
    latest = coop.list_notifications(app, user("NL-A"))[0]
    assert latest.payload["finder_case"] == "DE-5"


def test_triage_flood_rule_quarantines(app: App, tmp_path: Path) -> None:
    """12 files of one triage (same pixels, different bytes) on one stored item:
    more than 5 % and at least 10, so the item is quarantined and its owner told."""
    from PIL.PngImagePlugin import PngInfo

    from tessera.app import lookup, trust
    from tessera.app import triage as triage_uc

    ensure_agency(app.db, "NL-A", "NL")
    ensure_series(app.db, "S-X", "NL-A")
    one = tmp_path / "one"
    _pictures(one, 1)
    ingest_uc.run(
        app,
        OP,
        one,
        agency_code="NL-A",
        case_number="NL-1",
        series_name="S-X",
        features=False,
        workers=1,
    )
    copies = tmp_path / "copies"
    copies.mkdir()
    picture = Image.open(one / "p0.png")
    for i in range(12):
        info = PngInfo()
        info.add_text("Comment", f"copy {i}")
        picture.save(copies / f"c{i}.png", pnginfo=info)
    report = triage_uc.run(app, OP, [copies], scenes=False, workers=1)
    assert report.counts()["known"] + report.counts()["near"] == 12
    (q,) = trust.list_quarantine(app, OP)
    assert "12 of 12 files" in q.reason
    assert [n.kind for n in coop.list_notifications(app, user("NL-A"))] == ["quarantine"]
    digest = hashlib.sha256((one / "p0.png").read_bytes()).hexdigest()
    sha = lookup.HashQuery(type="sha256", hash=digest)
    assert lookup.lookup(app, OP, [sha]).results[0].matches[0].quarantined


def test_network_triage_blind_hit(app: App, tmp_path: Path) -> None:
    """DE-B triages files of a series shared at none: its report says new, NL-A is told."""
    from tessera.app import triage as triage_uc

    ensure_agency(app.db, "NL-A", "NL")
    ensure_agency(app.db, "DE-B", "DE")
    ensure_series(app.db, "S-Secret", "NL-A")
    share_series(app, OP, "S-Secret", "none", network=True)
    pics = tmp_path / "pics"
    _pictures(pics, 2)
    ingest_uc.run(
        app,
        OP,
        pics,
        agency_code="NL-A",
        case_number="NL-1",
        series_name="S-Secret",
        features=False,
        workers=1,
    )
    report = triage_uc.run(app, user("DE-B"), [pics], scenes=False, workers=1)
    assert report.counts()["new"] == 2 and report.counts()["known"] == 0
    (n,) = coop.list_notifications(app, user("NL-A"))
    assert n.payload["via"] == "triage" and n.payload["finder_agency"] == "DE-B"
    assert n.payload["files"] == 2
    assert coop.list_notifications(app, user("DE-B")) == []


@pytest.mark.chromaprint
def test_new_case_overlap_by_video_audio_and_edited_copy(
    app: App, tmp_path: Path, vectors_dir: Path, data_dir: Path
) -> None:
    """FR-C's new case holds a video, a recording and a picture; DE-B's new case a
    shorter cut of the video (a segment), an MP3 excerpt of the recording (audio) and a
    crop of the picture (an edited copy PDQ misses): no byte or PDQ match anywhere, yet
    both sides are told their cases share 3 files, and how."""
    from tessera.demo.samples import synthetic_picture
    from tessera.fingerprints.pdq import MATCH_THRESHOLD, pdq_hash_rgb
    from tests.matching.test_av_triage import _excerpt_mp3

    ensure_agency(app.db, "FR-C", "FR")
    ensure_agency(app.db, "DE-B", "DE")
    known, query = tmp_path / "known", tmp_path / "query"
    known.mkdir()
    query.mkdir()
    videos = vectors_dir / "videos"
    music = data_dir / "audio-librosa-open-clips" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
    shutil.copy(videos / "chair-22-sd-grey-bar.mp4", known / "chair-22.mp4")
    shutil.copy(videos / "chair-20-sd-bar.mp4", query / "chair-20.mp4")
    shutil.copy(music, known / "music.ogg")
    _excerpt_mp3(music, query / "excerpt.mp3", 10.0, 25.0)
    # 1024 px wide: since the copy-or-other-shot rule (7547eaa) a crop of a small
    # picture with ~25 keypoints can fall to "scene" (issue 16's low-texture item).
    picture = np.asarray(synthetic_picture(1024, 768, 104))
    crop = np.ascontiguousarray(picture[192:, 256:])
    Image.fromarray(picture).save(known / "room.png")
    Image.fromarray(crop).save(query / "room-crop.png")
    far = bin(int(pdq_hash_rgb(picture).hex, 16) ^ int(pdq_hash_rgb(crop).hex, 16)).count("1")
    assert far > MATCH_THRESHOLD  # the precondition: PDQ alone would miss the copy
    ingest_uc.run(app, OP, known, agency_code="FR-C", case_number="FR-1", workers=1)
    ingest_uc.run(app, OP, query, agency_code="DE-B", case_number="DE-9", workers=1)
    (nd,) = [n for n in coop.list_notifications(app, user("DE-B")) if n.kind == "case-overlap"]
    (nf,) = [n for n in coop.list_notifications(app, user("FR-C")) if n.kind == "case-overlap"]
    assert nd.payload["files"] == nf.payload["files"] == 3
    assert nd.payload["your_case"] == "DE-9" and nf.payload["your_case"] == "FR-1"
    assert {"video", "audio", "copy"} <= set(nd.payload["matched_by"])
    assert "exact" not in nd.payload["matched_by"]


def test_one_agency_node_searches_no_overlaps(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only other agencies' series and cases are told of an ingest's overlaps, so on a
    node with one agency the notice searches nothing (its edited-copy search is the
    second stage on every still of the run, in one process); a second agency on the
    node turns the search back on, for both agencies' ingests."""
    ensure_agency(app.db, "NL-A", "NL")
    searched: list[int] = []
    real = coop._similar_media

    def counted(*args: object, **kwargs: object) -> dict[int, set[str]]:
        searched.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(coop, "_similar_media", counted)
    pics = tmp_path / "pics"
    _pictures(pics, 2)
    ingest_uc.run(app, OP, pics, agency_code="NL-A", case_number="NL-1", features=False, workers=1)
    assert searched == []
    ensure_agency(app.db, "DE-B", "DE")
    more = tmp_path / "more"
    _pictures(more, 2)  # the same pixels: DE-B's case overlaps NL-A's
    ingest_uc.run(app, OP, more, agency_code="DE-B", case_number="DE-1", features=False, workers=1)
    assert searched == [1]
    assert [n.kind for n in coop.list_notifications(app, user("NL-A"))] == ["case-overlap"]
    again = tmp_path / "again"
    _pictures(again, 1)
    ingest_uc.run(app, OP, again, agency_code="NL-A", case_number="NL-2", features=False, workers=1)
    assert searched == [1, 1]
