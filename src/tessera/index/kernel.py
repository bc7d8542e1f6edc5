"""The compiled probe (``_mih.c``), when it was built: one pass a query instead of NumPy's dozen.

Why: at 10M hashes the probe is bound by random reads (offsets, rows, hashes) and by
the passes NumPy makes over temporary arrays between them; the C loop reads each
once and prefetches ahead, ~4x less CPU a hash (measured in ``tessera.index.probe``'s
terms: the same tables, plan and pairs). The extension is optional at install time
(a machine without a C compiler gets the NumPy probe, with the same results); set
``TESSERA_INDEX_KERNEL=numpy`` to use NumPy anyway. It is plain C loaded with
``ctypes``, whose foreign calls release the GIL, so query blocks still run in threads.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tessera.index.codes import Words
from tessera.index.layout import COST_CANDIDATE_NS, COST_SCAN_NS, ProbePlan
from tessera.index.scan import Triples
from tessera.index.tables import Tables
from tessera.native import load_kernel

FIRST_CAPACITY = 1 << 14
"""Result pairs a call has room for at first (grown when a single query needs more)."""

_P = ctypes.c_void_p
_ARGS: list[Any] = [
    _P, ctypes.c_long, ctypes.c_long,  # queries, q0, nq
    _P, _P, _P, ctypes.c_long,  # ptable, pmask, pbase, nprobes
    _P, _P, ctypes.c_int32,  # cstart, cwidth, m
    _P, _P, _P,  # offsets, perm, words
    ctypes.c_int32, ctypes.c_long, _P,  # radius, heavy_limit, heavy
    _P, _P, _P, ctypes.c_long, _P,  # out_q, out_row, out_d, cap, next_q
]  # fmt: skip


_LIB = load_kernel(
    Path(__file__).parent,
    "_mih",
    "tessera_mih_probe",
    _ARGS,
    ctypes.c_long,
    switch="TESSERA_INDEX_KERNEL",
)


def available() -> bool:
    """Whether the compiled probe is built and in use."""
    return _LIB is not None


def usable(tables: Tables, words: Words) -> bool:
    """The kernel reads 32-bit offsets and rows and C-ordered 64-bit words."""
    return (
        _LIB is not None
        and tables.offsets.dtype == np.uint32
        and tables.perm.dtype == np.uint32
        and tables.offsets.flags.c_contiguous
        and tables.perm.flags.c_contiguous
        and words.dtype == np.uint64
        and words.flags.c_contiguous
    )


def heavy_limit(n: int) -> int:
    """Candidates beyond which a query costs more probed than scanned (as ``probe``)."""
    return max(1, int(n * COST_SCAN_NS / COST_CANDIDATE_NS))


def probe_c(
    tables: Tables, words: Words, queries: Words, plan: ProbePlan, cap: int = FIRST_CAPACITY
) -> tuple[Triples, NDArray[np.int64]]:
    """``(query, row, distance)`` pairs (a pair once per table that found it) and the
    queries too heavy to probe (to be scanned by the caller)."""
    assert _LIB is not None
    fn = _LIB.tessera_mih_probe
    q = np.ascontiguousarray(queries, dtype=np.uint64)
    nq = q.shape[0]
    layout = tables.layout
    ptable = np.ascontiguousarray(plan.tables, dtype=np.int32)
    pmask = np.ascontiguousarray(plan.masks, dtype=np.int64)
    pbase = np.ascontiguousarray(plan.bases, dtype=np.int64)
    cstart = np.array([s for s, _ in layout.chunks], dtype=np.int32)
    cwidth = np.array(layout.widths, dtype=np.int32)
    heavy = np.zeros(nq, dtype=np.uint8)
    limit = heavy_limit(tables.n)
    next_q = ctypes.c_long(0)
    parts: list[Triples] = []
    start = 0
    while start < nq:
        oq = np.empty(cap, dtype=np.int64)
        orow = np.empty(cap, dtype=np.int64)
        od = np.empty(cap, dtype=np.int64)
        got = fn(
            q.ctypes.data, start, nq,
            ptable.ctypes.data, pmask.ctypes.data, pbase.ctypes.data, ptable.shape[0],
            cstart.ctypes.data, cwidth.ctypes.data, layout.m,
            tables.offsets.ctypes.data, tables.perm.ctypes.data, words.ctypes.data,
            plan.radius, limit, heavy.ctypes.data,
            oq.ctypes.data, orow.ctypes.data, od.ctypes.data, cap, ctypes.byref(next_q),
        )  # fmt: skip
        if got < 0:
            raise MemoryError("index probe: no memory for a query's candidates")
        parts.append((oq[:got], orow[:got], od[:got]))
        if next_q.value == start:  # one query's pairs exceed the room: give it more
            cap *= 4
        start = next_q.value
    return (
        (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        ),
        np.flatnonzero(heavy),
    )


__all__ = ["FIRST_CAPACITY", "available", "heavy_limit", "probe_c", "usable"]
