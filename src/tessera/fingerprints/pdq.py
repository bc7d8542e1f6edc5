"""PDQ, Meta's 256-bit perceptual image hash, from decoded pixels.

The reference (``pdq/cpp/hashing/pdqhashing.cpp``) blurs the full-resolution luma
with two passes of a box filter along rows and columns ("Jarosz" tent), samples a
64x64 grid, takes a 16x16 DCT without the DC term and thresholds at the median.
All of that is linear up to the threshold, so here the blur and the sampling are
folded into two small dense matrices: ``grid64 = A @ luma @ C.T`` with ``A`` (64 x H)
and ``C`` (64 x W). That is bit-for-bit the reference on the ThreatExchange
vectors and several times faster than the C++ box passes, which stride through
the whole image twice per pass.

The same matrices give the fast path. When a JPEG is decoded in the DCT domain at
1/2, 1/4 or 1/8 scale, each decoded pixel is (close to) the mean of an s x s block
of the full image. Summing the columns of ``A`` and ``C`` over each block gives the
weights the reference would have applied to those pixels, so the small image is
hashed *as if* it were the full one; only the variation inside each block is lost.
A ``SampleGrid`` records which full-resolution rows and columns each decoded pixel
covers. The measured bound against the reference is in ``docs/pdq.md``.

Bit layout and text form follow the reference: bit ``k = 16*i + j`` is DCT cell
``(i, j)`` and the 64-hex string is the big-endian 256-bit integer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from tessera.fingerprints.value import Fingerprint

MIN_HASHABLE_DIM = 5
"""Images narrower or shorter than this get an all-zero hash and quality 0."""

QUALITY_THRESHOLD = 50
"""Hashes below this quality are unreliable (``PdqSignal.QUALITY_THRESHOLD``)."""

MATCH_THRESHOLD = 31
"""Hamming distance at or below which two PDQ hashes match."""

DIHEDRAL_NAMES = (
    "original",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)

_LUMA = (0.299, 0.587, 0.114)
_CHUNK_ROWS = 256

Exactness = Literal["auto", "always", "never"]
FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]
UInt8Array = NDArray[np.uint8]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SampleGrid:
    """Which full-resolution pixels each decoded pixel stands for.

    ``row_edges`` has ``h + 1`` increasing entries from 0 to the full height: decoded
    row ``k`` is the mean of full rows ``row_edges[k]:row_edges[k+1]``. Likewise for
    columns. The identity grid (``arange(n + 1)``) is the reference computation.
    """

    row_edges: IntArray
    col_edges: IntArray

    @property
    def full_shape(self) -> tuple[int, int]:
        return int(self.row_edges[-1]), int(self.col_edges[-1])

    @staticmethod
    def scaled(full_height: int, full_width: int, scale: int) -> SampleGrid:
        """The grid of a 1/``scale`` DCT-domain decode (sizes rounded up, as libjpeg does)."""
        return SampleGrid(_scaled_edges(full_height, scale), _scaled_edges(full_width, scale))

    def flipped_rows(self) -> SampleGrid:
        h = self.row_edges[-1]
        return SampleGrid(h - self.row_edges[::-1], self.col_edges)

    def flipped_cols(self) -> SampleGrid:
        w = self.col_edges[-1]
        return SampleGrid(self.row_edges, w - self.col_edges[::-1])

    def transposed(self) -> SampleGrid:
        return SampleGrid(self.col_edges, self.row_edges)


def _scaled_edges(n: int, scale: int) -> IntArray:
    m = -(-n // scale)
    return np.minimum(np.arange(m + 1, dtype=np.int64) * scale, n)


@dataclass(frozen=True)
class PdqResult:
    """A PDQ hash with its quality (0..100)."""

    fingerprint: Fingerprint
    quality: int

    @property
    def hex(self) -> str:
        return self.fingerprint.hex

    @property
    def hashable(self) -> bool:
        """False for images under ``MIN_HASHABLE_DIM`` (the hash is all zeros)."""
        return any(self.fingerprint.payload)


@dataclass(frozen=True)
class DihedralResult:
    """The eight dihedral PDQ variants of one image, named as in ``pdqhashing.h``."""

    quality: int
    variants: dict[str, Fingerprint]


def luma_from_rgb(rgb: UInt8Array) -> Float32Array:
    """``0.299 R + 0.587 G + 0.114 B`` in float32, as the reference feeds PDQ.

    Computed in float64 and rounded once, which is what the ``pdqhash`` binding
    (and so python-threatexchange and HMA) does.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 array, got shape {rgb.shape}")
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    for r0 in range(0, rgb.shape[0], _CHUNK_ROWS):
        c = rgb[r0 : r0 + _CHUNK_ROWS]
        out[r0 : r0 + _CHUNK_ROWS] = (
            c[:, :, 0] * _LUMA[0] + c[:, :, 1] * _LUMA[1] + c[:, :, 2] * _LUMA[2]
        )
    return out


def _jarosz_window(n: int) -> int:
    # computeJaroszFilterWindowSize(n, 64) = ceil(n / 128) in integer arithmetic
    return (n + 2 * 64 - 1) // (2 * 64)


@lru_cache(maxsize=64)
def _axis_weights(n: int) -> FloatArray:
    """64 x n: the reference's two blur passes then decimation, along one axis."""
    window = _jarosz_window(n)
    centres = ((np.arange(64) + 0.5) * n / 64).astype(np.int64)
    if window == 1:
        w = np.zeros((64, n))
        w[np.arange(64), centres] = 1.0
        w.setflags(write=False)
        return w
    unit = np.zeros((64, n))
    unit[np.arange(64), centres] = 1.0
    w = _box_rows(_box_rows(unit, window), window)
    w.setflags(write=False)
    return w


def _box_rows(v: FloatArray, window: int) -> FloatArray:
    """``v @ B`` for the box matrix ``B`` of size n, without forming ``B``."""
    n = v.shape[1]
    half = (window + 2) // 2
    i = np.arange(n)
    lo = np.maximum(i - (window - half), 0)
    hi = np.minimum(i + half, n)
    # (v @ B)[:, j] = sum_i v[:, i] * [lo_i <= j < hi_i] / (hi_i - lo_i)
    coef = v / (hi - lo)
    acc = np.zeros((v.shape[0], n + 1))
    np.add.at(acc.T, lo, coef.T)
    np.add.at(acc.T, hi, -coef.T)
    return np.cumsum(acc[:, :n], axis=1)


def _box_running(x: Float32Array, window: int, keep: IntArray | None) -> Float32Array:
    """The reference ``box1DFloat`` down axis 0 of ``x``, bit for bit, for all columns.

    The C++ loop keeps a float32 running sum, adding the entering value and then
    subtracting the leaving one, and divides by the current window count. This
    replays the same operations in the same order, one row-vector per step, so
    every rounding is identical. There is no shortcut for ``window == 1``: the
    add-then-subtract roundings still happen. ``keep`` selects output rows.
    """
    n = x.shape[0]
    half = (window + 2) // 2
    wanted = np.zeros(n, dtype=bool)
    slot = np.arange(n)
    uniq, inverse = np.arange(n), None
    if keep is not None:  # decimation may select a row twice when n < 64
        uniq, inverse = np.unique(keep, return_inverse=True)
        slot[uniq] = np.arange(len(uniq))
    wanted[uniq] = True
    out = np.empty((len(uniq), *x.shape[1:]), dtype=np.float32)
    acc = np.zeros(x.shape[1:], dtype=np.float32)
    ri = li = oi = count = 0

    def emit() -> None:
        if wanted[oi]:
            np.divide(acc, np.float32(count), out=out[slot[oi]])

    for _ in range(half - 1):  # phase 1: accumulate, no output
        np.add(acc, x[ri], out=acc)
        ri += 1
        count += 1
    for _ in range(window - half + 1):  # phase 2: growing window
        np.add(acc, x[ri], out=acc)
        ri += 1
        count += 1
        emit()
        oi += 1
    for _ in range(n - window):  # phase 3: full window
        np.add(acc, x[ri], out=acc)
        np.subtract(acc, x[li], out=acc)
        ri += 1
        li += 1
        emit()
        oi += 1
    for _ in range(half - 1):  # phase 4: shrinking window
        np.subtract(acc, x[li], out=acc)
        li += 1
        count -= 1
        emit()
        oi += 1
    return out if inverse is None else out[inverse]


def downsample64_exact(luma: Float32Array) -> Float32Array:
    """The reference Jarosz filter and decimation with the C++ code's float32 rounding.

    Slower than ``downsample64``; used only when a hash bit or the quality could
    depend on rounding (see ``pdq_hash``). Each 1-D pass runs along axis 0 of a
    contiguous array so that every step is one vector operation.
    """
    h, w = luma.shape
    rows = ((np.arange(64) + 0.5) * h / 64).astype(np.int64)
    cols = ((np.arange(64) + 0.5) * w / 64).astype(np.int64)
    along_rows, along_cols = _jarosz_window(w), _jarosz_window(h)
    xt = np.ascontiguousarray(np.asarray(luma, dtype=np.float32).T)  # W x H
    xt = _box_running(xt, along_rows, None)  # pass 1, horizontal
    x = _box_running(np.ascontiguousarray(xt.T), along_cols, None)  # pass 1, vertical
    xt = _box_running(np.ascontiguousarray(x.T), along_rows, cols)  # pass 2, horizontal
    return _box_running(np.ascontiguousarray(xt.T), along_cols, rows)  # pass 2, vertical


@lru_cache(maxsize=64)
def _grid_weights(n: int, edges: bytes) -> Float32Array:
    """Axis weights summed over the full-resolution blocks each decoded pixel covers."""
    e = np.frombuffer(edges, dtype=np.int64)
    w = _axis_weights(n)
    if len(e) == n + 1:
        out = w.astype(np.float32)
    else:
        out = np.add.reduceat(w, e[:-1], axis=1).astype(np.float32)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=1)
def _dct_matrix() -> Float32Array:
    # As fill_dct_matrix_64_cached: a float scale factor times a double cosine,
    # stored as float.
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    scale = np.float64(np.float32(np.sqrt(2.0 / 64.0)))
    d: Float32Array = (scale * np.cos((np.pi / 2 / 64.0) * i * (2 * j + 1))).astype(np.float32)
    d.setflags(write=False)
    return d


def _weights(shape: tuple[int, int], grid: SampleGrid | None) -> tuple[Float32Array, Float32Array]:
    h, w = shape
    if grid is None:
        rows = _grid_weights(h, np.arange(h + 1, dtype=np.int64).tobytes())
        cols = _grid_weights(w, np.arange(w + 1, dtype=np.int64).tobytes())
        return rows, cols
    if len(grid.row_edges) != h + 1 or len(grid.col_edges) != w + 1:
        raise ValueError(f"sample grid does not fit an image of shape {shape}")
    fh, fw = grid.full_shape
    return (
        _grid_weights(fh, np.ascontiguousarray(grid.row_edges, dtype=np.int64).tobytes()),
        _grid_weights(fw, np.ascontiguousarray(grid.col_edges, dtype=np.int64).tobytes()),
    )


def downsample64(luma: Float32Array, grid: SampleGrid | None = None) -> FloatArray:
    """The reference's blurred 64 x 64 grid of a luma image (or of a scaled decode)."""
    rows, cols = _weights((luma.shape[0], luma.shape[1]), grid)
    acc = np.zeros((64, 64), dtype=np.float64)
    colsT = cols.T
    for r0 in range(0, luma.shape[0], _CHUNK_ROWS):
        part = luma[r0 : r0 + _CHUNK_ROWS] @ colsT
        acc += rows[:, r0 : r0 + _CHUNK_ROWS].astype(np.float64) @ part.astype(np.float64)
    return acc


def downsample64_rgb(rgb: UInt8Array, grid: SampleGrid | None = None) -> FloatArray:
    """``downsample64(luma_from_rgb(rgb))`` without holding a full-size float image.

    Luma is formed in float32 here; its rounding differs from the binding's float64
    luma by ~1e-5, far inside ``ROUNDING_MARGIN``, which the exact replay covers.
    """
    rows, cols = _weights((rgb.shape[0], rgb.shape[1]), grid)
    coeffs = np.asarray(_LUMA, dtype=np.float32)
    colsT = cols.T
    acc = np.zeros((64, 64), dtype=np.float64)
    for r0 in range(0, rgb.shape[0], _CHUNK_ROWS):
        c = rgb[r0 : r0 + _CHUNK_ROWS]
        luma = (c.reshape(-1, 3).astype(np.float32) @ coeffs).reshape(c.shape[:2])
        acc += rows[:, r0 : r0 + _CHUNK_ROWS].astype(np.float64) @ (luma @ colsT).astype(np.float64)
    return acc


def quality_of(grid64: FloatArray | Float32Array) -> int:
    """The reference's image-domain quality metric on the 64 x 64 grid (0..100)."""
    g = grid64.astype(np.float32)
    hundred, full = np.float32(100.0), np.float32(255.0)
    dv = np.trunc(((g[:-1, :] - g[1:, :]) * hundred) / full)
    dh = np.trunc(((g[:, :-1] - g[:, 1:]) * hundred) / full)
    total = int(np.abs(dv).astype(np.int64).sum() + np.abs(dh).astype(np.int64).sum())
    return min(total // 90, 100)


def dct16(grid64: FloatArray | Float32Array) -> Float32Array:
    """The 16 x 16 DCT (frequencies 1..16, no DC) of the 64 x 64 grid: PDQF.

    Summed in float32 in the reference's order, so that coefficients next to the
    median fall on the same side as in the C++ code.
    """
    d = _dct_matrix()
    a = grid64.astype(np.float32)
    t = np.zeros((16, 64), dtype=np.float32)
    for k in range(64):
        t += d[:, k : k + 1] * a[k : k + 1, :]
    b = np.zeros((16, 16), dtype=np.float32)
    for k in range(64):
        b += t[:, k : k + 1] * d[None, :, k]
    return b


def _bits_to_fingerprint(coeffs: Float32Array) -> Fingerprint:
    flat = coeffs.reshape(256)
    median = np.partition(flat, 127)[127]  # Torben: the lower median
    bits = (flat > median).astype(np.uint8)
    return Fingerprint("pdq", 1, np.packbits(bits[::-1]).tobytes())


_ZERO = Fingerprint("pdq", 1, bytes(32))


def _too_small(shape: tuple[int, ...]) -> bool:
    return shape[0] < MIN_HASHABLE_DIM or shape[1] < MIN_HASHABLE_DIM


ROUNDING_MARGIN = 0.01
"""How far (in DCT units) the two middle coefficients must be apart for the fast
float64 matmul to be trusted with the C++ code's float32 rounding. Measured: the
two computations differ by at most 6e-4 on the ThreatExchange images."""

_QUALITY_MARGIN = 1e-3


def _order_is_safe(coeffs: Float32Array) -> bool:
    c = np.partition(coeffs.reshape(256).astype(np.float64), (127, 128))
    return bool(c[128] - c[127] > 2 * ROUNDING_MARGIN)


def _quality_is_safe(grid64: FloatArray) -> bool:
    # Each gradient term is truncated to an integer; one near an integer may
    # truncate the other way in float32. Safe if no such term can move quality.
    terms = np.concatenate(
        [
            ((grid64[:-1, :] - grid64[1:, :]) * 100 / 255).ravel(),
            ((grid64[:, :-1] - grid64[:, 1:]) * 100 / 255).ravel(),
        ]
    )
    near = np.abs(terms - np.rint(terms)) < _QUALITY_MARGIN
    near &= np.rint(terms) != 0
    total = int(np.abs(np.trunc(terms)).sum())
    n = int(near.sum())
    return min((total - n) // 90, 100) == min((total + n) // 90, 100)


def _grid_and_coeffs(
    luma_of: Callable[[], Float32Array],
    fast_grid: FloatArray,
    exact: Exactness,
    variants: bool,
) -> tuple[FloatArray | Float32Array, list[Float32Array]]:
    g: FloatArray | Float32Array = fast_grid
    if exact == "never":  # approximate by request: plain matmul DCT
        d = _dct_matrix().astype(np.float64)
        a = (d @ fast_grid @ d.T).astype(np.float32)
        return g, _dihedral_coeffs(a) if variants else [a]
    coeffs = _dihedral_coeffs(dct16(g)) if variants else [dct16(g)]
    if exact == "auto" and _quality_is_safe(fast_grid) and all(_order_is_safe(c) for c in coeffs):
        return g, coeffs
    luma = luma_of()
    if luma.shape == (64, 64) and not variants:
        # pdqFloat256FromFloatLuma skips the Jarosz filter for a 64 x 64 input;
        # pdqDihedralHash256esFromFloatLuma does not.
        g = np.asarray(luma, dtype=np.float32)
    else:
        g = downsample64_exact(luma)
    coeffs = _dihedral_coeffs(dct16(g)) if variants else [dct16(g)]
    return g, coeffs


def pdq_from_grid64(grid64: FloatArray) -> PdqResult:
    """Hash and quality from an already blurred 64 x 64 grid."""
    return PdqResult(_bits_to_fingerprint(dct16(grid64)), quality_of(grid64))


def _check(arr: NDArray[np.generic], ndim: int, grid: SampleGrid | None) -> tuple[int, int]:
    if arr.ndim != ndim or (ndim == 3 and arr.shape[2] != 3):
        what = "H x W luma" if ndim == 2 else "H x W x 3 RGB"
        raise ValueError(f"expected an {what} array, got shape {arr.shape}")
    return grid.full_shape if grid is not None else (int(arr.shape[0]), int(arr.shape[1]))


def pdq_hash(
    luma: Float32Array, grid: SampleGrid | None = None, *, exact: Exactness = "auto"
) -> PdqResult:
    """PDQ of a 2-D float luma array (values 0..255).

    Without ``grid`` this is the reference hash: with ``exact="auto"`` (default) the
    fast computation is used unless a bit or the quality could depend on float32
    rounding, in which case the C++ arithmetic is replayed exactly. With ``grid``
    the array is a scaled decode of a larger image (see the module doc) and the
    result is within the documented bound of the reference, not exact.
    """
    shape = _check(luma, 2, grid)
    if _too_small(shape):
        return PdqResult(_ZERO, 0)
    fast = downsample64(luma, grid)
    g, (c,) = _grid_and_coeffs(lambda: luma, fast, "never" if grid else exact, False)
    return PdqResult(_bits_to_fingerprint(c), quality_of(g))


def pdq_hash_rgb(
    rgb: UInt8Array, grid: SampleGrid | None = None, *, exact: Exactness = "auto"
) -> PdqResult:
    """PDQ of an H x W x 3 uint8 RGB array (see ``pdq_hash``)."""
    shape = _check(rgb, 3, grid)
    if _too_small(shape):
        return PdqResult(_ZERO, 0)
    fast = downsample64_rgb(rgb, grid)
    g, (c,) = _grid_and_coeffs(lambda: luma_from_rgb(rgb), fast, "never" if grid else exact, False)
    return PdqResult(_bits_to_fingerprint(c), quality_of(g))


def _dihedral_coeffs(a: Float32Array) -> list[Float32Array]:
    idx = np.arange(16)
    odd = np.where(idx % 2 == 1, 1.0, -1.0).astype(np.float32)  # +1 odd, -1 even
    checker = np.where((idx[:, None] + idx[None, :]) % 2 == 0, 1.0, -1.0).astype(np.float32)
    return [
        a,
        (a * odd[None, :]).T,  # rot90
        a * checker,  # rot180
        (a * odd[:, None]).T,  # rot270
        a * odd[:, None],  # flipx
        a * odd[None, :],  # flipy
        a.T,  # flipplus1
        (a * checker).T,  # flipminus1
    ]


def pdq_dihedral_rgb(
    rgb: UInt8Array, grid: SampleGrid | None = None, *, exact: Exactness = "auto"
) -> DihedralResult:
    """The eight dihedral PDQ hashes of an RGB array, derived from one DCT.

    They approximate the hashes of the physically rotated or mirrored image within
    a few bits (the decimation grid is not symmetric), as in the reference.
    """
    shape = _check(rgb, 3, grid)
    if _too_small(shape):
        return DihedralResult(0, dict.fromkeys(DIHEDRAL_NAMES, _ZERO))
    fast = downsample64_rgb(rgb, grid)
    g, coeffs = _grid_and_coeffs(lambda: luma_from_rgb(rgb), fast, "never" if grid else exact, True)
    return DihedralResult(
        quality_of(g),
        {name: _bits_to_fingerprint(c) for name, c in zip(DIHEDRAL_NAMES, coeffs, strict=True)},
    )


def nearest_512(rgb: UInt8Array) -> UInt8Array:
    """The C++ CLI's pre-resize: exactly 512 x 512, CImg nearest-neighbour, if a side > 512."""
    h, w = rgb.shape[:2]
    if h <= 512 and w <= 512:
        return rgb
    rows = (np.arange(512) * h) // 512
    cols = (np.arange(512) * w) // 512
    return np.ascontiguousarray(rgb[rows][:, cols])
