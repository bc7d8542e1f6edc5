"""Which media digests a large import may find in the database: lookups for the rest skipped.

An exchange import matches every record by its SHA-256, SHA-1 and MD5: one indexed
probe of ``media`` per digest, about a tenth of a large import's CPU on SQLite,
and almost all of them miss when a file brings many more records than the node
holds (the case ``ExchangeImport.large`` is for). A :class:`DigestFilter` is a
one-hash Bloom filter over the digests ``media`` may hold: a bit per 27-bit slice
of a digest, set for every digest of the rows held when the import began and of
every row it writes or fills since. A digest whose bit is clear is surely not
held (no false negatives: digests are only ever added), so it is not looked up; a
set bit only means "look it up", as before. Digests are uniform, so with 2M of them
set, 1.5 % of the probes of absent digests still run.

It is exact only while nothing else writes ``media``: an import holds the
database's writer lock (SQLite) from its first read, and every row it writes goes
through :meth:`add`. Memory: 16 MiB, whatever the size of the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import numpy as np

BITS = 1 << 27
_MASK = BITS - 1


class DigestFilter:
    """Bits of the digests ``media`` may hold (see the module's docstring)."""

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = np.zeros(BITS >> 3, dtype=np.uint8)

    def add(self, digests: Iterable[bytes | None]) -> None:
        """Note digests (None ignored) as possibly held."""
        idx = _slices([d for d in digests if d])
        np.bitwise_or.at(self._bits, idx >> 3, (1 << (idx & 7)).astype(np.uint8))

    def maybe(self, digests: Collection[bytes]) -> set[bytes]:
        """Those of ``digests`` that may be held: every one that is, and a few that are not."""
        keys = list(digests)
        idx = _slices(keys)
        held = (self._bits[idx >> 3] >> (idx & 7)) & 1
        return {keys[i] for i in np.flatnonzero(held).tolist()}


def _slices(digests: list[bytes]) -> np.ndarray:
    """The 27-bit slice (of the first 4 bytes) of each digest, in order."""
    if not digests:
        return np.zeros(0, dtype=np.int64)
    sizes = set(map(len, digests))
    size = sizes.pop()
    if not sizes and size >= 4:  # one kind of digest: no slicing
        heads = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, size)[:, :4]
    else:
        heads = np.frombuffer(b"".join(d[:4].ljust(4, b"\0") for d in digests), dtype=np.uint8)
        heads = heads.reshape(-1, 4)
    first = np.ascontiguousarray(heads).view("<u4").ravel().astype(np.int64)
    return first & _MASK


__all__ = ["BITS", "DigestFilter"]
