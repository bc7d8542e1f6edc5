"""Issue 10 regressions in the archive reader: overlapping zip entries (defect 6) and
archives hidden after a picture (defect 7). Both went unnoticed on main before the
fix: the zip's 2,000 entries were each inflated in turn, the polyglot's archive was
never opened nor flagged."""

from __future__ import annotations

import io
import random
import struct
import tarfile
import zipfile
from pathlib import Path

import py7zr
import pytest

from tessera.demo.samples import synthetic_picture
from tessera.pipeline.archives import ArchiveLimits, iter_archive
from tessera.pipeline.expand import expand_path
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.polyglot import APPENDED_ARCHIVE, appended_archive

MIB = 1024 * 1024


def overlapping_zip(entries: int, member_bytes: int) -> bytes:
    """A zip whose central directory lists ``entries`` names all pointing at one member."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m", b"\0" * member_bytes)
    data = out.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    (cd_size, cd_offset) = struct.unpack_from("<II", data, eocd + 12)
    entry = data[cd_offset : cd_offset + cd_size]
    name_len = struct.unpack_from("<H", entry, 28)[0]
    assert name_len == 1
    directory = b"".join(
        entry[:28] + struct.pack("<H", len(n)) + entry[30:46] + n
        for n in (f"copy{i:04d}".encode() for i in range(entries))
    )
    end = bytearray(data[eocd : eocd + 22])
    struct.pack_into("<HHII", end, 8, entries, entries, len(directory), cd_offset)
    return data[:cd_offset] + directory + bytes(end)


def test_zip_with_overlapping_entries_is_refused_before_reading() -> None:
    bomb = overlapping_zip(2000, 4 * MIB)
    with zipfile.ZipFile(io.BytesIO(bomb)) as zf:  # Python's zipfile accepts it
        assert len(zf.infolist()) == 2000
    limits = ArchiveLimits(max_total_bytes=8 * MIB)
    members = list(iter_archive(bomb, "bomb.zip", limits))
    assert len(members) == 1
    (only,) = members
    assert only.path == "bomb.zip" and only.data is None and only.error is not None
    assert only.error.reason == "archive-bomb"
    assert "overlap" in only.error.message


def test_zip_entries_that_do_not_overlap_are_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for i in range(50):
            zf.writestr(f"f{i}.bin", bytes([i]) * (i + 1))
    members = list(iter_archive(out.getvalue(), "ok.zip"))
    assert [m.data for m in members] == [bytes([i]) * (i + 1) for i in range(50)]


def _picture(fmt: str, seed: int) -> bytes:
    buf = io.BytesIO()
    synthetic_picture(200, 150, seed).save(buf, fmt)
    return buf.getvalue()


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(name, data)
    return out.getvalue()


def _7z(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as sz:
        sz.writestr(data, name)
    return out.getvalue()


def _tgz(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("cover", ["JPEG", "PNG"])
@pytest.mark.parametrize("packer", [_zip, _7z, _tgz], ids=["zip", "7z", "tar.gz"])
def test_archive_appended_to_a_picture_is_flagged_and_opened(
    tmp_path: Path, cover: str, packer: object
) -> None:
    hidden = _picture("PNG", 2)
    polyglot = _picture(cover, 1) + packer("inner/hidden.png", hidden)  # type: ignore[operator]
    path = tmp_path / f"holiday.{cover.lower()}"
    path.write_bytes(polyglot)
    assert appended_archive(polyglot) is not None
    results = {r.path: r for r in expand_path(path, ExpandOptions())}
    picture = results[str(path)]
    assert picture.status == "ok" and picture.pdq is not None
    assert APPENDED_ARCHIVE in picture.flags
    member = results[f"{path}!/inner/hidden.png"]
    assert member.status == "ok" and member.pdq is not None
    assert member.size == len(hidden)
    # not opened when archives are not opened, but still flagged
    plain = expand_path(path, ExpandOptions(open_archives=False))
    assert [r.path for r in plain] == [str(path)] and APPENDED_ARCHIVE in plain[0].flags


@pytest.mark.parametrize("cover", ["JPEG", "PNG", "GIF"])
def test_plain_pictures_are_not_polyglots(cover: str) -> None:
    data = _picture(cover, 3)
    assert appended_archive(data) is None
    assert appended_archive(data + b"\0" * 100) is None


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_tar_with_a_large_incompressible_member_is_read(mode: str) -> None:
    """Found by the polyglot test: a compressed tar member larger than what one
    decompressor call returns was reported ``truncated`` (tarfile took the short read
    for the end of the data), so every photo over ~16 KB in a .tar.gz was lost."""
    payload = random.Random(7).randbytes(300_000)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:  # type: ignore[call-overload]
        info = tarfile.TarInfo("photos/big.bin")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    members = list(iter_archive(out.getvalue(), "seized.tar"))
    assert [(m.path, m.error) for m in members] == [("seized.tar!/photos/big.bin", None)]
    assert members[0].data == payload
