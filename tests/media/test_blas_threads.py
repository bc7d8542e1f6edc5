"""``blas_threads`` limits every loaded OpenBLAS, numpy's included, whatever was loaded
first (triage's copy check runs with faiss and OpenCV loaded, each bundling its own)."""

from __future__ import annotations

import numpy as np
import pytest

from tessera.media import vpdq_file
from tessera.media.vpdq_file import blas_threads


def _counts() -> dict[str, int]:
    return {p: int(getattr(lib, p % "get")()) for lib, p in vpdq_file._openblases()}


def test_limits_numpys_openblas_with_faiss_and_opencv_loaded() -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("cv2")
    _ = np.ones((64, 64)) @ np.ones((64, 64))  # numpy's OpenBLAS is loaded and used
    libs = vpdq_file._openblases()
    if not any(p.startswith("scipy_openblas") for _, p in libs):
        pytest.skip("numpy is not built on scipy-openblas here")
    before = [int(getattr(lib, p % "get")()) for lib, p in libs]
    with blas_threads(1):
        inside = [int(getattr(lib, p % "get")()) for lib, p in libs]
    after = [int(getattr(lib, p % "get")()) for lib, p in libs]
    assert inside == [1] * len(libs)
    assert after == before


def test_nested_use_restores_the_outer_limit() -> None:
    _ = np.ones((8, 8)) @ np.ones((8, 8))
    if not vpdq_file._openblases():
        pytest.skip("no OpenBLAS loaded")
    outer = _counts()
    with blas_threads(1):
        with blas_threads(1):
            pass
        assert set(_counts().values()) == {1}
    assert _counts() == outer
