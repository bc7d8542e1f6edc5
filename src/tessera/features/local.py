"""Local features (RootSIFT keypoints) for same-scene and marker matching.

``extract(rgb)`` converts to grey, downscales so the long side is at most
``max_side`` pixels (default 1024), runs OpenCV SIFT capped at ``nfeatures``
keypoints (strongest first) and returns :class:`LocalFeatures`:

* ``xy``: keypoint centres in *original* image pixels (float32, N x 2);
* ``desc``: RootSIFT descriptors (L1-normalise, square root, so each vector has
  unit L2 norm), quantised to uint8 as ``round(v * 512)`` clipped to 255
  (128 bytes per keypoint; a RootSIFT component rarely exceeds 0.5, and the
  round trip keeps ratio-test matches unchanged on the test pairs);
* ``size`` (keypoint diameter, original pixels) and ``angle`` (degrees), float16.

``to_bytes``/``from_bytes`` give a versioned, pickle-free binary form: a 32-byte
header (magic ``TSLF``, version, flags (bit 0: mirrored), count, dimension, codebook
id, image width and height) then the arrays, little-endian.

Version 2 (what ``to_bytes`` writes) is the compact stored form, at most
``STORED_BYTES`` (16 KiB) a picture: the strongest :func:`stored_max` keypoints
(908 with the 12 residual codes of codebook 3, current; 743 with codebook 1's 16
product codes), each as x and y in 1/65535ths of the frame (uint16), size on a log
scale (2^(1/16) steps) and angle in 1/256ths of a turn (one byte each), and the
descriptor as ``M`` one-byte codes (``tessera.features.codebook``): 18 bytes a
keypoint instead of 140. Measured (``benchmarks/bench_scenes.py``, ``bench_robust.py``,
``bench_compact.py``): fewer keypoints cost more matches than coarser descriptors, so
16-byte codes for 743 keypoints beat 32-byte codes for 430, and residual codes, as
close in 12 bytes as product codes in 16, keep 908. ``from_bytes`` decodes it to the
same :class:`LocalFeatures` (descriptors are the codebook's reconstructions, carrying
its ratio slack), and still reads version 1 (full uint8 descriptors, float32
geometry), which databases written before migration 0011 hold.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from tessera.errors import InvalidInput
from tessera.features import codebook

MAX_SIDE = 1024
"""Long side of the grey image SIFT sees; larger images are area-downscaled."""

NFEATURES = 1000
"""Keypoint cap per image (OpenCV keeps the strongest responses)."""

DESC_SCALE = 512.0
"""uint8 quantisation step of RootSIFT components (value * 512, clipped to 255)."""

STORED_BYTES = 16 * 1024
"""Upper bound of one stored feature blob (header included)."""

_MAGIC = b"TSLF"
_VERSION = 1  # full: float32 xy, float16 size/angle, uint8 descriptors
_VERSION_COMPACT = 2  # packed geometry + product-quantiser codes
_GEOMETRY = 6  # bytes of packed geometry per keypoint (x, y: uint16; size, angle: uint8)
_SIZE_STEPS = 16.0  # log2 size steps per octave (4.4 % resolution)
_SIZE_MIN = 0.25  # smallest size coded (pixels)
_HEADER = struct.Struct("<4sHHIHHII8x")  # 32 bytes
_DIM = 128

Float32Array = NDArray[np.float32]
UInt8Array = NDArray[np.uint8]


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoints of one image (or one region of it) and their descriptors."""

    xy: Float32Array
    desc: UInt8Array
    size: NDArray[np.float16]
    angle: NDArray[np.float16]
    width: int
    height: int
    mirrored: bool = False
    """Descriptors come from the left-right mirror of the image (``extract_mirrored``);
    coordinates are still in the unmirrored frame, so geometry is a reflection."""
    ratio_slack: float = 0.0
    """Squared distance the ratio test takes off both neighbours' distances when these
    descriptors are a codebook's reconstructions (``codebook.RATIO_SLACK``; 0 for
    extracted descriptors and codebooks 1 and 2): quantisation error adds to every
    distance, which pushes a true match's ratio towards 1."""

    def __post_init__(self) -> None:
        n = self.xy.shape[0]
        if self.xy.shape != (n, 2) or self.desc.shape != (n, _DIM):
            raise InvalidInput("local features: xy must be N x 2 and desc N x 128")
        if self.size.shape != (n,) or self.angle.shape != (n,):
            raise InvalidInput("local features: size and angle must have N entries")

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def float_desc(self) -> Float32Array:
        """Descriptors back as float32 RootSIFT (approximately unit L2 norm)."""
        return self.desc.astype(np.float32) / np.float32(DESC_SCALE)

    def to_bytes(self) -> bytes:
        """The compact stored form (version 2): the strongest keypoints that fit in
        ``STORED_BYTES``, product-quantised; see the module doc."""
        book = codebook.load(codebook.CURRENT)
        n = min(len(self), stored_max(book.m))
        header = _HEADER.pack(
            _MAGIC,
            _VERSION_COMPACT,
            int(self.mirrored),
            n,
            _DIM,
            book.ident,
            self.width,
            self.height,
        )
        return b"".join(
            (
                header,
                _pack_geometry(self, n),
                book.encode(self.float_desc()[:n]).tobytes(),
            )
        )

    def to_bytes_full(self) -> bytes:
        """The version-1 form (every keypoint, uint8 descriptors, float geometry):
        140 bytes a keypoint. Kept for tools and tests; the database stores
        :meth:`to_bytes`."""
        n = len(self)
        header = _HEADER.pack(
            _MAGIC, _VERSION, int(self.mirrored), n, _DIM, 0, self.width, self.height
        )
        return b"".join(
            (
                header,
                np.ascontiguousarray(self.xy, dtype="<f4").tobytes(),
                np.ascontiguousarray(self.size, dtype="<f2").tobytes(),
                np.ascontiguousarray(self.angle, dtype="<f2").tobytes(),
                np.ascontiguousarray(self.desc, dtype=np.uint8).tobytes(),
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        if len(data) < _HEADER.size:
            raise InvalidInput("local features: truncated header", reason="invalid-features")
        magic, version, flags, n, dim, book_id, width, height = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise InvalidInput("local features: bad magic", reason="invalid-features")
        if version not in (_VERSION, _VERSION_COMPACT) or dim != _DIM:
            raise InvalidInput(
                f"local features: unsupported version {version} / dim {dim}",
                reason="invalid-features",
            )
        if version == _VERSION_COMPACT:
            return _from_compact(
                data,
                n,
                int(book_id),
                width=int(width),
                height=int(height),
                mirrored=bool(flags & 1),
            )
        expected = _HEADER.size + n * (8 + 2 + 2 + dim)
        if len(data) != expected:
            raise InvalidInput(
                f"local features: {len(data)} bytes, expected {expected}",
                reason="invalid-features",
            )
        off = _HEADER.size
        xy = np.frombuffer(data, "<f4", n * 2, off).reshape(n, 2).astype(np.float32)
        off += n * 8
        size = np.frombuffer(data, "<f2", n, off).astype(np.float16)
        off += n * 2
        angle = np.frombuffer(data, "<f2", n, off).astype(np.float16)
        off += n * 2
        desc = np.frombuffer(data, np.uint8, n * dim, off).reshape(n, dim).copy()
        return cls(xy, desc, size, angle, int(width), int(height), bool(flags & 1))


def stored_max(m: int) -> int:
    """Keypoints a compact blob holds at most with ``m``-byte codes (16 KiB in all)."""
    return (STORED_BYTES - _HEADER.size) // (_GEOMETRY + m)


def keypoint_count(data: bytes) -> int:
    """Keypoints in a features blob, from its header alone (0 if it is not one)."""
    if len(data) < _HEADER.size or data[:4] != _MAGIC:
        return 0
    return int(_HEADER.unpack_from(data)[3])


def blob_version(data: bytes) -> int:
    """The format version of a stored blob (1 full, 2 compact); 0 if not one."""
    if len(data) < _HEADER.size or data[:4] != _MAGIC:
        return 0
    return int(_HEADER.unpack_from(data)[1])


def _pack_geometry(f: LocalFeatures, n: int) -> bytes:
    """x, y (uint16 fractions of the frame), then size and angle bytes, for ``n`` points."""
    w1, h1 = max(1, f.width - 1), max(1, f.height - 1)
    frac = f.xy[:n].astype(np.float64) / np.array([w1, h1], np.float64)
    xy = np.clip(np.rint(frac * 65535.0), 0, 65535).astype("<u2")
    size = np.maximum(f.size[:n].astype(np.float64), _SIZE_MIN)
    size_q = np.clip(np.rint(np.log2(size / _SIZE_MIN) * _SIZE_STEPS), 0, 255).astype(np.uint8)
    angle_q = (np.rint(f.angle[:n].astype(np.float64) / 360.0 * 256.0) % 256).astype(np.uint8)
    return b"".join((xy.tobytes(), size_q.tobytes(), angle_q.tobytes()))


def _from_compact(
    data: bytes, n: int, book_id: int, *, width: int, height: int, mirrored: bool
) -> LocalFeatures:
    book = codebook.load(book_id)
    expected = _HEADER.size + n * (_GEOMETRY + book.m)
    if len(data) != expected:
        raise InvalidInput(
            f"local features: {len(data)} bytes, expected {expected}",
            reason="invalid-features",
        )
    off = _HEADER.size
    xy_q = np.frombuffer(data, "<u2", n * 2, off).reshape(n, 2).astype(np.float32)
    off += n * 4
    size_q = np.frombuffer(data, np.uint8, n, off).astype(np.float32)
    off += n
    angle_q = np.frombuffer(data, np.uint8, n, off).astype(np.float32)
    off += n
    codes = np.frombuffer(data, np.uint8, n * book.m, off).reshape(n, book.m)
    w1, h1 = max(1, width - 1), max(1, height - 1)
    xy = (xy_q / np.float32(65535.0) * np.array([w1, h1], np.float32)).astype(np.float32)
    size = (np.float32(_SIZE_MIN) * np.exp2(size_q / np.float32(_SIZE_STEPS))).astype(np.float16)
    angle = (angle_q * np.float32(360.0 / 256.0)).astype(np.float16)
    desc = np.clip(np.rint(book.decode(codes) * DESC_SCALE), 0, 255).astype(np.uint8)
    slack = codebook.RATIO_SLACK.get(book_id, 0.0)
    return LocalFeatures(xy, desc, size, angle, width, height, mirrored, slack)


def empty(width: int = 0, height: int = 0) -> LocalFeatures:
    return LocalFeatures(
        np.zeros((0, 2), np.float32),
        np.zeros((0, _DIM), np.uint8),
        np.zeros(0, np.float16),
        np.zeros(0, np.float16),
        width,
        height,
    )


_SIFT: dict[int, cv2.SIFT] = {}


def _sift(nfeatures: int) -> cv2.SIFT:
    sift = _SIFT.get(nfeatures)
    if sift is None:
        sift = _SIFT[nfeatures] = cv2.SIFT.create(nfeatures=nfeatures)
    return sift


def _grey(rgb: UInt8Array) -> UInt8Array:
    if rgb.ndim == 2:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise InvalidInput("local features need an H x W x 3 uint8 RGB array")
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3]), cv2.COLOR_RGB2GRAY))


def root_sift(desc: Float32Array) -> Float32Array:
    """RootSIFT (Arandjelovic & Zisserman 2012): L1-normalise, then square root."""
    d = np.maximum(desc.astype(np.float32), 0.0)
    d /= np.maximum(d.sum(axis=1, keepdims=True), np.float32(1e-7))
    return np.sqrt(d, dtype=np.float32)


def extract(
    rgb: UInt8Array, *, max_side: int = MAX_SIDE, nfeatures: int = NFEATURES
) -> LocalFeatures:
    """RootSIFT features of an RGB (or grey) image; coordinates in original pixels."""
    grey = _grey(rgb)
    h, w = grey.shape
    if h < 16 or w < 16:
        return empty(w, h)
    scale = min(1.0, max_side / max(h, w))
    small = grey
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
    kps, desc = _sift(nfeatures).detectAndCompute(small, None)
    if desc is None or len(kps) == 0:
        return empty(w, h)
    # strongest first (OpenCV's cap keeps the best but not in order): the stored
    # form keeps a prefix
    order = sorted(range(len(kps)), key=lambda i: -kps[i].response)[:nfeatures]
    kps = [kps[i] for i in order]
    desc = desc[order]
    sx, sy = w / small.shape[1], h / small.shape[0]
    pts = np.array([kp.pt for kp in kps], np.float32).reshape(-1, 2)
    # OpenCV pixel centres: x_small + 0.5 maps to (x + 0.5) * s in the original
    xy = ((pts + 0.5) * np.array([sx, sy], np.float32) - 0.5).astype(np.float32)
    size_ = np.array([kp.size for kp in kps], np.float32) * np.float32((sx + sy) / 2)
    angle = np.array([kp.angle for kp in kps], np.float32)
    q = np.clip(np.rint(root_sift(np.asarray(desc, np.float32)) * DESC_SCALE), 0, 255).astype(
        np.uint8
    )
    return LocalFeatures(xy, q, size_.astype(np.float16), angle.astype(np.float16), w, h)


def extract_region(
    rgb: UInt8Array,
    box: tuple[int, int, int, int],
    *,
    max_side: int = MAX_SIDE,
    nfeatures: int = NFEATURES,
) -> LocalFeatures:
    """Features of the marker in ``box`` = (x0, y0, x1, y1), in whole-image pixels.

    The crop is extracted on its own (so a small poster gets the full keypoint
    budget) and its coordinates are shifted back into the whole image's frame;
    ``width``/``height`` stay those of the whole image.
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    if x1 - x0 < 16 or y1 - y0 < 16:
        raise InvalidInput(f"marker box {box} is empty or under 16 px inside {w}x{h}")
    f = extract(rgb[y0:y1, x0:x1], max_side=max_side, nfeatures=nfeatures)
    xy = (f.xy + np.array([x0, y0], np.float32)).astype(np.float32)
    return LocalFeatures(xy, f.desc, f.size, f.angle, w, h)


def extract_mirrored(
    rgb: UInt8Array, *, max_side: int = MAX_SIDE, nfeatures: int = NFEATURES
) -> LocalFeatures:
    """Features of the left-right mirror of ``rgb``, x mapped back to the unmirrored frame.

    SIFT is not mirror-invariant; a query run with both ``extract`` and this finds
    flipped copies. Coordinates refer to the original (unflipped) image, so a
    verified region can be drawn on the query as given.
    """
    f = extract(np.ascontiguousarray(rgb[:, ::-1]), max_side=max_side, nfeatures=nfeatures)
    xy = f.xy.copy()
    xy[:, 0] = (f.width - 1) - xy[:, 0]
    return LocalFeatures(xy, f.desc, f.size, f.angle, f.width, f.height, mirrored=True)


def rescale(f: LocalFeatures, width: int, height: int) -> LocalFeatures:
    """``f`` with coordinates and sizes mapped to a ``width`` x ``height`` frame.

    Used when features were taken from a reduced-scale decode: stored keypoints are
    always in the full picture's pixels, so marker boxes drawn on it line up.
    """
    if (width, height) == (f.width, f.height) or f.width == 0 or f.height == 0:
        return f
    s = np.array([width / f.width, height / f.height], np.float32)
    xy = ((f.xy + 0.5) * s - 0.5).astype(np.float32)
    size = (f.size.astype(np.float32) * np.float32(s.mean())).astype(np.float16)
    return LocalFeatures(xy, f.desc, size, f.angle, width, height, f.mirrored, f.ratio_slack)


def subset(f: LocalFeatures, box: tuple[float, float, float, float]) -> LocalFeatures:
    """The keypoints of ``f`` whose centres lie inside ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    keep = (f.xy[:, 0] >= x0) & (f.xy[:, 0] < x1) & (f.xy[:, 1] >= y0) & (f.xy[:, 1] < y1)
    return LocalFeatures(
        f.xy[keep],
        f.desc[keep],
        f.size[keep],
        f.angle[keep],
        f.width,
        f.height,
        f.mirrored,
        f.ratio_slack,
    )
