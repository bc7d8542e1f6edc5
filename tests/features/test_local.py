"""Feature extraction basics and serialization round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tessera.demo.samples import synthetic_picture
from tessera.errors import ConfigError, InvalidInput
from tessera.features import LocalFeatures, SceneIndex, extract, extract_region
from tessera.features.local import MAX_SIDE, NFEATURES

from .conftest import Corpus


def _picture(w: int = 640, h: int = 480, seed: int = 7) -> np.ndarray:
    return np.asarray(synthetic_picture(w, h, seed).convert("RGB"))


def test_extract_caps_keypoints_and_reports_original_coordinates() -> None:
    big = _picture(2400, 1600)
    f = extract(big)
    assert 0 < len(f) <= NFEATURES
    assert (f.width, f.height) == (2400, 1600)
    assert f.xy[:, 0].max() > MAX_SIDE  # scaled back to original pixels
    assert f.xy.min() >= -1 and f.xy[:, 0].max() < 2400 and f.xy[:, 1].max() < 1600
    norms = np.linalg.norm(f.float_desc(), axis=1)
    assert np.allclose(norms, 1.0, atol=0.05)  # RootSIFT survives quantisation


def test_extract_region_offsets_coordinates() -> None:
    rgb = _picture()
    f = extract_region(rgb, (100, 50, 400, 300))
    assert len(f) > 0
    assert f.xy[:, 0].min() >= 99 and f.xy[:, 0].max() <= 400
    assert f.xy[:, 1].min() >= 49 and f.xy[:, 1].max() <= 300
    with pytest.raises(InvalidInput):
        extract_region(rgb, (10, 10, 12, 12))


def test_tiny_and_flat_images_give_no_features() -> None:
    assert len(extract(np.zeros((8, 8, 3), np.uint8))) == 0
    assert len(extract(np.full((200, 200, 3), 128, np.uint8))) == 0


def test_features_round_trip_bytes() -> None:
    f = extract(_picture())
    data = f.to_bytes()
    assert data[:4] == b"TSLF"
    assert len(data) == 32 + len(f) * (8 + 2 + 2 + 128)
    g = LocalFeatures.from_bytes(data)
    assert np.array_equal(g.xy, f.xy) and np.array_equal(g.desc, f.desc)
    assert np.array_equal(g.size, f.size) and np.array_equal(g.angle, f.angle)
    assert (g.width, g.height) == (f.width, f.height)
    for bad in (data[:10], b"XXXX" + data[4:], data[:-1]):
        with pytest.raises(InvalidInput):
            LocalFeatures.from_bytes(bad)


def test_index_save_load_round_trip(corpus: Corpus, tmp_path: Path) -> None:
    corpus.index.save(tmp_path / "idx")
    names = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert names == [
        "doc_counts.npy",
        "doc_ptr.npy",
        "doc_words.npy",
        "manifest.json",
        "vocab.npy",
    ]
    loaded = SceneIndex.load(tmp_path / "idx")
    q = corpus.features["vlfeat-mosaic-pairs/river1.jpg"]
    a = corpus.index.search(q, 10)
    b = loaded.search(q, 10)
    assert [c.media_id for c in a] == [c.media_id for c in b]
    assert np.allclose([c.score for c in a], [c.score for c in b])
    with pytest.raises(InvalidInput):
        loaded.add("vlfeat-mosaic-pairs/river1.jpg", q)
    (tmp_path / "idx" / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError):
        SceneIndex.load(tmp_path / "idx")
