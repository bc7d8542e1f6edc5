"""Finding and loading Tessera's optional compiled kernels (plain C, loaded with ctypes).

Why one place: each kernel (the PDQ index's probe, the scene index's tf-idf scoring)
is built by pip only where a C compiler is present, and each has a NumPy path with
the same answers; how a built one is found, loaded and switched off for comparison
(an environment variable set to ``numpy``) must not differ between them.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any


def load_kernel(
    folder: Path,
    name: str,
    symbol: str,
    argtypes: Sequence[Any],
    restype: Any,
    *,
    switch: str,
) -> ctypes.CDLL | None:
    """The library ``name`` built into ``folder`` with ``symbol`` typed, or None when it
    was not built or the environment variable ``switch`` says ``numpy``."""
    if os.environ.get(switch, "") == "numpy":
        return None
    for suffix in EXTENSION_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            fn = getattr(lib, symbol)
            fn.argtypes = list(argtypes)
            fn.restype = restype
            return lib
    return None


__all__ = ["load_kernel"]
