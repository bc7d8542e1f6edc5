"""PDQ hashes as arrays: the byte-order contract and input checks.

A PDQ hash is 32 bytes, big-endian, exactly ``bytes.fromhex(<64 hex>)`` (the
ThreatExchange text form); ``tessera.fingerprints.value.hamming`` on those bytes is
the reference distance. Callers pass either

* ``(N, 32) uint8``: those bytes, one row per hash; or
* ``(N, 4) uint64``: the same 256-bit integer as four big-endian words, word 0 the
  most significant (``int(w[0]) << 192 | ... | int(w[3])`` is the hash).

Internally every hash is four little-endian 64-bit *words*: the 32 bytes viewed as
``<u8`` with no copy. Hamming distance is the popcount of the XOR, which does not
care how the 256 bits are grouped into words, so the internal order only has to be
the same for stored hashes and queries; this module is the one place that converts.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from tessera.errors import InvalidInput

HASH_BYTES = 32
HASH_WORDS = 4
MAX_RADIUS = 256

Words = NDArray[np.uint64]
"""``(N, 4)`` internal words: the hash bytes viewed as little-endian uint64."""

_LE_WORD = np.dtype("<u8")


def words_from_codes(codes: object, what: str = "codes") -> Words:
    """Validate ``(N, 32) uint8`` or ``(N, 4) uint64`` hashes; return internal words."""
    if not isinstance(codes, np.ndarray):
        raise InvalidInput(f"{what} must be a numpy array, got {type(codes).__name__}")
    if codes.ndim != 2:
        raise InvalidInput(f"{what} must be 2-D (N, 32) uint8 or (N, 4) uint64, got {codes.shape}")
    if codes.dtype == np.uint8 and codes.shape[1] == HASH_BYTES:
        raw = np.ascontiguousarray(codes)
    elif codes.dtype == np.uint64 and codes.shape[1] == HASH_WORDS:
        raw = np.ascontiguousarray(codes.astype(">u8", copy=False)).view(np.uint8)
    else:
        raise InvalidInput(
            f"{what} must be (N, 32) uint8 or (N, 4) uint64, got {codes.shape} {codes.dtype}"
        )
    words = raw.view(_LE_WORD).astype(np.uint64, copy=False)
    return words.reshape(-1, HASH_WORDS)


def word_from_code(code: object) -> Words:
    """One hash (32 ``bytes``, ``(32,) uint8`` or ``(4,) uint64``) as ``(1, 4)`` words."""
    if isinstance(code, bytes | bytearray | memoryview):
        raw = bytes(code)
        if len(raw) != HASH_BYTES:
            raise InvalidInput(f"a PDQ hash is {HASH_BYTES} bytes, got {len(raw)}")
        return words_from_codes(np.frombuffer(raw, dtype=np.uint8).reshape(1, HASH_BYTES))
    if isinstance(code, np.ndarray) and code.ndim == 1:
        return words_from_codes(code.reshape(1, -1), "code")
    raise InvalidInput("code must be 32 bytes, a (32,) uint8 array or a (4,) uint64 array")


def codes_from_words(words: Words) -> NDArray[np.uint8]:
    """Internal words back to ``(N, 32) uint8`` hash bytes."""
    le = np.ascontiguousarray(words).astype(_LE_WORD, copy=False)
    return le.view(np.uint8).reshape(-1, HASH_BYTES)


def codes_from_hex(hexes: Iterable[str]) -> NDArray[np.uint8]:
    """``(N, 32) uint8`` from 64-hex PDQ strings (the ThreatExchange text form)."""
    rows: list[bytes] = []
    for i, text in enumerate(hexes):
        s = text.strip()
        if len(s) != 2 * HASH_BYTES:
            raise InvalidInput(f"hash {i}: a PDQ hash is 64 hex digits, got {len(s)}")
        try:
            rows.append(bytes.fromhex(s))
        except ValueError as exc:
            raise InvalidInput(f"hash {i}: not hex: {s[:70]!r}") from exc
    buf = b"".join(rows)
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(rows), HASH_BYTES).copy()


def ids_array(ids: object, n: int) -> NDArray[np.int64]:
    """Validate caller ids: ``n`` integers, returned as a contiguous int64 array."""
    if not isinstance(ids, np.ndarray):
        raise InvalidInput(f"ids must be a numpy array, got {type(ids).__name__}")
    if ids.ndim != 1 or ids.shape[0] != n:
        raise InvalidInput(f"ids must have shape ({n},) to match the codes, got {ids.shape}")
    if ids.dtype.kind not in "iu":
        raise InvalidInput(f"ids must be integers, got {ids.dtype}")
    if ids.dtype == np.uint64 and n and int(ids.max()) > np.iinfo(np.int64).max:
        raise InvalidInput("ids must fit in int64")
    return np.ascontiguousarray(ids, dtype=np.int64)


def check_radius(radius: object) -> int:
    """A search radius: an int in 0..256."""
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
        raise InvalidInput(f"radius must be an int, got {type(radius).__name__}")
    r = int(radius)
    if not 0 <= r <= MAX_RADIUS:
        raise InvalidInput(f"radius must be in 0..{MAX_RADIUS}, got {r}")
    return r
