"""Reading a file again by its result's label (``tessera.pipeline.reread``): only the
same content, only from disk; anything else gives None and the caller keeps what it
found."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tessera.pipeline import reread as reread_module
from tessera.pipeline.archives import index as index_module
from tessera.pipeline.archives import limits as archive_limits
from tessera.pipeline.archives import tar as tar_module
from tessera.pipeline.archives import zip as zip_module
from tessera.pipeline.expand import expand_path
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.reread import reread
from tessera.pipeline.result import FileResult

FULL = HashOptions(pdq=False, features=True, features_compact=False)


def _png(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (31, 41, 3)).astype(np.uint8)
    rgb = np.kron(blocks, np.ones((12, 12, 1), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_the_same_file_is_read_again_with_other_options(tmp_path: Path) -> None:
    path = tmp_path / "odd name \u00e9.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions(copy_features=True))
    again = reread(first, FULL)
    assert again is not None and again.path == first.path and again.sha256 == first.sha256
    assert again.features is not None and again.pdq is None  # the new options, not the old


def test_a_file_changed_since_or_gone_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions())
    path.write_bytes(_png(2))  # another picture (it could be a hostile one) under the name

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("changed content was decoded")

    monkeypatch.setattr(reread_module, "hash_bytes", never)
    assert reread(first, FULL) is None  # told by its SHA-256, before any decoding
    path.unlink()
    assert reread(first, FULL) is None


def _members(archive: Path, options: ExpandOptions | None = None) -> dict[str, FileResult]:
    """The first pass's results for ``archive``'s members, by label."""
    results = expand_path(archive, options or ExpandOptions())
    return {r.path: r for r in results if r.path != str(archive)}


def _zip(path: Path, members: list[tuple[str, bytes]], stored: bool = False) -> None:
    kind = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", kind) as z:
        for name, data in members:
            z.writestr(name, data)


def _tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _pack(path: Path, members: list[tuple[str, bytes]]) -> None:
    if path.suffix == ".tar":
        _tar(path, members)
    else:
        with pytest.warns(UserWarning, match="Duplicate name"):
            _zip(path, members)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_member_is_read_again_nested_and_duplicated(tmp_path: Path, kind: str) -> None:
    """Members of a zip or plain tar on disk, one inside a zip inside it, and the
    second of two members with one name (``#2``), in a folder whose name holds ``!``."""
    folder = tmp_path / "case!"
    folder.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep.png", _png(5))
    archive = folder / f"a.{kind}"
    _pack(archive, [("x.png", _png(3)), ("x.png", _png(4)), ("in/inner.zip", inner.getvalue())])
    members = _members(archive)
    wanted = {
        f"{archive}!/x.png": _png(3),
        f"{archive}!/x.png#2": _png(4),
        f"{archive}!/in/inner.zip!/deep.png": _png(5),
    }
    assert set(members) == set(wanted)
    for label, data in wanted.items():
        again = reread(members[label], FULL)
        assert again is not None and again.path == label, label
        assert again.sha256 == hashlib.sha256(data).hexdigest() and again.features is not None


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_member_is_read_without_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Only the members on the way to the one asked for are read (the real reads,
    counted): the outer archive's other members and the inner zip's are not."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("skipped.bin", b"s" * 50_000)
        z.writestr("deep.png", _png(6))
    archive = tmp_path / f"a.{kind}"
    noise = [(f"noise-{k}.bin", np.random.default_rng(k).bytes(300_000)) for k in range(3)]
    (_zip if kind == "zip" else _tar)(
        archive, [*noise, ("inner.zip", inner.getvalue()), ("last.png", _png(7))]
    )
    members = _members(archive)
    read: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        data = archive_limits.read_member(*args, **kwargs)
        read.append(len(data))
        return data

    monkeypatch.setattr(zip_module, "read_member", counted)
    monkeypatch.setattr(index_module, "read_member", counted)
    monkeypatch.setattr(tar_module, "read_member", counted)
    again = reread(members[f"{archive}!/last.png"], FULL)
    assert again is not None and read == [len(_png(7))]
    read.clear()
    again = reread(members[f"{archive}!/inner.zip!/deep.png"], FULL)
    assert again is not None and read == [len(inner.getvalue()), len(_png(6))]


def _tgz(path: Path, members: list[tuple[str, bytes]], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("suffix", ["tar.gz", "tar.xz", "zip-without-directory"])
def test_a_member_of_a_small_archive_without_direct_access_is_read_again(
    tmp_path: Path, suffix: str
) -> None:
    """A compressed tar, or a zip whose central directory is gone, reaches a member
    only by reading the archive again up to it: done for an archive the first pass read
    whole (``WALK_AGAIN``), nested and ``#2`` members included."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep.png", _png(5))
    members = [("x.png", _png(3)), ("x.png", _png(4)), ("in/inner.zip", inner.getvalue())]
    archive = tmp_path / f"a.{suffix}"
    if suffix.startswith("tar"):
        _tgz(archive, members, "w:" + suffix.split(".")[1])
    else:
        with pytest.warns(UserWarning, match="Duplicate name"):
            _zip(archive, members)
        whole = archive.read_bytes()
        archive.write_bytes(whole[: whole.index(b"PK\x01\x02")])  # central directory cut off
    found = _members(archive)
    wanted = {
        f"{archive}!/x.png": _png(3),
        f"{archive}!/x.png#2": _png(4),
        f"{archive}!/in/inner.zip!/deep.png": _png(5),
    }
    assert {label: found[label].sha256 for label in wanted} == {
        label: hashlib.sha256(data).hexdigest() for label, data in wanted.items()
    }
    for label, data in wanted.items():
        again = reread(found[label], FULL)
        assert again is not None and again.path == label, label
        assert again.sha256 == hashlib.sha256(data).hexdigest() and again.features is not None


def test_members_out_of_reach_or_changed_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member of a tar.gz or of a zip without its central directory, over
    ``WALK_AGAIN`` (it would be decompressed again up to the member for each copy to
    confirm), a zip changed since, a tar.gz changed since: None, and the caller keeps
    what it found."""
    tgz = tmp_path / "a.tar.gz"
    _tgz(tgz, [("x.png", _png(7))])
    (member,) = _members(tgz).values()
    assert member.status == "ok" and reread(member, FULL) is not None
    monkeypatch.setattr(reread_module, "WALK_AGAIN", tgz.stat().st_size - 1)
    assert reread(member, FULL) is None

    archive = tmp_path / "a.zip"
    _zip(archive, [("x.png", _png(8)), ("y.png", _png(9))])
    member = _members(archive)[f"{archive}!/x.png"]
    assert reread(member, FULL) is not None
    whole = archive.read_bytes()
    archive.write_bytes(whole[: whole.rindex(b"PK\x01\x02")])  # central directory cut off
    assert _members(archive)[f"{archive}!/x.png"].sha256 == member.sha256  # a walk reads it
    assert reread(member, FULL) is None  # over WALK_AGAIN
    monkeypatch.setattr(reread_module, "WALK_AGAIN", archive.stat().st_size)
    assert reread(member, FULL) is not None
    _zip(archive, [("x.png", _png(10))])
    assert reread(member, FULL) is None
    _tgz(tgz, [("x.png", _png(11))])
    (member,) = _members(tgz).values()
    _tgz(tgz, [("x.png", _png(12))])
    assert reread(member, FULL) is None


def test_a_result_without_digests_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(_png(1))
    first = hash_bytes(path.read_bytes(), str(path), HashOptions())
    assert reread(replace(first, sha256=None), FULL) is None
