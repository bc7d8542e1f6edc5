"""Feature extraction basics and serialization round-trips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tessera.demo.samples import synthetic_picture
from tessera.errors import ConfigError, InvalidInput
from tessera.features import (
    LocalFeatures,
    SceneIndex,
    Vocabulary,
    codebook,
    extract,
    extract_mirrored,
    extract_region,
    similar,
)
from tessera.features.local import MAX_SIDE, NFEATURES, STORED_BYTES, blob_version, stored_max
from tessera.features.verify import match

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


def test_full_features_round_trip_bytes() -> None:
    f = extract(_picture())
    data = f.to_bytes_full()
    assert data[:4] == b"TSLF" and blob_version(data) == 1
    assert len(data) == 32 + len(f) * (8 + 2 + 2 + 128)
    g = LocalFeatures.from_bytes(data)
    assert np.array_equal(g.xy, f.xy) and np.array_equal(g.desc, f.desc)
    assert np.array_equal(g.size, f.size) and np.array_equal(g.angle, f.angle)
    assert (g.width, g.height) == (f.width, f.height)
    for bad in (data[:10], b"XXXX" + data[4:], data[:-1]):
        with pytest.raises(InvalidInput):
            LocalFeatures.from_bytes(bad)


def test_stored_features_are_compact_and_keep_the_strongest_keypoints() -> None:
    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 256, (160, 240, 3), dtype=np.uint8)
    busy = np.kron(blocks, np.ones((10, 10, 1), np.uint8)).astype(np.int16)
    busy = np.clip(busy + rng.normal(0, 8, busy.shape), 0, 255).astype(np.uint8)
    f = extract(busy)
    assert len(f) == NFEATURES  # a busy picture fills the cap
    data = f.to_bytes()
    assert blob_version(data) == 2 and len(data) <= STORED_BYTES
    g = LocalFeatures.from_bytes(data)
    n = stored_max(12)  # codebook 3 (current): 12 residual codes
    assert len(g) == n == 908 and (g.width, g.height) == (2400, 1600)
    assert len(data) == 32 + n * (6 + 12)
    # geometry: x, y within 1/65535 of the frame; size 2^(1/32); angle half a step
    assert np.abs(g.xy - f.xy[:n]).max() <= 2400 / 65535
    ratio = g.size.astype(np.float32) / f.size[:n].astype(np.float32)
    assert np.all(np.abs(np.log2(ratio)) <= 1 / 32 + 1e-3)
    d_ang = np.abs(g.angle.astype(np.float32) - f.angle[:n].astype(np.float32)) % 360
    assert np.all(np.minimum(d_ang, 360 - d_ang) <= 360 / 512 + 0.2)
    # descriptors: each reconstruction is nearest its own original among all kept
    a, b = g.float_desc(), f.float_desc()[:n]
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    assert (d.argmin(axis=1) == np.arange(n)).mean() > 0.97
    # the kept keypoints are the strongest: the first n of extract's order
    assert g.mirrored is False and LocalFeatures.from_bytes(extract(_picture()).to_bytes())
    for bad in (data[:10], data[:-1], data + b"\0"):
        with pytest.raises(InvalidInput):
            LocalFeatures.from_bytes(bad)


def test_blobs_of_codebook_2_decode_beside_codebook_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """Codebook 2 ships (pinned) but is not current: its blobs (every keypoint, 8 codes)
    decode, and new blobs are codebook 3's (the strongest 908)."""
    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 256, (160, 240, 3), dtype=np.uint8)
    busy = np.kron(blocks, np.ones((4, 4, 1), np.uint8)).astype(np.int16)
    f = extract(np.clip(busy + rng.normal(0, 8, busy.shape), 0, 255).astype(np.uint8))
    assert len(f) == NFEATURES
    assert codebook.CURRENT == 3
    current = f.to_bytes()
    assert int.from_bytes(current[14:16], "little") == 3 and len(current) == 32 + 908 * 18
    monkeypatch.setattr(codebook, "CURRENT", 2)
    data = f.to_bytes()
    monkeypatch.undo()
    assert int.from_bytes(data[14:16], "little") == 2
    assert len(data) == 32 + NFEATURES * (6 + 8) <= STORED_BYTES
    g = LocalFeatures.from_bytes(data)
    assert len(g) == NFEATURES and (g.width, g.height) == (f.width, f.height)
    assert np.abs(g.xy - f.xy).max() <= f.width / 65535
    # coarser codes than codebook 1's, yet most reconstructions are nearest their own
    # original among all 1,000
    a, b = g.float_desc(), f.float_desc()
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    assert (d.argmin(axis=1) == np.arange(len(g))).mean() > 0.8


def test_codebook_3_is_residual_and_keeps_908_keypoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Codebook 3: 12 residual codes (18 bytes a keypoint with geometry, the strongest
    908 in 16 KiB), reconstructions about as close as codebook 1's 16 product codes, and a
    ratio-test slack carried by the decoded features."""
    rng = np.random.default_rng(11)
    blocks = rng.integers(0, 256, (160, 240, 3), dtype=np.uint8)
    busy = np.kron(blocks, np.ones((4, 4, 1), np.uint8)).astype(np.int16)
    f = extract(np.clip(busy + rng.normal(0, 8, busy.shape), 0, 255).astype(np.uint8))
    assert len(f) == NFEATURES
    book = codebook.load(3)
    assert book.residual and book.m == 12 and stored_max(12) == 908
    monkeypatch.setattr(codebook, "CURRENT", 3)
    data = f.to_bytes()
    monkeypatch.undo()
    assert int.from_bytes(data[14:16], "little") == 3
    assert len(data) == 32 + 908 * (6 + 12) <= STORED_BYTES
    g = LocalFeatures.from_bytes(data)
    assert len(g) == 908 and g.ratio_slack == codebook.RATIO_SLACK[3] > 0
    assert np.abs(g.xy - f.xy[:908]).max() <= f.width / 65535
    # residual decoding is the sum of one centroid per stage
    codes = np.frombuffer(data, np.uint8, 908 * 12, 32 + 908 * 6).reshape(908, 12)
    total = sum(book.centroids[j][codes[:, j]] for j in range(12))
    assert np.allclose(book.decode(codes), total, atol=1e-6)
    x = f.float_desc()[:908]
    err3 = ((g.float_desc() - x) ** 2).sum(1).mean()
    monkeypatch.setattr(codebook, "CURRENT", 1)
    b1 = LocalFeatures.from_bytes(f.to_bytes()).float_desc()
    monkeypatch.undo()
    err1 = ((b1 - x[: len(b1)]) ** 2).sum(1).mean()
    assert err3 < 1.1 * err1  # as close as 16 product codes, in 12 bytes
    a = g.float_desc()
    d = (a * a).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * a @ x.T
    assert (d.argmin(axis=1) == np.arange(908)).mean() > 0.97
    # codebook-1 blobs (what databases hold) keep decoding, with no slack
    monkeypatch.setattr(codebook, "CURRENT", 1)
    old = f.to_bytes()
    monkeypatch.undo()
    assert int.from_bytes(old[14:16], "little") == 1 and len(old) == 32 + 743 * 22
    assert LocalFeatures.from_bytes(old).ratio_slack == 0.0


def test_unknown_or_damaged_codebooks_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(extract(_picture()).to_bytes())
    data[14:16] = (999).to_bytes(2, "little")  # codebook id in the header
    with pytest.raises(InvalidInput, match="unknown codebook 999"):
        LocalFeatures.from_bytes(bytes(data))
    monkeypatch.setitem(codebook.CODEBOOKS, 1, (16, "0" * 64))
    codebook.load.cache_clear()
    try:
        with pytest.raises(ConfigError, match="SHA-256"):
            codebook.load(1)
    finally:
        monkeypatch.undo()
        codebook.load.cache_clear()


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


def test_codebook_1_2_and_3_blobs_side_by_side_find_their_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database whose blobs were written under several codebooks (codebook 1 before
    codebook 3 became current, codebook 2 between 6c884e8 and its revert; no migration
    re-codes them) still finds an edited copy of each."""
    pics = {f"p{i}": _picture(800, 600, seed) for i, seed in enumerate((21, 22, 23, 24))}
    stored: dict[str, LocalFeatures] = {}
    for i, (mid, rgb) in enumerate(pics.items()):
        monkeypatch.setattr(codebook, "CURRENT", 1 + i % 3)
        blob = extract(rgb).to_bytes()
        monkeypatch.undo()
        assert int.from_bytes(blob[14:16], "little") == 1 + i % 3
        stored[mid] = LocalFeatures.from_bytes(blob)
    sample = np.concatenate([f.float_desc() for f in stored.values()])
    index = SceneIndex(Vocabulary.train(sample, 64, iterations=5))
    for mid, f in stored.items():
        index.add(mid, f)
    for mid, rgb in pics.items():
        h, w = rgb.shape[:2]
        crop = np.ascontiguousarray(rgb[h // 10 :, : w - w // 12])
        hits = similar([extract(crop), extract_mirrored(crop)], index, stored, k=3)
        assert hits and hits[0].media_id == mid and hits[0].relation == "copy"


def test_ratio_slack_comes_off_both_neighbours_distances() -> None:
    """Oracle by hand: d1^2 = (140/512)^2 = 0.0748, d2^2 = (170/512)^2 = 0.1102, ratio
    0.824 > 0.8 (no match); with slack 0.02, sqrt(0.0548 / 0.0902) = 0.779 (a match).
    The larger slack of the two sides counts."""

    def feats(rows: list[dict[int, int]]) -> LocalFeatures:
        desc = np.zeros((len(rows), 128), np.uint8)
        for i, row in enumerate(rows):
            for j, v in row.items():
                desc[i, j] = v
        n = len(rows)
        xy = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
        return LocalFeatures(xy, desc, np.ones(n, np.float16), np.zeros(n, np.float16), 64, 64)

    q = feats([{0: 255}, {5: 255}])
    c = feats([{0: 255, 1: 140}, {0: 255, 2: 170}])
    assert match(q, c).tolist() == []
    assert match(q, replace(c, ratio_slack=0.02)).tolist() == [[0, 0]]
    assert match(replace(q, ratio_slack=0.02), c).tolist() == [[0, 0]]
    assert match(replace(q, ratio_slack=0.001), replace(c, ratio_slack=0.02)).tolist() == [[0, 0]]
