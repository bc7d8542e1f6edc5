"""The server's index writer saves a new generation only when it is due."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tessera.matching.index_keeper import IndexKeeper
from tessera.storage.db import Database
from tests.seeding import random_pdq, seed


def _generation(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["generation"])


def test_saves_after_enough_rows_or_time(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
    db.migrate()
    rng = random.Random(4)
    seed(db, [(b"k0", random_pdq(rng))])
    folder = tmp_path / "index"
    keeper = IndexKeeper(db, folder, min_rows=3, max_age=3600)
    keeper.open()  # built and saved before any worker starts
    first = _generation(folder)
    assert not keeper.step()  # nothing new
    seed(db, [(b"k1", random_pdq(rng)), (b"k2", random_pdq(rng))])
    assert not keeper.step() and _generation(folder) == first  # 2 < 3 rows, not old yet
    seed(db, [(b"k3", random_pdq(rng))])
    assert keeper.step() and _generation(folder) != first
    assert json.loads((folder / "manifest.json").read_text())["count"] == 4
    keeper.max_age = 0  # any new row is due once the age is reached
    seed(db, [(b"k4", random_pdq(rng))])
    assert keeper.step() and keeper.saves == 2
    db.dispose()
