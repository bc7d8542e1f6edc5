"""A byte stream that refuses JSON nested too deeply or strings too long, before a
parser sees them.

ijson's C backend keeps the path prefix of every nesting level, so its memory grows
with the *square* of the depth: 100,000 nested ``[`` exhaust gigabytes before any
item is built. This wrapper tracks the exact depth as the bytes pass, vectorised
with NumPy per chunk: the real quotes (those not escaped by an odd run of
backslashes) split the chunk into inside and outside strings by their parity, and
the brackets outside strings are summed. State carried between chunks: the depth,
whether a string is open (and how long it is), the backslashes the chunk ended with.
It costs a few percent of parsing and stops hostile input early.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from tessera.errors import InvalidInput

MAX_DEPTH = 64
MAX_STRING = 16 << 20

_STEP = np.zeros(256, dtype=np.int64)
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_QUOTE = ord('"')
_BACKSLASH = ord("\\")


class DepthGuard:
    """Wraps a binary stream; ``read`` raises InvalidInput on excess depth or string size."""

    def __init__(self, raw: BinaryIO, *, max_depth: int = MAX_DEPTH) -> None:
        self.raw = raw
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.string_len = 0  # bytes of the open string so far (from its opening quote)
        self.run = 0  # backslashes at the end of what was read so far

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if data:
            self._check(data)
        return data

    def _quotes(self, data: bytes, arr: np.ndarray) -> np.ndarray:
        """Positions of the quotes that open or close strings."""
        quotes = np.flatnonzero(arr == _QUOTE)
        if not self.run and data.find(b"\\") < 0:
            self.run = 0
            return quotes
        positions = np.arange(len(arr))
        # index of the last byte at or before i that is not a backslash (-1: none)
        last = np.maximum.accumulate(np.where(arr == _BACKSLASH, -1, positions))
        if len(quotes):
            before = quotes - 1
            lp = np.where(before >= 0, last[np.maximum(before, 0)], -1)
            runs = before - lp + np.where(lp == -1, self.run, 0)
            quotes = quotes[(runs & 1) == 0]
        end = int(last[-1])
        self.run = len(arr) - 1 - end + (self.run if end == -1 else 0)
        return quotes

    def _check(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        quotes = self._quotes(data, arr)
        was_open = int(self.in_string)
        steps = _STEP[arr]
        where = np.flatnonzero(steps)
        if len(where):
            inside = (np.searchsorted(quotes, where) + was_open) & 1
            outside = steps[where[inside == 0]]
            if len(outside):
                depths = self.depth + np.cumsum(outside)
                if int(depths.max()) > self.max_depth:
                    raise InvalidInput(f"JSON nested deeper than {self.max_depth} levels")
                self.depth = int(depths[-1])
        n = len(quotes)
        if n == 0:
            if was_open:
                self.string_len += len(arr)
        else:
            if was_open and self.string_len + int(quotes[0]) > MAX_STRING:
                self._too_long()
            self.in_string = bool((was_open + n) & 1)
            self.string_len = len(arr) - int(quotes[-1]) if self.in_string else 0
        if self.string_len > MAX_STRING:
            self._too_long()

    @staticmethod
    def _too_long() -> None:
        raise InvalidInput(f"JSON string longer than {MAX_STRING >> 20} MiB")


__all__ = ["MAX_DEPTH", "DepthGuard"]
