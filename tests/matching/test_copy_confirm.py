"""The copy check's confirmation (issue 16 item 3 in triage's own path).

The verdicts' copy check verifies with keypoints of the picture shrunk to 320
pixels. Each of them spans several stored pixels, so the parallax of another shot
hides under it: camera zooms and turns of the Boat scene (another photograph of one
harbour, the set's README) verified as edited copies and came out ``near``. A copy
found above ``CONFIRM_RESIDUAL`` now counts only once the file's full features,
read again from disk, do not show another shot; a real edited copy whose coarse
residual lies as high is confirmed and says so.

Truth: the Boat pictures are other shots (their README: a zoom and a rotation of the
camera); the rotated copy is made here from the seizure benchmark's generator.
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tessera.app import App
from tessera.app import triage as triage_uc
from tessera.app.settings import Settings
from tessera.features.local import LocalFeatures
from tessera.features.scene import SceneMatch, match_pair
from tessera.matching.scene_store import SceneStore
from tessera.matching.triage.copies import (
    CONFIRM_RESIDUAL,
    UNCONFIRMED,
    copy_check,
    shows_another_shot,
)
from tessera.pipeline import reread as reread_module
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import HashOptions
from tests.app.test_coop import OP
from tests.seeding import ingest_known

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
FULL = HashOptions(pdq=False, features=True, features_compact=False, metadata=True)
"""The leads stage's read, which the confirmation makes without metadata."""
SEED = 14483  # the 100k seizure's f063282-rotate3.jpg: 640 x 480, coarse residual 0.079
BORDERLINE = {  # copies of the 100k seizure whose full features verify them weakly
    "f036578-crop.jpg": (94455, "crop"),  # same picture, but 27 % of keypoints agree
    "f071454-rotate3.jpg": (91114, "rotate3"),  # full-feature residual 0.0825
}


def _generator() -> Any:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_seizure
    finally:
        sys.path.remove(str(BENCHMARKS))
    return bench_seizure


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Any:
    root = tmp_path_factory.mktemp("confirm")
    known, seizure = root / "known", root / "seizure"
    known.mkdir()
    seizure.mkdir()
    boat = data_dir / "homography-boat-iguazu-kaze" / "boat"
    Image.open(boat / "img2.pgm").convert("RGB").save(known / "boat-2.png")
    for n in (1, 3):
        Image.open(boat / f"img{n}.pgm").convert("RGB").save(seizure / f"boat-{n}.png")
    gen = _generator()
    picture = gen.picture(SEED, 2048)
    picture.save(known / "generated.jpg", quality=90)
    gen.edit(picture, "rotate3").save(seizure / "generated-rotate3.jpg", quality=90)
    for name, (seed, kind) in BORDERLINE.items():
        original = gen.picture(seed, 2048)
        original.save(known / f"known-{seed}.jpg", quality=90)
        gen.edit(original, kind).save(seizure / name, quality=90)

    app = App(Settings.for_home(root / "home"))
    app.migrate()
    ingest_known(app, known)
    yield app, seizure
    app.close()


def _coarse(app: App, path: Path) -> dict[int, Any]:
    """The copy check on ``path`` alone, as the verdicts run it, without confirmation."""
    f = hash_bytes(path.read_bytes(), str(path), HashOptions(copy_features=True))
    scene: SceneStore = app.scene_store()
    found, failed = copy_check(scene, [(0, f)], confirm=lambda _f: None)
    assert not failed
    return found


def test_other_shots_of_a_harbour_pass_the_coarse_check(world: Any) -> None:
    """Not vacuous: the 320-pixel keypoints alone call the Boat shots copies (and the
    generated rotation too, above the confirmation's residual), so what the next tests
    see is the confirmation's doing. A confirmation that cannot read the file (None)
    leaves the copy as found, and says it was not confirmed."""
    app, seizure = world
    for name in ("boat-1.png", "boat-3.png", "generated-rotate3.jpg"):
        found = _coarse(app, seizure / name)
        assert [r.relation for r in found.get(0, [])] == ["copy"], name
        assert found[0][0].detail["confirmed"] == UNCONFIRMED


def test_other_shots_are_not_near_and_a_rotated_copy_is_confirmed(world: Any) -> None:
    app, seizure = world
    report = triage_uc.run(app, OP, [seizure], workers=1, leads=False)
    by_name = {Path(it.file.path).name: it for it in report.items}
    assert by_name["boat-1.png"].status == "new", by_name["boat-1.png"].matches
    assert by_name["boat-3.png"].status == "new", by_name["boat-3.png"].matches
    rotated = by_name["generated-rotate3.jpg"]
    assert rotated.status == "near"
    (match,) = [m for m in rotated.matches if m.via == "local-features"]
    assert match.detail.get("confirmed") == "full-features"
    assert "rotated 3 degrees" in str(match.detail.get("reason")), match.detail


def test_other_shots_in_a_zip_are_read_again_and_not_near(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The confirmation reads zip members again (a zip inside the zip too), and a small
    tar.gz's (read again up to the member), so the Boat shots packed are ``new`` as
    they are loose. A member of a tar.gz over ``reread.WALK_AGAIN`` is not read again
    (its archive would be decompressed up to it for each copy): the coarse copy
    stands, marked."""
    app, seizure = world
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.write(seizure / "boat-3.png", "boat-3.png")
    packed = tmp_path / "packed"
    packed.mkdir()
    with zipfile.ZipFile(packed / "boats.zip", "w") as z:
        z.write(seizure / "boat-1.png", "photos/boat-1.png")
        z.write(seizure / "generated-rotate3.jpg", "photos/generated-rotate3.jpg")
        z.writestr("inner.zip", inner.getvalue())
    with tarfile.open(packed / "boats.tar.gz", "w:gz") as t:
        t.add(seizure / "boat-1.png", "boat-1.png")
    report = triage_uc.run(app, OP, [packed], workers=1, leads=False)
    by_path = {it.file.path: it for it in report.items}
    zipped = str(packed / "boats.zip")
    for label in (f"{zipped}!/photos/boat-1.png", f"{zipped}!/inner.zip!/boat-3.png"):
        assert by_path[label].status == "new", by_path[label].matches
    rotated = by_path[f"{zipped}!/photos/generated-rotate3.jpg"]
    (match,) = [m for m in rotated.matches if m.via == "local-features"]
    assert rotated.status == "near" and match.detail.get("confirmed") == "full-features"
    tarred = f"{packed / 'boats.tar.gz'}!/boat-1.png"
    assert by_path[tarred].status == "new", by_path[tarred].matches
    monkeypatch.setattr(reread_module, "WALK_AGAIN", (packed / "boats.tar.gz").stat().st_size - 1)
    (packed / "boats.zip").unlink()
    report = triage_uc.run(app, OP, [packed], workers=1, leads=False)
    (item,) = [it for it in report.items if it.file.path == tarred]
    (match,) = [m for m in item.matches if m.via == "local-features"]
    assert item.status == "near" and match.detail.get("confirmed") == UNCONFIRMED


def _full_match(known: Path, copy: Path) -> SceneMatch:
    """``copy``'s full features (as the confirmation reads them) against ``known`` as
    ingest stores it."""
    stored = hash_bytes(known.read_bytes(), "k", HashOptions(features=True))
    full = hash_bytes(copy.read_bytes(), "q", replace(FULL, metadata=False))
    assert stored.features and full.features
    return match_pair(
        LocalFeatures.from_bytes(full.features), LocalFeatures.from_bytes(stored.features), "k"
    )


def test_a_weaker_full_verification_is_no_evidence_of_another_shot(world: Any) -> None:
    """Two copies of the 100k seizure the first confirmation rule (any ``scene`` from
    full features) turned ``new``: full features verify them as the same picture with
    a low inlier share, or with a residual just over a copy's (0.0825), not with the
    parallax (>= 0.11) or perspective another shot shows. The Boat shot does show it."""
    app, seizure = world
    known = seizure.parent / "known"
    for name, (seed, _) in BORDERLINE.items():
        m = _full_match(known / f"known-{seed}.jpg", seizure / name)
        assert m.relation == "scene" and not shows_another_shot(m), (name, m.verification)
    boat = _full_match(known / "boat-2.png", seizure / "boat-1.png")
    assert boat.relation == "scene" and shows_another_shot(boat), boat.verification
    # through the verdicts, where retrieval shortlists the original (in this small
    # index the crop's is not shortlisted at all: a retrieval miss, not this rule's)
    report = triage_uc.run(app, OP, [seizure], workers=1, leads=False)
    rotated = next(it for it in report.items if Path(it.file.path).name == "f071454-rotate3.jpg")
    assert rotated.status == "near" and _coarse(app, seizure / "f071454-rotate3.jpg")


def test_the_leads_stage_lists_the_other_shot_as_a_scene(world: Any) -> None:
    app, seizure = world
    report = triage_uc.run(app, OP, [seizure], workers=1, leads=True)
    boat = next(it for it in report.items if Path(it.file.path).name == "boat-1.png")
    assert boat.status == "new"
    assert [r.relation for r in boat.related] == ["scene"], boat.related


def test_the_threshold_sits_between_copies_and_the_harbour() -> None:
    """The constant's own figures: copies' coarse residuals reach above it (so the
    rotation above is confirmed), the Boat shots' lowest (0.049) lies above it."""
    assert 0.04 < CONFIRM_RESIDUAL < 0.049
