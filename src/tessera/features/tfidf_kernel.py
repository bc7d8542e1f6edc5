"""The compiled tf-idf scoring (``_tfidf.c``), when it was built.

Why: retrieval scores every stored picture sharing a word with the query, so its cost
grows with the collection (1.5M postings a query at 100k pictures); NumPy's concatenate
and bincount cost ~8 ns a posting, the C loop reads each posting once. It sums in the
same order with the same float32 products, so the scores (and every ranking) are
identical to the NumPy path's. Optional at install time; ``TESSERA_TFIDF_KERNEL=numpy``
uses NumPy anyway.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tessera.errors import InvalidInput
from tessera.native import load_kernel

_P = ctypes.c_void_p


_LIB = load_kernel(
    Path(__file__).parent,
    "_tfidf",
    "tessera_tfidf_scores",
    [_P, _P, _P, _P, _P, ctypes.c_long, _P],
    None,
    switch="TESSERA_TFIDF_KERNEL",
)


def available() -> bool:
    """Whether the compiled scoring is built and in use."""
    return _LIB is not None


def scores_c(
    inv: tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]],
    words: NDArray[np.int64],
    q: NDArray[np.float32],
    n_docs: int,
) -> NDArray[np.float64]:
    """Every document's tf-idf dot product with the query (``SceneIndex._scores``)."""
    assert _LIB is not None
    inv_ptr, inv_doc, inv_w = (np.ascontiguousarray(a) for a in inv)
    assert inv_ptr.dtype == np.int64 and inv_doc.dtype == np.int32 and inv_w.dtype == np.float32
    w = np.ascontiguousarray(words, dtype=np.int64)
    qv = np.ascontiguousarray(q, dtype=np.float32)
    if w.shape != qv.shape:
        raise InvalidInput("tf-idf scoring: one weight per query word")
    if w.size and (int(w.min()) < 0 or int(w.max()) + 1 >= inv_ptr.shape[0]):
        raise InvalidInput("tf-idf scoring: a query word outside the vocabulary")
    out = np.zeros(n_docs, np.float64)
    _LIB.tessera_tfidf_scores(
        inv_ptr.ctypes.data,
        inv_doc.ctypes.data,
        inv_w.ctypes.data,
        w.ctypes.data,
        qv.ctypes.data,
        w.shape[0],
        out.ctypes.data,
    )
    return out


__all__ = ["available", "scores_c"]
