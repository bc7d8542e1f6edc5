"""Exact PDQ radius search: the "seen before?" lookup.

``PdqIndex`` answers, for each query hash, every stored hash within Hamming
distance ``r`` (default 31): exactly the brute-force answer, fast at 10 million
stored hashes. See ``tessera.index.pdq_index`` for the design and its numbers.
"""

from __future__ import annotations

from tessera.errors import IndexCorrupt
from tessera.index.codes import codes_from_hex
from tessera.index.pdq_index import DEFAULT_RADIUS, PdqIndex, Strategy
from tessera.index.reference import brute_force_search
from tessera.index.result import SearchResult

__all__ = [
    "DEFAULT_RADIUS",
    "IndexCorrupt",
    "PdqIndex",
    "SearchResult",
    "Strategy",
    "brute_force_search",
    "codes_from_hex",
]
