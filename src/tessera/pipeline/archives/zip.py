"""Zip: the central directory when it is usable, else a walk of the local headers."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from tessera.errors import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMedia
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.limits import (
    CHUNK,
    RATIO_FLOOR,
    RATIO_SLACK,
    RAW_CHUNK,
    Tree,
    read_member,
)
from tessera.pipeline.archives.member import Member, utc
from tessera.pipeline.archives.names import Names, unsafe_name
from tessera.pipeline.archives.tree import ArchiveLevel, emit

_ZIP_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _zip_mtime(extra: bytes, date_time: tuple[int, int, int, int, int, int]) -> datetime | None:
    """UTC from the extended-timestamp or NTFS extra field, else the naive DOS time."""
    ntfs: datetime | None = None
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + size]
        i += 4 + size
        if tag == 0x5455 and len(body) >= 5 and body[0] & 1:
            (unix,) = struct.unpack_from("<i", body, 1)
            return utc(unix)
        if tag == 0x000A and len(body) >= 32:
            j = 4
            while j + 4 <= len(body):
                attr, attr_size = struct.unpack_from("<HH", body, j)
                if attr == 1 and attr_size >= 24 and j + 12 <= len(body):
                    (filetime,) = struct.unpack_from("<Q", body, j + 4)
                    ntfs = filetime(filetime)
                    break
                j += 4 + attr_size
    if ntfs is not None:
        return ntfs
    try:
        return datetime(*date_time)  # DOS time: a wall clock in an unknown zone
    except (ValueError, TypeError):
        return None


def _zip_refusal(
    name: str,
    flags: int,
    method: int,
    *,
    external_attr: int,
    create_system: int,
    size: int | None,
    compressed: int | None,
    tree: Tree,
) -> MediaError | None:
    refusal: MediaError | None = unsafe_name(name)
    if refusal is not None:
        return refusal
    if create_system == 3:  # Unix: the high 16 bits are st_mode
        mode = external_attr >> 16
        if stat.S_ISLNK(mode):
            return UnsupportedMedia("symbolic link member (not followed)", reason="link-member")
        if stat.S_IFMT(mode) in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            return UnsupportedMedia("device, pipe or socket member", reason="special-member")
    if flags & 0x41:  # bit 0: encrypted; bit 6: strong encryption
        return UnsupportedMedia("member is encrypted", reason="encrypted")
    if method not in _ZIP_SUPPORTED:
        return UnsupportedMedia(
            f"member uses unsupported compression method {method}",
            reason="unsupported-compression",
        )
    return tree.size_refusal(size, compressed)


_LOCAL_HEADER_MIN = 30  # a local file header without its name and extra field


def _overlapping(infos: list[zipfile.ZipInfo]) -> MediaError | None:
    """Refusal of a zip whose central directory entries share data (a zip bomb).

    Python's zipfile reads such entries one after the other, so 2,000 entries pointing
    at one 400 MiB member cost 800 GB of inflating. No honest zip has two entries whose
    local header and data overlap; each entry is taken to end no earlier than its
    header offset + 30 + its compressed size (names and extra fields only push the end
    further), so no honest zip is refused.
    """
    shared, reach = 0, -1
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < reach:
            shared += 1
        reach = max(reach, info.header_offset + _LOCAL_HEADER_MIN + info.compress_size)
    if not shared:
        return None
    return MediaTooLarge(
        f"zip central directory has {shared} entries whose data overlaps another's "
        "(a zip bomb); the archive is not read",
        reason="archive-bomb",
    )


def iter_zip(fh: IO[bytes], level: ArchiveLevel) -> Iterator[Member]:
    tree = level.tree
    names = Names(level.path)
    try:
        zf = zipfile.ZipFile(fh)
    except Exception as exc:  # no usable central directory: walk the local headers
        yield from _iter_zip_local(fh, level, names, exc)
        return
    with zf:
        overlap = _overlapping(zf.infolist())
        if overlap is not None:
            yield level.error(overlap)
            return
        for info in zf.infolist():
            if tree.stop is not None:
                return
            if info.filename.endswith("/"):  # a directory (ZipInfo.is_dir fails on "")
                continue
            if (limit := tree.count_member()) is not None:
                yield level.error(limit)
                return
            mtime = _zip_mtime(info.extra, info.date_time)
            refusal = _zip_refusal(
                info.filename,
                info.flag_bits,
                info.compress_type,
                external_attr=info.external_attr,
                create_system=info.create_system,
                size=info.file_size,
                compressed=info.compress_size,
                tree=tree,
            )
            path = names.path(info.filename, refused=refusal is not None)
            if level.skips(path):  # named first: "#2" numbering as in a full read
                level.pass_over(Member(path, None, refusal, info.file_size, mtime), info)
                continue
            if refusal is not None:
                yield Member(path, None, refusal, info.file_size, mtime)
                continue
            try:
                with zf.open(info) as stream:
                    data = read_member(stream, tree, charge=True)
            except Exception as exc:
                yield Member(path, None, classify(exc, "member"), info.file_size, mtime)
                continue
            yield from emit(level, path, data, info.file_size, mtime)


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_ZIP_DIRECTORY_SIGNATURES = (b"PK\x01\x02", b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07")


def _zip64_sizes(extra: bytes, size: int, csize: int) -> tuple[int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, i)
        if tag == 1:
            body = extra[i + 4 : i + 4 + length]
            j = 0
            if size == 0xFFFFFFFF and len(body) >= j + 8:
                (size,) = struct.unpack_from("<Q", body, j)
                j += 8
            if csize == 0xFFFFFFFF and len(body) >= j + 8:
                (csize,) = struct.unpack_from("<Q", body, j)
            break
        i += 4 + length
    return size, csize


class _LocalEnd(Exception):
    """Ends the local-header walk: ``error`` says how the archive ended."""

    def __init__(self, error: MediaError) -> None:
        super().__init__(error.message)
        self.error = error


def _inflate(
    fh: IO[bytes], start: int, csize: int | None, tree: Tree, *, keep: bool
) -> tuple[bytes, int]:
    """Inflate raw deflate data at ``start``; return (data, compressed length).

    ``csize`` None means the length is unknown (data descriptor): inflate to the end of
    the deflate stream. With ``keep=False`` the output is counted but not kept (to skip
    a refused member whose length only decompression can tell).
    """
    lim = tree.limits
    fh.seek(start)
    dec = zlib.decompressobj(-15)
    out = io.BytesIO()
    total = fed = 0
    while not dec.eof:
        want = RAW_CHUNK if csize is None else min(RAW_CHUNK, csize - fed)
        raw = fh.read(want) if want > 0 else b""
        if not raw:
            raise EOFError("compressed data ended early")
        fed += len(raw)
        data = dec.decompress(raw, CHUNK)
        while True:
            total += len(data)
            if keep and total > lim.max_member_bytes:
                raise MediaTooLarge(
                    f"more than {lim.max_member_bytes} bytes when decompressed",
                    reason="too-many-bytes",
                )
            tree.charge(len(data))
            used = fed - len(dec.unconsumed_tail)
            if total > RATIO_FLOOR and total > lim.max_ratio * (used + RATIO_SLACK):
                raise MediaTooLarge(
                    f"{total} bytes decompressed from {used} (ratio over {lim.max_ratio:g})",
                    reason="archive-bomb",
                )
            if keep:
                out.write(data)
            if not dec.unconsumed_tail or dec.eof:
                break
            data = dec.decompress(dec.unconsumed_tail, CHUNK)
    return out.getvalue(), fed - len(dec.unused_data)


@dataclass(frozen=True)
class _Local:
    """One local file header of a zip."""

    name: str
    flags: int
    method: int
    crc: int
    csize: int
    size: int
    start: int  # offset of the member's data
    mtime: datetime | None

    @property
    def descriptor(self) -> bool:
        return bool(self.flags & 0x8)

    @property
    def sizes_known(self) -> bool:
        return not self.descriptor or self.csize != 0

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def _read_local(fh: IO[bytes], offset: int) -> _Local | bytes:
    """The local header at ``offset``, or the bytes found there instead of one."""
    fh.seek(offset)
    head = fh.read(_LOCAL_HEADER.size)
    if head[:4] != b"PK\x03\x04":
        return head[:4]
    if len(head) < _LOCAL_HEADER.size:
        raise EOFError("local header cut short")
    (_, _, flags, method, dos_time, dos_date, crc, csize, size, nlen, xlen) = _LOCAL_HEADER.unpack(
        head
    )
    raw_name = fh.read(nlen)
    extra = fh.read(xlen)
    if len(raw_name) < nlen or len(extra) < xlen:
        raise EOFError("local header cut short")
    size, csize = _zip64_sizes(extra, size, csize)
    date_time = (
        (dos_date >> 9) + 1980,
        (dos_date >> 5) & 0xF,
        dos_date & 0x1F,
        dos_time >> 11,
        (dos_time >> 5) & 0x3F,
        (dos_time & 0x1F) * 2,
    )
    return _Local(
        name=raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace"),
        flags=flags,
        method=method,
        crc=crc,
        csize=csize,
        size=size,
        start=offset + _LOCAL_HEADER.size + nlen + xlen,
        mtime=_zip_mtime(extra, date_time),
    )


def _read_local_data(fh: IO[bytes], entry: _Local, tree: Tree) -> bytes:
    """The content of a member whose sizes the local header gives."""
    if entry.method == zipfile.ZIP_DEFLATED:
        data, _ = _inflate(fh, entry.start, entry.csize, tree, keep=True)
        return data
    if entry.method == zipfile.ZIP_STORED:
        fh.seek(entry.start)
        data = read_member(_Bounded(fh, entry.csize), tree, charge=True)
        if len(data) < entry.csize:
            raise EOFError("stored data cut short")
        return data
    raise UnsupportedMedia(
        f"compression method {entry.method} is not recovered without the central directory",
        reason="unsupported-compression",
    )


def _iter_zip_local(
    fh: IO[bytes], level: ArchiveLevel, names: Names, cause: Exception
) -> Iterator[Member]:
    """Recover what a zip without a usable central directory holds, from its local headers.

    Stored and deflated members are read; others are reported, and stepped over when
    their size is known. The walk ends at the first thing it cannot step over, and the
    archive is then reported as truncated or corrupt.
    """
    tree = level.tree
    why = f"{type(cause).__name__}: {cause}"
    # zipfile's words for "no end-of-central-directory record": the end of the file is gone
    no_end_record = str(cause) == "File is not a zip file"
    recovered = 0
    offset = 0

    def stuck() -> _LocalEnd:
        return _LocalEnd(
            CorruptMedia(
                f"zip central directory is unreadable ({why}); the walk of its local headers "
                f"stopped at a member it cannot step over, after {recovered} member(s)",
                reason="corrupt",
            )
        )

    try:
        while tree.stop is None:
            entry = _read_local(fh, offset)
            if isinstance(entry, bytes):
                if len(entry) < 4:
                    raise _LocalEnd(
                        CorruptMedia(
                            f"zip has no central directory ({why}); it ends after {recovered} "
                            "member(s), read from their local headers",
                            reason="truncated",
                        )
                    )
                if entry in _ZIP_DIRECTORY_SIGNATURES and no_end_record:
                    raise _LocalEnd(
                        CorruptMedia(
                            f"zip is truncated: its central directory is cut short ({why}); "
                            f"{recovered} member(s) read from their local headers",
                            reason="truncated",
                        )
                    )
                raise _LocalEnd(
                    CorruptMedia(
                        f"zip central directory is unreadable ({why}); {recovered} member(s) "
                        "read from their local headers",
                        reason="corrupt",
                    )
                )
            refusal: MediaError | None = None
            if not entry.is_dir:
                if (limit := tree.count_member()) is not None:
                    yield level.error(limit)
                    return
                known = entry.sizes_known
                refusal = _zip_refusal(
                    entry.name,
                    entry.flags,
                    entry.method,
                    external_attr=0,
                    create_system=0,
                    size=entry.size if known else None,
                    compressed=entry.csize if known else None,
                    tree=tree,
                )
            keep = refusal is None and not entry.is_dir
            data: bytes | None = None
            if entry.sizes_known:
                length = entry.csize
                if keep:
                    try:
                        data = _read_local_data(fh, entry, tree)
                    except MediaError as exc:
                        refusal = exc
            elif entry.method == zipfile.ZIP_DEFLATED and not entry.flags & 0x41:
                # The length is known only by inflating up to the end of the stream.
                try:
                    kept, length = _inflate(fh, entry.start, None, tree, keep=keep)
                except MediaError as exc:
                    yield Member(names.path(entry.name, refused=True), None, exc, None, entry.mtime)
                    if tree.stop is not None:
                        return
                    raise stuck() from None
                data = kept if keep else None
            else:
                if not entry.is_dir:
                    error = refusal or UnsupportedMedia(
                        "member size is unknown without the central directory",
                        reason="unsupported-compression",
                    )
                    yield Member(
                        names.path(entry.name, refused=True), None, error, None, entry.mtime
                    )
                raise stuck()
            next_offset = entry.start + length
            crc = entry.crc
            if entry.descriptor:
                crc, next_offset = _data_descriptor(fh, next_offset, crc)
            if not entry.is_dir:
                path = names.path(entry.name, refused=refusal is not None)
                size = entry.size if entry.sizes_known else None
                if refusal is not None:
                    yield Member(path, None, refusal, size, entry.mtime)
                elif data is not None and zlib.crc32(data) != crc:
                    error = CorruptMedia(
                        "member content does not match its CRC-32", reason="corrupt"
                    )
                    yield Member(path, None, error, size, entry.mtime)
                elif data is not None:
                    recovered += 1
                    yield from emit(level, path, data, len(data), entry.mtime)
            offset = next_offset
    except _LocalEnd as end:
        yield level.error(end.error)
    except Exception as exc:
        error = classify(exc, "zip")
        if error.reason == "truncated":
            error = CorruptMedia(
                f"zip is truncated ({why}; then {exc}); {recovered} member(s) read from "
                "their local headers",
                reason="truncated",
            )
        yield level.error(error)


def _data_descriptor(fh: IO[bytes], at: int, crc: int) -> tuple[int, int]:
    """Read the data descriptor at ``at``: (crc, offset after it)."""
    fh.seek(at)
    blob = fh.read(28)
    body = blob[4:] if blob[:4] == b"PK\x07\x08" else blob
    skip = len(blob) - len(body)
    if len(body) < 12:
        raise EOFError("data descriptor cut short")
    (crc,) = struct.unpack_from("<I", body, 0)
    # 32-bit sizes (12 bytes) unless what follows only makes sense for zip64 (20).
    small, large = at + skip + 12, at + skip + 20
    if body[12:14] != b"PK" and body[20:22] == b"PK":
        return crc, large
    return crc, small


class _Bounded:
    """At most ``length`` bytes of ``fh``."""

    def __init__(self, fh: IO[bytes], length: int) -> None:
        self._fh = fh
        self._left = length

    def read(self, n: int, /) -> bytes:
        data = self._fh.read(min(n, self._left))
        self._left -= len(data)
        return data
