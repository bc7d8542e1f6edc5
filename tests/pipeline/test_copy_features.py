"""Triage's verdict-stage options: copy-check keypoints and the PDQ-less leads read."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tessera.features.local import LocalFeatures, blob_version
from tessera.pipeline.fingerprint import COPY_MAX_SIDE, COPY_NFEATURES, hash_bytes
from tessera.pipeline.options import HashOptions


def _jpeg(w: int, h: int) -> bytes:
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3)).astype(np.uint8)
    rgb = np.kron(blocks, np.ones((16, 16, 1), np.uint8))[:h, :w]
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_copy_features_are_few_uncompressed_and_in_full_size_pixels() -> None:
    r = hash_bytes(_jpeg(1600, 1200), "a.jpg", HashOptions(copy_features=True))
    assert r.status == "ok" and r.pdq is not None and r.features is None
    assert r.copy_features is not None and blob_version(r.copy_features) == 1  # no PQ
    f = LocalFeatures.from_bytes(r.copy_features)
    assert 50 <= len(f) <= COPY_NFEATURES
    assert (f.width, f.height) == (1600, 1200)  # the picture's frame, not the shrunk one
    # keypoints spread over the whole frame (taken from a <= COPY_MAX_SIDE px copy)
    assert f.xy[:, 0].max() > 1600 * 0.8 and f.xy[:, 1].max() > 1200 * 0.8
    assert COPY_MAX_SIDE < 1600


def test_leads_read_skips_pdq_and_keeps_full_descriptors() -> None:
    opts = HashOptions(pdq=False, features=True, features_compact=False, metadata=True)
    r = hash_bytes(_jpeg(640, 480), "b.jpg", opts)
    assert r.status == "ok" and r.pdq is None and r.quality is None
    assert r.features is not None and blob_version(r.features) == 1
    assert r.metadata is not None and (r.width, r.height) == (640, 480)
