"""``expand_path`` on large archives: read from disk as their members are reached,
not into memory, with the same results as the in-memory read (``ARCHIVE_IN_MEMORY``).

Before, every top-level archive was read whole into a worker's memory first, so an
archive over the decode limits' ``max_bytes`` (512 MiB by default) was refused as
``too-many-bytes`` and none of its members was fingerprinted, and a worker held up to
that much beside the member it decoded."""

from __future__ import annotations

import gzip
import hashlib
import io
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import py7zr
import pytest

from tessera.media.decode import DecodeLimits
from tessera.pipeline import expand as expand_module
from tessera.pipeline.archives import ArchiveLimits
from tessera.pipeline.archives import index as index_module
from tessera.pipeline.archives import zip as zip_module
from tessera.pipeline.expand import expand_members, expand_path
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.result import FileResult
from tests.pipeline.test_archives import gradient_png, make_7z, make_tar, make_zip
from tests.pipeline.test_hostile_archives import overlapping_zip

MIB = 1024 * 1024


def _archives() -> dict[str, bytes]:
    pictures = [(f"p{k}.png", gradient_png(64 + 8 * k, 48)) for k in range(3)]
    inner = make_zip([*pictures, ("dup.png", gradient_png(40, 40))])
    nested = make_zip(
        [("in/inner.zip", inner), ("dup.png", gradient_png(32, 32)), ("dup.png", b"x" * 99)]
    )
    whole = make_zip(pictures)
    truncated = whole[: whole.rindex(b"PK\x01\x02")]  # central directory cut off
    bomb = make_zip([("zeros.bin", b"\0" * (3 * MIB)), *pictures])  # ratio > 200: refused
    sevenz = io.BytesIO()
    with py7zr.SevenZipFile(sevenz, "w") as sz:
        sz.writestr(make_tar(pictures), "t.tar")
    return {
        "nested.zip": nested,
        "truncated.zip": truncated,
        "bomb.zip": bomb,
        "overlap.zip": overlapping_zip(50, 1024),
        "a.tgz": make_tar(pictures, "w:gz"),
        "a.7z": make_7z(pictures),
        "tar-in.7z": sevenz.getvalue(),
        "p0.png.gz": gzip.compress(pictures[0][1]),
        "damaged.tgz": make_tar(pictures, "w:gz")[:-40],
    }


@pytest.mark.parametrize("name", sorted(_archives()))
def test_an_archive_read_from_disk_gives_what_its_bytes_give(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every member, error and digest the same, archive by archive (nested,
    duplicated names, damaged, bombs, every format)."""
    path = tmp_path / name
    path.write_bytes(_archives()[name])
    in_memory = expand_path(path, ExpandOptions())
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)
    assert expand_path(path, ExpandOptions()) == in_memory
    assert len(in_memory) > 1 or in_memory[0].status == "error"


def test_an_archive_over_the_decode_limit_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive larger than ``max_bytes``: its members are fingerprinted and the
    archive's own digests are the file's; a plain file that large is still refused."""
    path = tmp_path / "big.zip"
    pictures = [(f"p{k}.png", gradient_png(64 + 8 * k, 48)) for k in range(4)]
    path.write_bytes(make_zip(pictures, zipfile.ZIP_STORED))
    largest = max(len(data) for _, data in pictures)
    assert path.stat().st_size > 2 * largest
    small = ExpandOptions(hash=HashOptions(limits=DecodeLimits(max_bytes=largest)))
    (before,) = [r for r in expand_path(path, small) if r.path == str(path)]
    assert before.reason == "too-many-bytes"  # in memory: the archive itself refused
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", largest)
    results = {r.path: r for r in expand_path(path, small)}
    own = results.pop(str(path))
    assert own.status == "ok" and own.flags == ("archive",) and own.format == "zip"
    assert own.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert own.size == path.stat().st_size
    assert sorted(results) == [f"{path}!/p{k}.png" for k in range(4)]
    assert all(r.status == "ok" and r.width and r.sha256 for r in results.values())
    plain = tmp_path / "plain.png"
    plain.write_bytes(gradient_png(400, 300))
    assert plain.stat().st_size > largest
    (refused,) = expand_path(plain, small)
    assert refused.status == "error" and refused.reason == "too-many-bytes"


def test_a_large_archive_is_not_held_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Expanding a 16 MiB archive of 1 MiB members allocates about one member at a
    time (traced allocations), where the in-memory read holds the whole archive."""
    rng = np.random.default_rng(0)
    members = [(f"m{k}.bin", rng.bytes(MIB)) for k in range(16)]
    for name, data in (
        ("a.zip", make_zip(members, zipfile.ZIP_STORED)),
        ("a.tar", make_tar(members)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        peaks = {}
        for limit in (64 * MIB, MIB):
            monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", limit)
            tracemalloc.start()
            try:
                results = expand_path(path, ExpandOptions())
                peaks[limit] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert len(results) == 17, name
        assert peaks[64 * MIB] > 16 * MIB, (name, peaks)  # the whole archive: measurable
        assert peaks[MIB] < 8 * MIB, (name, peaks)


def test_the_archive_limits_still_bound_an_archive_read_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree's total applies as it does in memory: members past it are refused
    from their declared sizes, the ones before it read."""
    path = tmp_path / "a.tar"
    path.write_bytes(make_tar([(f"m{k}.bin", bytes(300_000)) for k in range(4)]))
    options = ExpandOptions(archives=ArchiveLimits(max_total_bytes=700_000))
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)
    reasons = {r.path: r.reason for r in expand_path(path, options)}
    assert reasons == {
        f"{path}!/m0.bin": "unsupported-format",  # read (not a picture)
        f"{path}!/m1.bin": "unsupported-format",
        f"{path}!/m2.bin": "archive-bomb",  # refused: past the total
        f"{path}!/m3.bin": "archive-bomb",
        str(path): None,
    }


def test_expand_members_fingerprints_only_the_members_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leads stage's read of some members again: the same results as the whole
    archive's for them, no others fingerprinted, and in a zip or plain tar no others
    read (the real reads and fingerprints, counted)."""
    pictures = [(f"p{k}.png", gradient_png(64 + 8 * k, 48)) for k in range(4)]
    inner = make_zip(pictures[:2])
    archives = {
        "a.zip": make_zip([*pictures, ("in/inner.zip", inner)]),
        "a.tar": make_tar([*pictures, ("in/inner.zip", inner)]),
        "a.tgz": make_tar([*pictures, ("in/inner.zip", inner)], "w:gz"),
    }
    fingerprinted: list[str] = []
    decompressed: list[int] = []
    real_hash, real_read = expand_module.hash_bytes, zip_module.read_member

    def hashed(data: bytes, label: str, options: HashOptions) -> FileResult:
        fingerprinted.append(label)
        return real_hash(data, label, options)

    def read(*args: Any, **kwargs: Any) -> bytes:
        data = real_read(*args, **kwargs)
        decompressed.append(len(data))
        return data

    for name, data in archives.items():
        path = tmp_path / name
        path.write_bytes(data)
        whole = {r.path: r for r in expand_path(path, ExpandOptions())}
        wanted = [f"{path}!/p2.png", f"{path}!/in/inner.zip!/p1.png", f"{path}!/gone.png"]
        monkeypatch.setattr(expand_module, "hash_bytes", hashed)
        monkeypatch.setattr(zip_module, "read_member", read)
        monkeypatch.setattr(index_module, "read_member", read)
        fingerprinted.clear()
        decompressed.clear()
        got = list(expand_members(path, wanted, ExpandOptions()))
        assert got == [whole[w] for w in wanted[:2]], name
        assert fingerprinted == wanted[:2], name
        if name != "a.tgz":  # p2, the inner zip, its p1: nothing else
            assert sorted(decompressed) == sorted(
                [len(pictures[2][1]), len(inner), len(pictures[1][1])]
            ), name
        fingerprinted.clear()
        (own,) = expand_members(path, [str(path)], ExpandOptions())
        assert fingerprinted == [] and own.flags == ("archive",)  # its digests alone
        assert own.sha256 == hashlib.sha256(data).hexdigest() == whole[str(path)].sha256
        monkeypatch.undo()
    plain = tmp_path / "plain.png"
    plain.write_bytes(gradient_png(50, 50))
    assert list(expand_members(plain, [str(plain)], ExpandOptions())) == expand_path(
        plain, ExpandOptions()
    )
