"""Property-based fuzzing of the archive reader (issue 10 item 5).

Hypothesis builds archives of every supported format from generated members (hostile
names included: traversal, control characters, duplicates, empty), then damages them
(cut, bytes flipped, bytes inserted, another archive nested). Whatever comes in, the
reader must keep its contract: it raises only at call time and only the documented
errors, never while iterating; every member is named under the archive's path, once,
printably; refused members carry a reasoned ``MediaError``; no member is over the
limits. The default suite runs a bounded number of examples; ``scripts/fuzz-archives.sh``
runs many more (``TESSERA_FUZZ_EXAMPLES``). What it finds becomes a regression test in
``test_hostile_archives.py``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import tarfile
import zipfile

import py7zr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.errors import EmptyFile, MediaError, MediaTooLarge, UnsupportedMedia
from tessera.pipeline.archives import SEPARATOR, ArchiveLimits, iter_archive

EXAMPLES = int(os.environ.get("TESSERA_FUZZ_EXAMPLES", "40"))
LIMITS = ArchiveLimits(
    max_depth=3, max_members=200, max_member_bytes=256 * 1024, max_total_bytes=4 * 1024 * 1024
)

names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24),
    st.sampled_from(
        ["a.jpg", "../../etc/passwd", "/abs.png", "C:\\x.png", "dir/", "a\x1b[2J.png", "."]
    ),
)
members = st.lists(st.tuples(names, st.binary(max_size=2048)), min_size=1, max_size=6)


def _zip(items: list[tuple[str, bytes]], method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def _tar(items: list[tuple[str, bytes]], mode: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:  # type: ignore[call-overload]
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _7z(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as sz:
        for i, (name, data) in enumerate(items):
            sz.writestr(data, f"{i}-" + re.sub(r"[^\w.-]", "_", name))  # py7zr refuses odd names
    return out.getvalue()


def build(fmt: str, items: list[tuple[str, bytes]]) -> bytes:
    if fmt == "zip-stored":
        return _zip(items, zipfile.ZIP_STORED)
    if fmt == "zip-deflated":
        return _zip(items, zipfile.ZIP_DEFLATED)
    if fmt in ("tar", "tar.gz", "tar.bz2", "tar.xz"):
        return _tar(items, {"tar": "w", "tar.gz": "w:gz", "tar.bz2": "w:bz2"}.get(fmt, "w:xz"))
    if fmt == "7z":
        return _7z(items)
    payload = items[0][1]
    if fmt == "gz":
        return gzip.compress(payload, mtime=0)
    if fmt == "bz2":
        return bz2.compress(payload)
    return lzma.compress(payload)


FORMATS = [
    "zip-stored",
    "zip-deflated",
    "tar",
    "tar.gz",
    "tar.bz2",
    "tar.xz",
    "7z",
    "gz",
    "bz2",
    "xz",
]


@st.composite
def damaged_archives(draw: st.DrawFn) -> bytes:
    fmt = draw(st.sampled_from(FORMATS))
    items = draw(members)
    if draw(st.booleans()):  # nest an archive of another format as one member
        inner = build(draw(st.sampled_from(FORMATS)), draw(members))
        items = [*items, ("nested.bin", inner)]
    # every draw is made before the (timestamped, so not byte-stable) archive is built
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["cut", "flip", "insert", "zero"]),
                st.integers(0, 1 << 20),
                st.integers(1, 255),
                st.binary(min_size=1, max_size=64),
            ),
            max_size=4,
        )
    )
    data = bytearray(build(fmt, items))
    for action, where, xor, blob in edits:
        if not data:
            break
        at = where % len(data)
        if action == "cut":
            del data[max(1, at) :]
        elif action == "flip":
            data[at] ^= xor
        elif action == "insert":
            data[at:at] = blob
        else:
            data[at : at + 16] = bytes(len(data[at : at + 16]))
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile warns; duplicates are wanted
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(damaged_archives())
def test_archive_reader_keeps_its_contract_on_damaged_input(data: bytes) -> None:
    try:
        it = iter_archive(data, "seized", LIMITS)
    except (UnsupportedMedia, EmptyFile, MediaTooLarge):
        return  # damaged beyond recognition: refused at call time, as documented
    seen: set[str] = set()
    total = 0
    for m in it:  # never raises while iterating
        assert m.path == "seized" or m.path.startswith("seized" + SEPARATOR), m.path
        m.path.encode("utf-8")  # no lone surrogates
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in m.path), m.path
        if m.error is None:
            assert m.data is not None
        else:
            assert isinstance(m.error, MediaError) and m.error.reason, m.error
        if m.data is not None:
            assert len(m.data) <= LIMITS.max_member_bytes
            total += len(m.data)
        # a path appears twice only for the archive (or a nested one) reporting itself
        if m.path in seen:
            assert m.error is not None, m.path
        seen.add(m.path)
    assert total <= LIMITS.max_total_bytes
