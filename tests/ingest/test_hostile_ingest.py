"""Issue 10 regressions in ingest: damaged top-level archives, undecodable file names,
non-media files. Each of these stopped ingest (exit 70, batch lost) or stored a README
as media of the series on the main branch before the fix."""

from __future__ import annotations

import io
import lzma
import os
import sqlite3
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import py7zr
import pytest

from tessera.demo.samples import synthetic_picture
from tessera.ingest.runner import ingest
from tessera.matching.pdq_store import PdqStore
from tessera.pipeline.label import parse_label
from tessera.storage import repo
from tessera.storage.db import Database


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    synthetic_picture(160, 120, seed).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _tar(members: dict[str, bytes], **pax: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = dict(pax)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _7z(members: dict[str, bytes], **kwargs: object) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", **kwargs) as sz:  # type: ignore[arg-type]
        for name, data in members.items():
            sz.writestr(data, name)
    return out.getvalue()


def _gz(data: bytes) -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    return co.compress(data) + co.flush()


def _xz_huge_dictionary() -> bytes:
    """An xz stream whose block header asks for a 4 GiB dictionary (over the 1 GiB cap)."""
    data = bytearray(lzma.compress(_jpeg(9), format=lzma.FORMAT_XZ))
    assert data[12] == 0x02 and data[14] == 0x21  # 12-byte block header, LZMA2 filter
    data[16] = 40  # dictionary size 4 GiB - 1
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[12:20])))
    return bytes(data)


def _zip_bad_utf8_name() -> bytes:
    """A zip whose member name claims UTF-8 (flag bit 11) but is not UTF-8."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        info = zipfile.ZipInfo("QQQQ.jpg")
        info.flag_bits |= 0x800
        zf.writestr(info, _jpeg(3))
    return out.getvalue().replace(b"QQQQ", b"\xff\xfe\xfd\xfc")


DAMAGED: dict[str, Callable[[], bytes]] = {
    "truncated.zip": lambda: _zip({"a.jpg": _jpeg(1), "b.jpg": _jpeg(2)})[:-30],
    "truncated.7z": lambda: _7z({"a.jpg": _jpeg(1), "b.jpg": _jpeg(2)})[:-40],
    "truncated.tar": lambda: _tar({"a.jpg": _jpeg(1), "b.jpg": _jpeg(2)})[:2600],
    "truncated.jpg.gz": lambda: _gz(_jpeg(1))[:-100],
    "encrypted-headers.7z": lambda: _7z(
        {"a.jpg": _jpeg(1)}, password="secret", header_encryption=True
    ),
    "huge-pax-size.tar": lambda: _tar({"a.jpg": _jpeg(1)}, size="99999999999999"),
    "huge-dictionary.jpg.xz": _xz_huge_dictionary,
    "bad-utf8-name.zip": _zip_bad_utf8_name,
}


@pytest.fixture
def home(tmp_path: Path) -> tuple[Database, PdqStore]:
    db = Database(f"sqlite:///{tmp_path / 'tessera.sqlite'}")
    db.migrate()
    with db.session() as s:
        agency = repo.create_agency(s, "XX", "NL", "unit", None)
        repo.create_series(s, "S", agency)
    return db, PdqStore(db, tmp_path / "index")


def _items(db: Database) -> dict[str, tuple[str, str | None]]:
    con = sqlite3.connect(db.url.split("///", 1)[1])
    try:
        rows = con.execute("SELECT path, status, reason FROM ingest_item").fetchall()
    finally:
        con.close()
    return {p: (st, r) for p, st, r in rows}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_top_level_archive_is_one_error_and_reruns_work(
    tmp_path: Path, home: tuple[Database, PdqStore], name: str
) -> None:
    db, store = home
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / name).write_bytes(DAMAGED[name]())
    (evidence / "z-good.jpg").write_bytes(_jpeg(42))
    for case in ("C1", "C1", "C2"):  # first run, a finished re-run, another case
        summary = ingest(db, store, evidence, agency_code="XX", case_number=case, batch_size=64)
        items = _items(db)
        archive = str(evidence / name)
        status, reason = items[archive]
        # the archive keeps its exact digests (a media row) and states what is wrong
        assert status in ("error", "new", "known"), items
        if status == "error":
            assert reason, items
        assert items[str(evidence / "z-good.jpg")][0] in ("new", "known")
        assert summary.files >= 2
    failed = {p["path"] for p in summary.problems}
    assert all(p in items for p in failed)


def test_damaged_archive_reports_its_own_error_beside_its_digests(
    tmp_path: Path, home: tuple[Database, PdqStore]
) -> None:
    db, store = home
    archive = tmp_path / "truncated.zip"
    archive.write_bytes(DAMAGED["truncated.zip"]())
    summary = ingest(db, store, archive, agency_code="XX", case_number="C")
    items = _items(db)
    assert items[str(archive)] == ("error", "truncated")
    assert summary.errors == {"truncated": 1}
    assert summary.new_media == 2  # both members were recovered from their local headers
    assert [p["path"] for p in summary.problems] == [str(archive)]


def test_undecodable_file_names_are_stored_escaped_and_nothing_is_lost(
    tmp_path: Path, home: tuple[Database, PdqStore]
) -> None:
    db, store = home
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    raw = os.fsencode(evidence) + b"/bad\xff\xfe name\x1b[31m.jpg"
    with open(raw, "wb") as fh:
        fh.write(_jpeg(5))
    for i in range(5):
        (evidence / f"good{i}.jpg").write_bytes(_jpeg(10 + i))
    summary = ingest(db, store, evidence, agency_code="XX", case_number="C", batch_size=256)
    assert summary.new_media == 6 and not summary.errors
    items = _items(db)
    label = str(evidence) + "/bad\\xff\\xfe name\\x1b[31m.jpg"
    assert items[label] == ("new", None)
    assert os.fsencode(parse_label(label)) == raw  # lossless: the exact bytes come back
    for path in items:
        path.encode("utf-8")  # no lone surrogates, storable and printable anywhere


def test_readme_and_checksum_files_are_skipped_not_media_of_the_series(
    tmp_path: Path, home: tuple[Database, PdqStore]
) -> None:
    db, store = home
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "README.txt").write_text("Seized from a laptop, see the report.\n")
    (evidence / "SHA256SUMS").write_text("0" * 64 + "  a.jpg\n")
    (evidence / "a.jpg").write_bytes(_jpeg(7))
    summary = ingest(
        db, store, evidence, agency_code="XX", case_number="C", series_name="S", batch_size=8
    )
    assert summary.new_media == 1 and summary.skipped == 2 and not summary.errors
    assert summary.skipped_by_reason == {"unsupported-format": 2}
    assert {p["path"]: p["status"] for p in summary.problems} == {
        str(evidence / "README.txt"): "skipped",
        str(evidence / "SHA256SUMS"): "skipped",
    }
    con = sqlite3.connect(db.url.split("///", 1)[1])
    try:
        media = con.execute("SELECT count(*) FROM media").fetchone()[0]
        linked = con.execute("SELECT count(*) FROM series_media").fetchone()[0]
    finally:
        con.close()
    assert (media, linked) == (1, 1)
