"""``tessera.pipeline.pool``: input order on many cores, and surviving worker crashes."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.pipeline.fingerprint import hash_file
from tessera.pipeline.options import HashOptions
from tessera.pipeline.pool import map_ordered
from tessera.pipeline.result import FileResult
from tessera.pipeline.run import crashed


def hash_files(
    paths: Iterable[Path], options: HashOptions, *, workers: int, in_flight_per_worker: int = 8
) -> Iterator[FileResult]:
    """One ``FileResult`` per path, in order, on ``workers`` processes."""
    work = partial(hash_file, options=options)
    window = workers * in_flight_per_worker
    return map_ordered(work, paths, workers=workers, on_crash=_one_crash, window=window)


def _one_crash(path: Path) -> FileResult:
    return crashed(path)[0]


def crashy(path: Path) -> FileResult:
    """Worker function for the crash tests: dies hard on any file whose name has "crash".

    Module level so that forkserver workers can import it by reference.
    """
    if "crash" in Path(path).name:
        os._exit(1)  # no cleanup, no exception: what a native decoder crash looks like
    return FileResult(path=str(path), status="ok", size=len(str(path)))


def _png(seed: int, size: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def twenty_files(tmp_path: Path) -> list[Path]:
    """20 files of very different cost (large and small images, bad files), in a fixed order."""
    paths = []
    for i in range(20):
        p = tmp_path / f"f{19 - i:02d}.bin"  # input order is not name order
        if i % 5 == 0:
            p.write_bytes(b"not an image %d" % i)
        elif i % 3 == 0:
            p.write_bytes(_png(i, 384))
        else:
            p.write_bytes(_png(i, 16))
        paths.append(p)
    return paths


def test_hash_files_two_workers_keeps_input_order(twenty_files: list[Path]) -> None:
    """With 2 workers and a small window, results come back one per path, in input order."""
    results = list(hash_files(twenty_files, HashOptions(), workers=2, in_flight_per_worker=2))
    assert [r.path for r in results] == [str(p) for p in twenty_files]
    for p, r in zip(twenty_files, results, strict=True):
        assert r.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
        expected = "error" if p.read_bytes().startswith(b"not an image") else "ok"
        assert r.status == expected, r


def test_hash_files_two_workers_equals_in_process(twenty_files: list[Path]) -> None:
    """The pool gives exactly the results of the in-process (``workers=1``) path."""
    solo = list(hash_files(twenty_files, HashOptions(), workers=1))
    pooled = list(hash_files(twenty_files, HashOptions(), workers=2))
    assert pooled == solo


def test_hash_files_accepts_a_lazy_iterable(twenty_files: list[Path]) -> None:
    """Paths may come from a generator (a walk of millions of files is never listed first)."""
    results = list(hash_files((p for p in twenty_files[:6]), HashOptions(), workers=2))
    assert [r.path for r in results] == [str(p) for p in twenty_files[:6]]


def test_hash_files_empty_input() -> None:
    """No paths, no results, for the pool and the in-process path alike."""
    assert list(hash_files([], HashOptions(), workers=2)) == []
    assert list(hash_files([], HashOptions(), workers=1)) == []


@pytest.mark.parametrize(
    "crash_at",
    [(5,), (0,), (11,), (3, 4)],
    ids=["middle", "first", "last", "two-adjacent"],
)
def test_worker_crash_is_reported_for_its_file_only(
    tmp_path: Path, crash_at: tuple[int, ...]
) -> None:
    """A file that kills its worker gets ``worker-crashed``; the others are ok, in input order."""
    paths = [
        tmp_path / (f"{i:02d}-crash.bin" if i in crash_at else f"{i:02d}.bin") for i in range(12)
    ]
    results = list(map_ordered(crashy, paths, workers=2, window=4, on_crash=_one_crash))
    assert [r.path for r in results] == [str(p) for p in paths]
    for i, r in enumerate(results):
        if i in crash_at:
            assert (r.status, r.reason) == ("error", "worker-crashed")
            assert r.message
        else:
            assert (r.status, r.reason) == ("ok", None)
            assert r.size == len(str(paths[i]))


def test_default_workers_respect_the_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10 item 3: never more workers than memory for 2 GB each (at least one)."""
    from tessera.pipeline import pool as parallel

    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(parallel, "available_memory", lambda: 3 * parallel.WORKER_MEMORY + 1)
    assert parallel.default_workers() == min(cores, 3)
    monkeypatch.setattr(parallel, "available_memory", lambda: parallel.WORKER_MEMORY // 2)
    assert parallel.default_workers() == 1
    monkeypatch.setattr(parallel, "available_memory", lambda: None)
    assert parallel.default_workers() == cores


def test_available_memory_reads_this_machine() -> None:
    from tessera.pipeline.pool import available_memory

    mem = available_memory()
    assert mem is not None and mem > 0


def test_the_pool_takes_window_items_ahead_of_its_consumer(tmp_path: Path) -> None:
    """At most ``window`` items are drawn from the input before the consumer has taken
    one result: what lets a consumer that stops on a batch keep the workers busy."""
    drawn: list[int] = []

    def items() -> Iterator[Path]:
        for i in range(40):
            drawn.append(i)
            yield tmp_path / f"f{i}"

    for window in (4, 12):
        drawn.clear()
        results = map_ordered(crashy, items(), workers=2, window=window, on_crash=_one_crash)
        first = next(results)
        assert first.path == str(tmp_path / "f0")
        assert len(drawn) == window  # filled to the window, not beyond
        rest = list(results)
        assert len(rest) == 39 and len(drawn) == 40
