"""``blas_threads`` limits every loaded OpenBLAS, numpy's included, whatever was loaded
first (triage's copy check runs with faiss and OpenCV loaded, each bundling its own)."""

from __future__ import annotations

import subprocess
import sys

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


def test_a_library_loaded_after_a_first_call_is_found() -> None:
    """The list is kept between calls but read again once a module was imported: faiss,
    imported on demand, bundles its own OpenBLAS (in a fresh interpreter, where faiss is
    not loaded yet). Which libraries faiss brought is read from the process's maps."""
    pytest.importorskip("faiss")
    code = (
        "import numpy as np\n"
        "from tessera.media import vpdq_file as v\n"
        "_ = np.ones((8, 8)) @ np.ones((8, 8))\n"
        "before = {lib._name for lib, _ in v._openblases()}\n"
        "import faiss\n"
        "after = {lib._name for lib, _ in v._openblases()}\n"
        "maps = {l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l}\n"
        "brought = {p for p in maps if 'faiss' in p}\n"
        "print(len(brought), int(brought <= after), int(not brought & before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    brought, found, new = out.stdout.split()
    if brought == "0":
        pytest.skip("this faiss build bundles no OpenBLAS of its own")
    assert (found, new) == ("1", "1")
