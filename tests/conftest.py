"""Shared test fixtures.

Benign test data lives outside the repository in ``../shared`` (override with
``TESSERA_SHARED``). Tests that need it skip, saying why, where it is absent (a
user's fresh clone); CI always has it. Nothing from it is ever copied into the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TESSERA_SHARED", REPO.parent / "shared"))
VECTORS = SHARED / "vectors" / "threatexchange"
DATA = SHARED / "data"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set TESSERA_SHARED to ../shared)")
    return path


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """``../shared/vectors/threatexchange`` (skips if absent)."""
    return _need(VECTORS)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` (skips if absent)."""
    return _need(DATA)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``chromaprint`` skip, naming the package, where libchromaprint is
    missing (``./run tests`` installs it when it can; the rest of the suite runs)."""
    from tessera.fingerprints.chromaprint import (
        ChromaprintUnavailable,
        load_library,
    )

    try:
        load_library()
        return
    except ChromaprintUnavailable as exc:
        skip = pytest.mark.skip(reason=exc.message)
    for item in items:
        if "chromaprint" in item.keywords:
            item.add_marker(skip)
