"""Same scene across viewpoints, marker search, edited copies, zero false positives."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from tessera.features import (
    extract,
    extract_mirrored,
    extract_region,
    similar,
    verify,
)
from tessera.features.verify import MIN_INLIERS_H

from .conftest import SCENES, Corpus


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_same_scene_is_ranked_first_and_verified(corpus: Corpus, scene: str) -> None:
    for media_id in SCENES[scene]:
        store = {m: f for m, f in corpus.features.items() if m != media_id}
        hits = similar(corpus.features[media_id], corpus.index, store, k=5, shortlist=10)
        assert hits, f"{media_id}: nothing verified"
        assert corpus.scene_of[hits[0].media_id] == scene, (media_id, hits[0])
        assert all(corpus.scene_of[h.media_id] == scene for h in hits), hits


def test_distractors_verify_nothing(corpus: Corpus) -> None:
    """Zero false positives: no distractor verifies against anything else."""
    worst = 0
    for media_id, scene in corpus.scene_of.items():
        if not scene.startswith("distractor:"):
            continue
        store = {m: f for m, f in corpus.features.items() if m != media_id}
        hits = similar(
            corpus.features[media_id], corpus.index, store, accepted_only=False, shortlist=10
        )
        assert not [h for h in hits if h.verification.accepted], (media_id, hits[:2])
        worst = max([worst, *(h.verification.homography_inliers for h in hits)])
    assert worst < MIN_INLIERS_H


def _quad(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    union = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / union) if union > 0 else 0.0


@pytest.mark.parametrize(
    ("src", "dst", "h_file", "box"),
    [
        (
            "affnet-graffiti-and-wide-baseline-pairs/graf/img1.png",
            "affnet-graffiti-and-wide-baseline-pairs/graf/img3.png",
            "affnet-graffiti-and-wide-baseline-pairs/graf/H1to3p",
            (300, 200, 560, 450),
        ),
        (
            "homography-boat-iguazu-kaze/boat/img1.pgm",
            "homography-boat-iguazu-kaze/boat/img3.pgm",
            "homography-boat-iguazu-kaze/boat/H1to3p",
            (250, 150, 550, 400),
        ),
    ],
)
def test_marker_region_is_found_where_the_homography_says(  # noqa: PLR0917
    corpus: Corpus,
    read_h: Callable[[str], np.ndarray],
    src: str,
    dst: str,
    h_file: str,
    box: tuple[int, int, int, int],
) -> None:
    marker = extract_region(corpus.rgb(src), box)
    store = {m: f for m, f in corpus.features.items() if m != src}
    hits = similar(marker, corpus.index, store, k=3, shortlist=10)
    assert dst in [h.media_id for h in hits]
    hit = next(h for h in hits if h.media_id == dst)
    quad = hit.verification.quad_in_candidate
    assert quad is not None
    truth = cv2.perspectiveTransform(_quad(box)[None], read_h(h_file))[0]
    # the projected inlier hull of the marker lies inside the true marker quad, mostly
    assert _iou(quad, truth) > 0.5


def test_dvd_cover_is_found_in_the_photo(corpus: Corpus) -> None:
    """Artwork reference scan -> the phone photo of it among magazines (loose check)."""
    cover = "artwork-dvd-cover-smvs-pair/Ace_0.png"
    photo = "artwork-dvd-cover-smvs-pair/Ace_1.png"
    store = {m: f for m, f in corpus.features.items() if m != cover}
    hits = similar(corpus.features[cover], corpus.index, store, k=3, shortlist=10)
    assert hits[0].media_id == photo
    v = hits[0].verification
    assert v.homography is not None and v.quad_in_candidate is not None
    x0, y0, x1, y1 = v.region_in_candidate or (0, 0, 0, 0)
    h, w = corpus.rgb(photo).shape[:2]
    # the cover occupies a real part of the photo, inside its frame
    assert (x1 - x0) * (y1 - y0) > 0.1 * w * h
    assert -0.1 * w <= x0 < x1 <= 1.1 * w and -0.1 * h <= y0 < y1 <= 1.1 * h


# ---- edited copies (the "second triage stage" after PDQ) ----


def _crop(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    dy, dx = int(0.08 * h), int(0.08 * w)
    return rgb[dy:, dx : w - dx // 2]


def _rotate(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).rotate(4, resample=Image.BILINEAR, expand=True))


def _mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def _caption(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb.copy())
    w, h = im.size
    d = ImageDraw.Draw(im)
    d.rectangle((0, int(0.78 * h), w, h), fill=(255, 255, 255))
    d.text((10, int(0.82 * h)), "CAPTION TEXT " * 6, fill=(0, 0, 0))
    return np.asarray(im)


def _letterbox(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    bar = np.zeros((h // 6, w, 3), np.uint8)
    return np.concatenate([bar, rgb, bar])


EDITS = {
    "crop8": _crop,
    "rotate4": _rotate,
    "mirror": _mirror,
    "caption": _caption,
    "letterbox": _letterbox,
}
EDIT_SOURCES = [
    "vlfeat-mosaic-pairs/river1.jpg",
    "vlfeat-mosaic-pairs/roofs2.jpg",
    "artwork-dvd-cover-smvs-pair/Ace_1.png",
    "imagededup-ukbench-transforms/base_images/ukbench09040.jpg",
    "ocr-opencv-contrib-scenetext/scenetext03.jpg",
]


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_edited_copies_find_their_original(corpus: Corpus, edit: str) -> None:
    for src in EDIT_SOURCES:
        copy = EDITS[edit](corpus.rgb(src))
        queries = [extract(copy), extract_mirrored(copy)]
        hits = similar(queries, corpus.index, corpus.features, k=3, shortlist=10)
        assert hits, f"{edit} of {src}: nothing verified"
        assert hits[0].media_id == src, (edit, src, hits[0])
        assert hits[0].mirrored == (edit == "mirror")


def test_mirror_needs_the_mirrored_query() -> None:
    """SIFT is not mirror-invariant: documents why ``extract_mirrored`` exists."""
    rgb = np.asarray(Image.open(_shared_or_skip()).convert("RGB"))
    plain = verify(extract(_mirror(rgb)), extract(rgb))
    flipped = verify(extract_mirrored(_mirror(rgb)), extract(rgb))
    # a mirror is related by a reflection, which no (orientation-keeping) homography
    # fits; only left-right symmetric patches match at all
    assert plain.homography_inliers < MIN_INLIERS_H
    assert flipped.homography_inliers >= 10 * MIN_INLIERS_H


def _shared_or_skip() -> str:
    from tests.conftest import DATA

    path = DATA / "vlfeat-mosaic-pairs/roofs1.jpg"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    return str(path)
