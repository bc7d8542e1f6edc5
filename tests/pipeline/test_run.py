"""``tessera.pipeline.run``: how far the pool runs ahead of the one who consumes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tessera.pipeline import run as pipeline_run
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.pool import IN_FLIGHT_PER_WORKER
from tessera.pipeline.walk import iter_files


@pytest.mark.parametrize("ahead", [0, 64])
def test_run_found_keeps_ahead_more_files_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    """``ahead`` files beyond the pool's own window (8 a worker) are in flight, so a
    consumer deciding a chunk of results does not leave the workers idle; the real pool
    runs, only the window it is given is recorded."""
    for i in range(3):
        (tmp_path / f"f{i}.bin").write_bytes(b"not a picture %d" % i)
    windows: list[int | None] = []
    real = pipeline_run.map_ordered

    def recording(*args: Any, **kwargs: Any) -> Iterator[Any]:
        windows.append(kwargs.get("window"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_run, "map_ordered", recording)
    groups = list(
        pipeline_run.run_found(
            list(iter_files([tmp_path])), ExpandOptions(), workers=2, ahead=ahead
        )
    )
    assert windows == [2 * IN_FLIGHT_PER_WORKER + ahead]
    assert sorted(g.label for g in groups) == sorted(str(tmp_path / f"f{i}.bin") for i in range(3))
    assert all(r.status == "error" for g in groups for r in g.results)
