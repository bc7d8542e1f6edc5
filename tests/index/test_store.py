"""Saved indexes: round trip, caller state, atomic replacement, corruption detected.

A damaged index must fail loudly (``IndexCorrupt``), never answer "not seen
before" for a stored hash. Each test damages one thing: a byte of an array, a
file, the manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tessera.errors import TesseraError
from tessera.index import IndexCorrupt, PdqIndex, brute_force_search
from tessera.index import store as store_module
from tests.index.gen import planted

N = 4_000


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return planted(np.random.default_rng(21), N, 50, [0, 3, 31, 32, *range(40)])


@pytest.fixture
def saved(tmp_path: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Path:
    codes, ids, _ = data
    path = tmp_path / "pdq-index"
    PdqIndex.build(codes, ids).save(path, state="fingerprint row 4000")
    return path


def manifest(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((path / "manifest.json").read_text())
    return loaded


def array_file(path: Path, name: str) -> Path:
    return path / str(manifest(path)["files"][name]["file"])


def test_round_trip(saved: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    codes, ids, queries = data
    for mmap in (True, False):
        index = PdqIndex.load(saved, mmap=mmap)
        assert index.state == "fingerprint row 4000"
        assert len(index) == N
        for radius in (0, 31, 32):
            expect = brute_force_search(codes, ids, queries, radius)
            assert index.search(queries, radius, strategy="probe") == expect


def test_resident_copy_answers_the_same_from_its_own_memory(
    saved: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    codes, ids, queries = data
    mapped = PdqIndex.load(saved, mmap=True)
    mapped.add(queries[:5], np.arange(5, dtype=np.int64) + 10**9)  # a delta travels too
    mapped.remove(ids[:7])  # and tombstones
    resident = mapped.resident()
    for mine, theirs in (
        (resident._words, mapped._words),
        (resident._tables.perm, mapped._tables.perm),
        (resident._tables.offsets, mapped._tables.offsets),
        (resident._ids, mapped._ids),
    ):
        assert not isinstance(mine.base, np.memmap) and not np.shares_memory(mine, theirs)
    kept = ~np.isin(ids, ids[:7])
    all_codes = np.concatenate([codes[kept], queries[:5]])
    all_ids = np.concatenate([ids[kept], np.arange(5, dtype=np.int64) + 10**9])
    assert len(resident) == len(mapped) == all_ids.shape[0]
    for radius in (0, 31, 32):
        expect = brute_force_search(all_codes, all_ids, queries, radius)
        assert resident.search(queries, radius, strategy="probe") == expect
    mapped.add(queries[5:6], np.array([7], dtype=np.int64))  # copies are independent
    assert len(resident) == len(mapped) - 1


def test_manifest_describes_the_index(saved: Path) -> None:
    m = manifest(saved)
    assert m["format"] == "tessera.pdq-index"
    assert m["version"] == 1
    assert m["count"] == N
    assert m["state"] == "fingerprint row 4000"
    assert set(m["files"]) == {"codes", "ids", "perm", "offsets"}
    # the stored codes are the hash bytes, row by row
    assert np.load(array_file(saved, "codes")).shape == (N, 32)
    assert sorted(p.name for p in saved.iterdir()) == sorted(
        ["manifest.json", *(f["file"] for f in m["files"].values())]
    )


def test_resave_replaces_old_generation(
    saved: Path,
) -> None:
    index = PdqIndex.load(saved)
    old_files = {f["file"] for f in manifest(saved)["files"].values()}
    fresh = np.random.default_rng(0).integers(0, 256, size=(2, 32), dtype=np.uint8)
    index.add(fresh, np.array([-1, -2], dtype=np.int64))
    index.save(saved, state="row 4002")  # over the files it is mapped from
    new = manifest(saved)
    assert not old_files & {f["file"] for f in new["files"].values()}
    assert all(not (saved / f).exists() for f in old_files)
    again = PdqIndex.load(saved)
    assert again.state == "row 4002"
    assert len(again) == N + 2
    assert again.search_one(fresh[0], 0) == [(-1, 0)]


def test_interrupted_save_leaves_old_index(
    saved: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash before the manifest swap keeps the previous index loadable and unchanged."""
    codes, ids, queries = data
    index = PdqIndex.load(saved)
    index.add(queries[:5], np.arange(5, dtype=np.int64) - 100)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        index.save(saved, state="never written")
    monkeypatch.undo()
    old = PdqIndex.load(saved)
    assert old.state == "fingerprint row 4000"
    assert len(old) == N
    assert old.search(queries) == brute_force_search(codes, ids, queries, 31)
    # the next successful save cleans up the orphaned files
    index.save(saved, state="ok")
    names = {f["file"] for f in manifest(saved)["files"].values()} | {"manifest.json"}
    assert {p.name for p in saved.iterdir()} == names


def test_save_leaves_other_files_alone(tmp_path: Path) -> None:
    """Only files this index wrote are ever deleted from the directory."""
    mine = tmp_path / "shared-dir"
    mine.mkdir()
    np.save(mine / "evidence.npy", np.arange(3))
    (mine / "notes.txt").write_text("keep me")
    (mine / "codes-backup.npy").write_bytes(b"x")
    index = PdqIndex.build(np.zeros((3, 32), np.uint8), np.arange(3, dtype=np.int64))
    index.save(mine)
    index.save(mine)
    names = {p.name for p in mine.iterdir()}
    assert {"evidence.npy", "notes.txt", "codes-backup.npy", "manifest.json"} <= names
    assert len(names) == 4 + 4  # and exactly one generation of the index's own arrays


def flip_byte(where: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        name, part = where.split(":")
        f = array_file(path, name)
        raw = bytearray(f.read_bytes())
        pos = {"header": 20, "data": len(raw) - 7, "middle": len(raw) // 2}[part]
        raw[pos] ^= 0x10
        f.write_bytes(bytes(raw))

    return damage


def truncate(name: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        f = array_file(path, name)
        f.write_bytes(f.read_bytes()[:-64])

    return damage


def delete(name: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        if name == "manifest":
            (path / "manifest.json").unlink()
        else:
            array_file(path, name).unlink()

    return damage


def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        m = manifest(path)
        change(m)
        (path / "manifest.json").write_text(json.dumps(m))

    return damage


def _set(d: dict[str, Any], keys: str, value: object) -> None:
    *head, last = keys.split(".")
    for k in head:
        d = d[k]
    d[last] = value


DAMAGE = {
    "codes byte": flip_byte("codes:data"),
    "ids byte": flip_byte("ids:middle"),
    "perm byte": flip_byte("perm:middle"),
    "offsets byte": flip_byte("offsets:data"),
    "npy header byte": flip_byte("perm:header"),
    "truncated perm": truncate("perm"),
    "deleted offsets": delete("offsets"),
    "deleted codes": delete("codes"),
    "deleted manifest": delete("manifest"),
    "manifest garbage": lambda p: (p / "manifest.json").write_text("{not json"),
    "manifest not utf8": lambda p: (p / "manifest.json").write_bytes(b"\xff\xfe\x00"),
    "manifest list": lambda p: (p / "manifest.json").write_text("[1, 2]"),
    "wrong format": edit(lambda m: _set(m, "format", "faiss")),
    "future version": edit(lambda m: _set(m, "version", 2)),
    "count changed": edit(lambda m: _set(m, "count", N - 1)),
    "count negative": edit(lambda m: _set(m, "count", -1)),
    "count string": edit(lambda m: _set(m, "count", "4000")),
    "chunks changed": edit(lambda m: _set(m, "chunks", [[0, 16]] * 3)),
    "chunks overlap": edit(lambda m: _set(m, "chunks", [[0, 16], [8, 16]])),
    "chunks garbage": edit(lambda m: _set(m, "chunks", "16x16")),
    "chunks empty": edit(lambda m: _set(m, "chunks", [])),
    "sha changed": edit(lambda m: _set(m, "files.ids.sha256", "0" * 64)),
    "shape changed": edit(lambda m: _set(m, "files.ids.shape", [N + 1])),
    "dtype changed": edit(lambda m: _set(m, "files.perm.dtype", "<u8")),
    "file swapped": edit(lambda m: _set(m, "files.ids.file", m["files"]["codes"]["file"])),
    "path escape": edit(lambda m: _set(m, "files.ids.file", "../ids.npy")),
    "array missing": edit(lambda m: m["files"].pop("offsets")),
    "array extra": edit(lambda m: _set(m, "files.extra", m["files"]["ids"])),
    "files not a table": edit(lambda m: _set(m, "files", [])),
    "state not text": edit(lambda m: _set(m, "state", 7)),
}


@pytest.mark.parametrize("damage", list(DAMAGE.values()), ids=list(DAMAGE))
def test_damage_raises_index_corrupt(saved: Path, damage: Callable[[Path], None]) -> None:
    damage(saved)
    with pytest.raises(IndexCorrupt) as info:
        PdqIndex.load(saved)
    assert info.value.reason == "index-corrupt"
    assert isinstance(info.value, TesseraError)


def test_forged_but_consistent_offsets_are_caught(saved: Path) -> None:
    """Structural checks catch bad tables even when the checksums were recomputed."""
    f = array_file(saved, "offsets")
    arr = np.load(f)
    arr[5] = arr[6] + 1  # offsets must never decrease
    np.save(f, arr, allow_pickle=False)
    m = manifest(saved)
    m["files"]["offsets"]["sha256"] = store_module.sha256_file(f)
    (saved / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexCorrupt, match="offsets"):
        PdqIndex.load(saved)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt, match="no index"):
        PdqIndex.load(tmp_path / "absent")


def test_pickled_array_is_refused(saved: Path) -> None:
    """An object array (which would need pickle) is never loaded."""
    f = array_file(saved, "ids")
    np.save(f, np.array([object()] * N, dtype=object), allow_pickle=True)
    m = manifest(saved)
    m["files"]["ids"]["sha256"] = store_module.sha256_file(f)
    (saved / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IndexCorrupt):
        PdqIndex.load(saved)
    with pytest.raises(IndexCorrupt):
        PdqIndex.load(saved, verify=False)


def test_empty_index_round_trip(tmp_path: Path) -> None:
    index = PdqIndex.build(np.zeros((0, 32), np.uint8), np.zeros(0, np.int64))
    index.save(tmp_path / "e", state="empty")
    loaded = PdqIndex.load(tmp_path / "e")
    assert len(loaded) == 0
    assert loaded.state == "empty"
    assert len(loaded.search(np.zeros((2, 32), np.uint8), 256)) == 0
