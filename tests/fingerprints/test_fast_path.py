"""The fast path (DCT-domain scaled JPEG decode + block-weighted PDQ) against the
reference (full decode + exact PDQ).

Documented bound (docs/pdq.md, ``FAST_BLOCK_PER_WINDOW``): mean <= 4 bits and
max <= 12 bits over a set of JPEGs. Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.fingerprints.value import distance
from tessera.media.decode import decode_image

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MEAN_BOUND = 4.0
MAX_BOUND = 12
WIDE = 1920  # images at least this wide must really be decoded at reduced scale

# Generated photo-like JPEGs: (width, height, seed); the big ones are few for speed.
SYNTHETIC = [(640, 480, 100 + i) for i in range(6)]
SYNTHETIC += [(1920, 1080, 200 + i) for i in range(4)]
SYNTHETIC += [(3000, 2000, 300 + i) for i in range(2)]


@dataclass(frozen=True)
class Comparison:
    name: str
    width: int
    height: int
    scale: int
    decoded: tuple[int, int]
    grid_full: tuple[int, int] | None
    full_shape: tuple[int, int]
    bits: int


def _compare(name: str, data: bytes) -> Comparison:
    fast = decode_image(data, fast=True)
    fast_hash = pdq_hash_rgb(fast.rgb, fast.grid)
    full = decode_image(data)
    reference = pdq_hash_rgb(full.rgb)
    return Comparison(
        name=name,
        width=fast.width,
        height=fast.height,
        scale=fast.scale,
        decoded=(fast.rgb.shape[0], fast.rgb.shape[1]),
        grid_full=fast.grid.full_shape if fast.grid is not None else None,
        full_shape=(full.rgb.shape[0], full.rgb.shape[1]),
        bits=distance(fast_hash.fingerprint, reference.fingerprint),
    )


def _report(label: str, rows: list[Comparison]) -> tuple[float, int]:
    bits = [r.bits for r in rows]
    mean, worst = sum(bits) / len(bits), max(bits)
    scaled = sum(1 for r in rows if r.scale > 1)
    print(f"\n[fast path] {label}: n={len(rows)} scaled={scaled} mean={mean:.2f} max={worst} bits")
    for r in rows:
        print(f"  {r.name:<44} {r.width}x{r.height} 1/{r.scale} -> {r.bits} bits")
    return mean, worst


def _check_scaled_decodes(rows: list[Comparison]) -> None:
    for r in rows:
        assert r.full_shape == (r.height, r.width), r.name
        if r.scale > 1:
            # The grid says which full-resolution pixels each decoded pixel stands for.
            assert r.grid_full == (r.height, r.width), r.name
            assert r.decoded == (-(-r.height // r.scale), -(-r.width // r.scale)), r.name
        if r.width >= WIDE:
            assert r.scale > 1, f"{r.name}: fast mode did not use a scaled decode"


@pytest.fixture(scope="module")
def vector_jpegs(vectors_dir: Path) -> list[Path]:
    images = vectors_dir / "pdq" / "images"
    found = sorted(p for p in images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})
    assert found, f"no JPEGs under {images}"
    return found


@pytest.fixture(scope="module")
def synthetic_jpegs() -> Iterator[list[tuple[str, bytes]]]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from synthetic import jpeg_bytes, photo_like
    finally:
        sys.path.remove(str(BENCHMARKS))
    yield [
        (f"synthetic-{w}x{h}-seed{seed}", jpeg_bytes(photo_like(w, h, seed)))
        for w, h, seed in SYNTHETIC
    ]


def test_fast_path_bound_on_vector_jpegs(vector_jpegs: list[Path], vectors_dir: Path) -> None:
    """On every ThreatExchange JPEG, fast vs reference: mean <= 4 bits, max <= 12 bits."""
    base = vectors_dir / "pdq" / "images"
    rows = [_compare(str(p.relative_to(base)), p.read_bytes()) for p in vector_jpegs]
    mean, worst = _report("ThreatExchange JPEGs", rows)
    _check_scaled_decodes(rows)
    assert mean <= MEAN_BOUND
    assert worst <= MAX_BOUND
    # Small images are decoded at full size (0 bits by construction); the bound must
    # also hold on the scaled decodes alone, so they cannot hide behind the others.
    scaled = [r.bits for r in rows if r.scale > 1]
    assert len(scaled) >= 10
    assert sum(scaled) / len(scaled) <= MEAN_BOUND


def test_fast_path_bound_on_synthetic_photos(synthetic_jpegs: list[tuple[str, bytes]]) -> None:
    """On 12 generated photo-like JPEGs (640x480 .. 3000x2000): mean <= 4, max <= 12 bits."""
    rows = [_compare(name, data) for name, data in synthetic_jpegs]
    mean, worst = _report("synthetic photo-like JPEGs", rows)
    _check_scaled_decodes(rows)
    assert {r.scale for r in rows} >= {2, 4, 8}
    assert mean <= MEAN_BOUND
    assert worst <= MAX_BOUND
