"""A byte stream that refuses JSON nested too deeply or strings too long, before a
parser sees them.

ijson's C backend keeps the path prefix of every nesting level, so its memory grows
with the *square* of the depth: 100,000 nested ``[`` exhaust gigabytes before any
item is built. This wrapper tracks the exact depth as the bytes pass (strings are
cut out with one regular expression per chunk, the remaining brackets summed with
NumPy), so the check costs little next to parsing and stops hostile input early.
"""

from __future__ import annotations

import re
from typing import BinaryIO

import numpy as np

from tessera.errors import InvalidInput

MAX_DEPTH = 64
MAX_STRING = 16 << 20

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_KEEP = b"[]{}"
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_STEP = np.zeros(256, dtype=np.int64)
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class DepthGuard:
    """Wraps a binary stream; ``read`` raises InvalidInput on excess depth or string size."""

    def __init__(self, raw: BinaryIO, *, max_depth: int = MAX_DEPTH) -> None:
        self.raw = raw
        self.max_depth = max_depth
        self.depth = 0
        self.carry = b""

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self._check(data, final=not data)
        return data

    def _check(self, data: bytes, *, final: bool) -> None:
        buf = self.carry + data
        parts = _STRING.split(buf)
        last = parts[-1]
        quote = last.find(b'"')
        if quote >= 0 and not final:
            parts[-1], self.carry = last[:quote], last[quote:]
            if len(self.carry) > MAX_STRING:
                raise InvalidInput(f"JSON string longer than {MAX_STRING >> 20} MiB")
        else:
            self.carry = b""
        brackets = b"".join(parts).translate(None, _DROP)
        if not brackets:
            return
        steps = _STEP[np.frombuffer(brackets, dtype=np.uint8)]
        depths = self.depth + np.cumsum(steps)
        if int(depths.max()) > self.max_depth:
            raise InvalidInput(f"JSON nested deeper than {self.max_depth} levels")
        self.depth = int(depths[-1])


__all__ = ["MAX_DEPTH", "DepthGuard"]
