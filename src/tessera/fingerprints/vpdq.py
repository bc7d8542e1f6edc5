"""vPDQ, Meta's video PDQ: one PDQ hash per sampled frame, compared as a bag of frames.

Pure (numpy and ``tessera.fingerprints`` only): decoding lives in
``tessera.media.video``; this module hashes frames it is given, reads and writes the
two exchange forms, and compares whole videos.

Exchange forms (ThreatExchange ``vpdq/cpp/vpdq/cpp/io/vpdqio.cpp`` and
python-threatexchange ``extensions/vpdq``):

* text, one line per frame: ``frame_number,quality,pdq_hex,timestamp`` with the
  timestamp in seconds printed with 3 decimals (``0,100,e271...055c,0.000``);
* pytx JSON: a list of ``"pdq_hex,quality,timestamp"`` strings (frame numbers are
  dropped; reading assigns 0, 1, 2...).

Matching (``match``) follows vPDQ's brute-force comparison: frames of quality below
``quality`` are dropped on both sides; ``query_pct`` is the share of query frames with
at least one compared frame within ``distance``, ``compared_pct`` the reverse. The two
upstream implementations differ in two ways, selected by ``semantics``:

* ``"pytx"`` (python-threatexchange ``match_VPDQ_hash_brute``, what HMA runs):
  identical hashes are de-duplicated first ("bag of unique hashes") and a frame pair
  matches when the Hamming distance is ``<= distance``;
* ``"cpp"`` (C++ ``matchTwoHashBrute``): no de-duplication, and a pair matches when the
  distance is strictly ``< distance``. With the default 31 a pair at distance exactly
  31 matches in pytx and not in C++.

Frame order and timestamps play no part in whole-video matching.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from tessera.errors import InvalidInput
from tessera.fingerprints.pdq import (
    QUALITY_THRESHOLD,
    Exactness,
    SampleGrid,
    pdq_hash,
    pdq_hash_rgb,
)

DISTANCE_THRESHOLD = 31
"""vPDQ's frame distance (``VPDQ_DISTANCE_THRESHOLD``)."""

QUALITY_FILTER = QUALITY_THRESHOLD
"""Frames below this PDQ quality are ignored when matching (``VPDQ_QUALITY_THRESHOLD``)."""

QUERY_MATCH_PCT = 80.0
"""pytx ``VPDQ_QUERY_MATCH_THRESHOLD_PERCENT``: a video matches when this share of the
query's frames match (and ``COMPARED_MATCH_PCT`` of the compared video's)."""

COMPARED_MATCH_PCT = 0.0
"""pytx ``VPDQ_INDEX_MATCH_THRESHOLD_PERCENT``."""

Semantics = Literal["pytx", "cpp"]

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_INT = re.compile(r"^[0-9]+$")
_FLOAT = re.compile(r"^[0-9]+(\.[0-9]*)?$")


@dataclass(frozen=True, slots=True)
class FrameHash:
    """One frame's PDQ hash: 0-based frame number, quality 0..100, 32-byte hash, seconds."""

    frame_number: int
    quality: int
    pdq: bytes
    timestamp: float

    def __post_init__(self) -> None:
        if len(self.pdq) != 32:
            raise InvalidInput(f"a PDQ hash is 32 bytes, got {len(self.pdq)}")
        if not 0 <= self.quality <= 100:
            raise InvalidInput(f"PDQ quality must be 0..100, got {self.quality}")
        if self.frame_number < 0:
            raise InvalidInput(f"frame number must be >= 0, got {self.frame_number}")
        if not math.isfinite(self.timestamp) or self.timestamp < 0:
            raise InvalidInput(f"timestamp must be a finite number >= 0, got {self.timestamp}")

    @property
    def hex(self) -> str:
        return self.pdq.hex()


@dataclass(frozen=True, slots=True)
class MatchPct:
    """Percentages (0..100) of query and compared frames that found a partner."""

    query_pct: float
    compared_pct: float

    def is_match(
        self,
        query_threshold: float = QUERY_MATCH_PCT,
        compared_threshold: float = COMPARED_MATCH_PCT,
    ) -> bool:
        """pytx's decision: ``query_pct >= query_threshold and compared_pct >= ...``."""
        return self.query_pct >= query_threshold and self.compared_pct >= compared_threshold


# --- hashing --------------------------------------------------------------------------


def hash_frame(
    frame_number: int,
    timestamp: float,
    pixels: NDArray[np.uint8],
    *,
    grid: SampleGrid | None = None,
    exact: Exactness = "auto",
) -> FrameHash:
    """PDQ of one frame: ``H x W x 3`` RGB or ``H x W`` luma (0..255) pixels.

    ``grid`` says that the pixels are a block-averaged reduction of a larger frame
    (``SampleGrid``), hashed as if they were the full frame.
    """
    if pixels.ndim == 2:
        r = pdq_hash(pixels.astype(np.float32), grid, exact=exact)
    else:
        r = pdq_hash_rgb(pixels, grid, exact=exact)
    return FrameHash(frame_number, r.quality, r.fingerprint.payload, max(0.0, timestamp))


def hash_frames(
    frames: Iterable[tuple[int, float, NDArray[np.uint8]] | object],
    *,
    exact: Exactness = "auto",
) -> list[FrameHash]:
    """PDQ of every frame, sorted by frame number.

    ``frames`` yields ``(frame_number, timestamp, pixels)`` tuples or objects with
    ``index``, ``timestamp_s`` and ``rgb`` attributes (``tessera.media.video.VideoFrame``).
    """
    out: list[FrameHash] = []
    for f in frames:
        if isinstance(f, tuple):
            n, t, px = f
        else:
            n, t, px = f.index, f.timestamp_s, f.rgb  # type: ignore[attr-defined]
        out.append(hash_frame(int(n), float(t), px, exact=exact))
    out.sort(key=lambda h: h.frame_number)
    return out


# --- text and JSON forms --------------------------------------------------------------


def format_line(h: FrameHash) -> str:
    """``frame_number,quality,pdq_hex,timestamp`` (3 decimals), as vPDQ writes it."""
    return f"{h.frame_number},{h.quality},{h.pdq.hex()},{h.timestamp:.3f}"


def dumps(hashes: Iterable[FrameHash]) -> str:
    """The vPDQ text form: one line per frame, each ending in a newline."""
    return "".join(format_line(h) + "\n" for h in hashes)


def _bad(line_no: int, why: str, line: str) -> InvalidInput:
    shown = line if len(line) <= 120 else line[:117] + "..."
    return InvalidInput(f"line {line_no}: {why}: {shown!r}", reason="invalid-vpdq")


def _parse_hash(text: str, line_no: int, line: str) -> bytes:
    if not _HEX64.match(text):
        raise _bad(line_no, "PDQ hash must be 64 hex characters", line)
    return bytes.fromhex(text)


def _parse_quality(text: str, line_no: int, line: str) -> int:
    if not _INT.match(text) or int(text) > 100:
        raise _bad(line_no, "quality must be a whole number 0..100", line)
    return int(text)


def _parse_time(text: str, line_no: int, line: str) -> float:
    if not _FLOAT.match(text):
        raise _bad(line_no, "timestamp must be a non-negative decimal number", line)
    t = float(text)
    if not math.isfinite(t):
        raise _bad(line_no, "timestamp is not finite", line)
    return t


def parse_line(line: str, line_no: int = 1) -> FrameHash:
    """One text-form line; raises ``InvalidInput`` naming ``line_no``."""
    parts = [p.strip() for p in line.strip().split(",")]
    if len(parts) != 4:
        raise _bad(line_no, f"expected 4 comma-separated fields, got {len(parts)}", line)
    num, qual, hx, ts = parts
    if not _INT.match(num):
        raise _bad(line_no, "frame number must be a whole number >= 0", line)
    return FrameHash(
        int(num),
        _parse_quality(qual, line_no, line),
        _parse_hash(hx, line_no, line),
        _parse_time(ts, line_no, line),
    )


def loads(text: str) -> list[FrameHash]:
    """Parse the vPDQ text form (blank lines are skipped; line numbers are 1-based)."""
    out: list[FrameHash] = []
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(parse_line(line, i))
    return out


def to_pytx_json(hashes: Iterable[FrameHash]) -> str:
    """python-threatexchange's serialisation: a JSON list of ``"hex,quality,timestamp"``."""
    return json.dumps([f"{h.pdq.hex()},{h.quality},{h.timestamp:.3f}" for h in hashes])


def from_pytx_json(text: str) -> list[FrameHash]:
    """Parse pytx's JSON form; frame numbers are assigned 0, 1, 2... in list order.

    Errors name the 1-based position in the list as the "line".
    """
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"vPDQ JSON does not parse: {exc}", reason="invalid-vpdq") from exc
    if not isinstance(items, list):
        raise InvalidInput("vPDQ JSON must be a list of strings", reason="invalid-vpdq")
    out: list[FrameHash] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise _bad(i, "expected a string 'pdq_hex,quality,timestamp'", repr(item))
        parts = [p.strip() for p in item.split(",")]
        if len(parts) != 3:
            raise _bad(i, f"expected 3 comma-separated fields, got {len(parts)}", item)
        hx, qual, ts = parts
        out.append(
            FrameHash(
                i - 1,
                _parse_quality(qual, i, item),
                _parse_hash(hx, i, item),
                _parse_time(ts, i, item),
            )
        )
    return out


# --- matching -------------------------------------------------------------------------


def _words(hashes: Sequence[FrameHash]) -> NDArray[np.uint64]:
    if not hashes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(b"".join(h.pdq for h in hashes), dtype=">u8")
    return raw.astype(np.uint64).reshape(-1, 4)


def _prepare(hashes: Sequence[FrameHash], quality: int, dedup: bool) -> NDArray[np.uint64]:
    kept = [h for h in hashes if h.quality >= quality]
    if dedup:
        seen: dict[bytes, FrameHash] = {}
        for h in kept:
            seen.setdefault(h.pdq, h)
        kept = list(seen.values())
    return _words(kept)


_BLOCK = 2048


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: NDArray[np.uint64]) -> NDArray[np.uint8]:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        out: NDArray[np.uint8] = np.bitwise_count(x)
        return out
    # numpy < 2.0: byte table
    per_byte: NDArray[np.uint8] = _BYTE_BITS[x.view(np.uint8)]
    total: NDArray[np.uint8] = per_byte.reshape(*x.shape, 8).sum(axis=-1, dtype=np.uint8)
    return total


def within(
    a: NDArray[np.uint64], b: NDArray[np.uint64], limit: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """For ``n x 4`` and ``m x 4`` word arrays: which rows of ``a`` have a row of ``b``
    at Hamming distance ``<= limit``, and which rows of ``b`` have one in ``a``."""
    hit_a = np.zeros(len(a), dtype=bool)
    hit_b = np.zeros(len(b), dtype=bool)
    if not len(a) or not len(b) or limit < 0:
        return hit_a, hit_b
    for i in range(0, len(a), _BLOCK):
        blk = a[i : i + _BLOCK]
        d = np.zeros((len(blk), len(b)), dtype=np.uint16)
        for w in range(4):
            d += _popcount(blk[:, w, None] ^ b[None, :, w])
        close = d <= limit
        hit_a[i : i + _BLOCK] = close.any(axis=1)
        hit_b |= close.any(axis=0)
    return hit_a, hit_b


def match(
    query: Sequence[FrameHash],
    compared: Sequence[FrameHash],
    *,
    distance: int = DISTANCE_THRESHOLD,
    quality: int = QUALITY_FILTER,
    semantics: Semantics = "pytx",
) -> MatchPct:
    """Whole-video vPDQ comparison: share of frames on each side that find a partner.

    ``semantics="pytx"`` (default, python-threatexchange / HMA): frames with quality
    ``< quality`` dropped, identical hashes de-duplicated on each side, a pair matches
    at Hamming distance ``<= distance``. ``semantics="cpp"`` (C++
    ``matchTwoHashBrute``): same quality filter, no de-duplication, a pair matches at
    distance ``< distance`` -- so with the default 31, pairs at exactly 31 bits count
    in pytx and not in C++. A side with no frame left gives 0 %.
    """
    if semantics not in ("pytx", "cpp"):
        raise InvalidInput(f"semantics must be 'pytx' or 'cpp', got {semantics!r}")
    dedup = semantics == "pytx"
    q = _prepare(query, quality, dedup)
    c = _prepare(compared, quality, dedup)
    limit = distance if semantics == "pytx" else distance - 1
    hit_q, hit_c = within(q, c, limit)
    q_pct = 100.0 * float(hit_q.sum()) / len(q) if len(q) else 0.0
    c_pct = 100.0 * float(hit_c.sum()) / len(c) if len(c) else 0.0
    return MatchPct(q_pct, c_pct)


__all__ = [
    "COMPARED_MATCH_PCT",
    "DISTANCE_THRESHOLD",
    "QUALITY_FILTER",
    "QUERY_MATCH_PCT",
    "FrameHash",
    "MatchPct",
    "Semantics",
    "dumps",
    "format_line",
    "from_pytx_json",
    "hash_frame",
    "hash_frames",
    "loads",
    "match",
    "parse_line",
    "to_pytx_json",
    "within",
]
