"""ORB keypoints of the copy check's first tier: frames, the stored form and matching.

Oracles: the known geometry of the edits made here (a crop is a translation by its
offset, a half-size copy a scaling by 2), not the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from tessera.demo.samples import synthetic_picture
from tessera.errors import InvalidInput
from tessera.features import orb


def _picture(w: int = 800, h: int = 600, seed: int = 7) -> np.ndarray:
    return np.asarray(synthetic_picture(w, h, seed).convert("RGB"))


def test_extract_caps_keypoints_and_maps_to_the_full_frame() -> None:
    rgb = _picture(1600, 1200)
    f = orb.extract(rgb, max_side=640, nfeatures=300)
    assert 0 < len(f) <= 300
    assert (f.width, f.height) == (1600, 1200)
    assert f.xy[:, 0].max() > 640  # scaled back from the 640-px picture
    assert f.xy.min() >= -1 and f.xy[:, 0].max() < 1600 and f.xy[:, 1].max() < 1200
    # a reduced decode (half size) reported in the full picture's frame
    half = rgb[::2, ::2]
    g = orb.extract(half, max_side=640, nfeatures=300, width=1600, height=1200)
    assert (g.width, g.height) == (1600, 1200) and g.xy[:, 0].max() > 800


def test_flat_and_tiny_pictures_give_no_keypoints() -> None:
    assert len(orb.extract(np.full((300, 300, 3), 90, np.uint8), max_side=640, nfeatures=50)) == 0
    assert len(orb.extract(np.zeros((16, 16), np.uint8), max_side=640, nfeatures=50)) == 0
    with pytest.raises(InvalidInput):
        orb.extract(np.zeros((40, 40, 2), np.uint8), max_side=640, nfeatures=50)


def test_stored_form_round_trips_within_a_65535th_of_the_frame() -> None:
    f = orb.extract(_picture(), max_side=1024, nfeatures=400)
    blob = f.to_bytes()
    assert len(blob) == 20 + 36 * len(f)
    g = orb.OrbFeatures.from_bytes(blob)
    assert (g.width, g.height) == (f.width, f.height)
    assert np.array_equal(g.desc, f.desc)
    step = np.array([f.width - 1, f.height - 1]) / 65535.0
    assert np.all(np.abs(g.xy - f.xy) <= step / 2 + 1e-3)
    for bad in (b"", b"TSOB" + bytes(10), blob[:-1], b"XXXX" + blob[4:]):
        with pytest.raises(InvalidInput):
            orb.OrbFeatures.from_bytes(bad)


def test_a_crop_matches_by_its_offset_and_another_picture_does_not() -> None:
    rgb = _picture(800, 600, seed=11)
    stored = orb.extract(rgb, max_side=1024, nfeatures=1000)
    x0, y0 = 64, 48
    crop = orb.extract(rgb[y0:, x0:], max_side=640, nfeatures=500)
    pairs = orb.match(crop, stored)
    assert len(np.unique(pairs[:, 1])) == len(pairs)  # one to one
    moved = crop.xy[pairs[:, 0]] + np.array([x0, y0], np.float32)
    right = np.linalg.norm(moved - stored.xy[pairs[:, 1]], axis=1) < 3.0
    assert right.sum() >= 40 and right.mean() > 0.8
    assert orb.inliers(crop, stored) >= right.sum() * 0.9
    other = orb.extract(_picture(800, 600, seed=12), max_side=640, nfeatures=500)
    assert orb.inliers(other, stored) < 15


def test_a_half_size_copy_matches_in_full_picture_pixels() -> None:
    rgb = _picture(1200, 900, seed=5)
    stored = orb.extract(rgb, max_side=1024, nfeatures=1000)
    small = rgb[::2, ::2]
    q = orb.extract(small, max_side=640, nfeatures=500)
    pairs = orb.match(q, stored)
    err = np.linalg.norm((q.xy[pairs[:, 0]] + 0.5) * 2 - 0.5 - stored.xy[pairs[:, 1]], axis=1)
    assert (err < 4.0).sum() >= 30
    assert orb.inliers(q, stored) >= 30


def test_keypoints_spread_over_the_picture_not_onto_a_caption() -> None:
    rng = np.random.default_rng(0)
    rgb = np.full((600, 800, 3), 128, np.uint8)
    for _ in range(400):  # soft texture: corners of +-40 grey levels
        x, y = rng.integers(0, 780), rng.integers(0, 460)
        rgb[y : y + 20, x : x + 20] = rng.integers(88, 168)
    rgb[480:, :] = 255  # a caption bar with sharp black text: the strongest corners
    for x in range(10, 790, 12):
        rgb[500 + rng.integers(0, 60) : 560, x : x + 6] = 0
    crowded = orb.extract(rgb, max_side=800, nfeatures=200, cells=0)
    spread = orb.extract(rgb, max_side=800, nfeatures=200)
    assert 150 <= len(spread) <= 200
    in_bar = lambda f: float((f.xy[:, 1] >= 470).mean())  # noqa: E731
    assert in_bar(crowded) > 0.6  # OpenCV's strongest: mostly the caption's text
    assert in_bar(spread) < in_bar(crowded) - 0.2
    # every grid row of the picture above the bar holds keypoints
    per_row = np.bincount(np.minimum((spread.xy[:, 1] * 8 / 600).astype(int), 7), minlength=8)
    assert per_row[:6].min() >= 8
