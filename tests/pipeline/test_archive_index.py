"""Members of a zip or plain tar on disk reached by name (``archives.index``): each
comes back as the full read (``iter_archive``, the oracle) gives it, refusals and
``#2`` names included, without the archive being walked again."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from tessera.pipeline.archives import Member, iter_archive
from tessera.pipeline.archives import index as index_module
from tessera.pipeline.archives.index import archive_member, build_index, member_index
from tessera.pipeline.archives.limits import DEFAULT_LIMITS, ArchiveLimits
from tests.pipeline.test_archives import make_tar, make_zip

INNER = make_zip([("deep.png", b"deep" * 100), ("other.bin", b"o" * 500)])
MEMBERS = [
    ("a.png", b"first a"),
    ("a.png", b"second a, same name"),
    ("../evil.png", b"escapes"),
    ("big.bin", b"b" * 5_000),
    ("in/inner.zip", INNER),
    ("z.txt", b"last"),
]
LIMITS = ArchiveLimits(max_member_bytes=4_000)


def _seen(m: Member) -> tuple[object, ...]:
    """A member as compared (errors by kind, reason and message: not by identity)."""
    e = m.error
    return (m.path, m.data, m.size, m.mtime, e and (type(e), e.reason, e.message))


def _archive(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"a.{kind}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        path.write_bytes(make_zip(MEMBERS) if kind == "zip" else make_tar(MEMBERS))
    return path


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_every_member_comes_back_as_the_full_read_gives_it(tmp_path: Path, kind: str) -> None:
    path = _archive(tmp_path, kind)
    whole = {m.path: m for m in iter_archive(path, str(path), LIMITS)}
    assert f"{path}!/a.png#2" in whole and f"{path}!/in/inner.zip!/deep.png" in whole
    assert not whole[f"{path}!/big.bin"].ok and not whole[f"{path}!/../evil.png"].ok
    index = build_index(path, str(path), LIMITS)
    assert index is not None
    try:
        for label, member in whole.items():
            got = [_seen(m) for m in index.read([label]) if m.path == label]
            assert got == [_seen(member)], label
        together = [m.path for m in index.read(list(whole)) if m.path in whole]
        assert together == list(whole)  # archive order
        assert list(index.read([f"{path}!/gone.png"])) == []
        gone = f"{path}!/in/inner.zip!/gone.png"
        assert gone not in {m.path for m in index.read([gone])}
    finally:
        index.close()


def test_other_formats_and_a_zip_without_its_directory_have_no_index(tmp_path: Path) -> None:
    tgz = tmp_path / "a.tar.gz"
    tgz.write_bytes(make_tar([("x.png", b"x")], "w:gz"))
    plain = tmp_path / "x.png"
    plain.write_bytes(b"\x89PNG not really")
    cut = tmp_path / "cut.zip"
    whole = make_zip([("x.png", b"x" * 100)])
    cut.write_bytes(whole[: whole.rindex(b"PK\x01\x02")])
    for path in (tgz, plain, cut, tmp_path / "missing.zip"):
        assert build_index(path, str(path)) is None, path.name
        assert archive_member(path, str(path), f"{path}!/x.png") is None


def test_the_archive_is_walked_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _archive(tmp_path, "tar")
    built: list[str] = []
    real = index_module.build_index

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(index_module, "build_index", counted)
    first = archive_member(path, str(path), f"{path}!/a.png", DEFAULT_LIMITS)
    second = archive_member(path, str(path), f"{path}!/z.txt", DEFAULT_LIMITS)
    assert first is not None and first.data == b"first a"
    assert second is not None and second.data == b"last"
    assert built == [str(path)]
    path.write_bytes(make_tar([("a.png", b"replaced")]))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = archive_member(path, str(path), f"{path}!/a.png", DEFAULT_LIMITS)
    assert again is not None and again.data == b"replaced" and len(built) == 2
    assert member_index(path, str(path)) is not None and len(built) == 2
