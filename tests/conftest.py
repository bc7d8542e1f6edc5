"""Shared test fixtures.

Benign test data lives outside the repository in ``../shared`` (override with
``TESSERA_SHARED``). Tests that need it skip, saying why, where it is absent (a
user's fresh clone); CI always has it. Nothing from it is ever copied into the repo.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests assert behaviour, never time: Hypothesis's default 200 ms deadline per
# example failed test_vpdq under CI load (331 ms) without anything being wrong.
settings.register_profile("tessera", deadline=None)
settings.load_profile("tessera")

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
    """Every item gets a node id of its own, and tests marked ``chromaprint`` skip,
    naming the package, where libchromaprint is missing (``./run tests`` installs it
    when it can; the rest of the suite runs)."""
    _unique_node_ids(items)
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


def _unique_node_ids(items: list[pytest.Item]) -> None:
    """Schemathesis names each API operation's item ``test[GET /status]``, but on
    pytest 9 all 51 get the bare function's node id; pytest-xdist schedules by node
    id, so under ``--dist loadfile`` 1 of the 51 operations ran. Such an item gets its
    name's parameters in its id; any other duplicate stops the run."""
    for item in items:
        name = item.name
        node_id = getattr(item, "_id", None)
        if "[" in name and not item.nodeid.endswith("]") and node_id is not None:
            item._id = node_id.with_params(name[name.index("[") + 1 : -1])  # type: ignore[attr-defined]
    dup = [i for i, n in Counter(item.nodeid for item in items).items() if n > 1]
    if dup:
        raise pytest.UsageError(f"test items share a node id: {dup[:3]}")
