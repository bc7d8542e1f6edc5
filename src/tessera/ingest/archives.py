"""Reading seized archives in memory: zip, 7z, tar and gzip / bzip2 / xz streams.

Seized media routinely arrives packed, often several layers deep (a ``.7z`` holding a
``.tar`` holding a ``.zip``). :func:`iter_archive` walks such a tree and yields every
*leaf* member, one at a time, as a :class:`Member` whose bytes can go straight to
``tessera.ingest.filehash.hash_bytes``. Two commitments shape everything here.

**Forensic: nothing is lost, everything is reported.** Every member is accounted for.
A member that is refused (unsafe name, link, device, encrypted, over a limit) or that
cannot be read is still yielded, with ``data=None`` and a :class:`~tessera.errors.MediaError`
whose ``reason`` says why. A damaged archive yields what could be read and then one
error member for the archive itself (``corrupt`` or ``truncated``). A zip whose central
directory is missing (a truncated download) is recovered by walking its local headers.
Member timestamps are kept (they matter in court), duplicate names are kept (both
copies are yielded), and the iterator never raises because of what is *in* an archive.

**Safety: the input is hostile.** Nothing is ever written to disk, so member names are
never used as file system paths; names that would escape an extraction folder
(absolute, ``..``, drive letters, backslash tricks) are refused all the same so that no
later consumer is tempted to. Links and device nodes are refused, not followed.
Decompression bombs are refused from their declared sizes *before* anything is read,
and the same limits are enforced again while decompressing (reading in chunks and
stopping at the limit + 1), because declared sizes can lie and a gzip stream has none.

Virtual paths
-------------
A member's ``path`` is the archive's display path, the separator ``!/`` and the member's
name inside that archive, repeated for each level::

    seizure/a.7z!/b.tar!/c.zip!/d.png

Member names are shown with ``/`` separators, with empty and ``.`` components removed
(``./x//y`` becomes ``x/y``); control characters and undecodable bytes are escaped as
``\\xNN``. Refused members keep their raw name (escaped), so ``../evil.txt`` is reported
as written. When one archive holds the same name twice, the second is reported as
``name#2`` (then ``#3``, ...), so that paths are unique within one run. A name can itself
contain ``!/``; such paths are ambiguous to a reader, never to this module. Paths are
labels for reports: never open them, join them or extract to them.

Compressed streams
------------------
A gzip, bzip2 or xz stream holding a tar is read as one compressed tar
(``x.tar.gz!/member``). Any other stream is a one-member archive: the member is named
from the gzip header (``FNAME``) when it has a safe one, otherwise from the stream's own
name with ``.gz`` / ``.bz2`` / ``.xz`` removed (``.tgz`` becomes ``.tar``), e.g.
``photo.jpg.gz!/photo.jpg``.

What is and is not yielded
--------------------------
Only leaf members are yielded. A member that is itself an archive (sniffed from its
content, never its name) is opened and its members are yielded instead, up to
``ArchiveLimits.max_depth`` levels. The archive the caller passes in is not yielded
either: the caller fingerprints the top-level file itself (it has its bytes or path);
a nested archive's own digest is therefore not reported when it opens cleanly.
Directories are not members. When the bytes of a nested archive were read but its
*contents* cannot be (it is nested too deep, or damaged), the error member carries the
nested archive's bytes as ``data`` so that its exact digests can still be reported: a
damaged copy of a known file is still that file. A nested archive with no members at
all is yielded as an ordinary leaf, so that it does not vanish.

Members come in archive order. For 7z, refused members are slotted into that order
but members in different solid blocks come in decompression order.

Error reasons
-------------
Member refusals: ``path-traversal`` (CorruptMedia), ``link-member`` and
``special-member`` (UnsupportedMedia), ``encrypted`` and ``unsupported-compression``
(UnsupportedMedia), ``too-many-bytes`` and ``archive-bomb`` (MediaTooLarge; a bomb is
a ratio over ``max_ratio`` or the tree's ``max_total_bytes`` running out, the latter
stopping the whole tree), ``archive-too-deep`` (MediaTooLarge). Unreadable members and
archives: ``corrupt`` or ``truncated`` (CorruptMedia). For a whole archive also:
``too-many-members`` (MediaTooLarge, stops the tree) and ``trailing-data`` (CorruptMedia:
non-zero bytes after the end of a tar or of a compressed stream, which belong to no
member and would otherwise go unreported).

Memory: members are read one at a time, so the largest resident set is one member
(up to ``max_member_bytes``) per nesting level that is currently open, plus, for 7z,
the next member that the decompression thread has already produced. 7z is read with
py7zr's in-memory writer-factory API (py7zr >= 1.0): a background thread decompresses
into memory sinks and hands members over one at a time; abandoning the iterator stops
the thread.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import os
import queue
import re
import stat
import struct
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal, Protocol, cast

import py7zr
from py7zr.compressor import SupportedMethods
from py7zr.io import MemIO, Py7zIO, WriterFactory

from tessera.errors import (
    CorruptMedia,
    EmptyFile,
    MediaError,
    MediaTooLarge,
    UnreadableFile,
    UnsupportedMedia,
)
from tessera.ingest.filehash import read_head

ArchiveKind = Literal["zip", "7z", "tar", "gzip", "bz2", "xz"]

SEPARATOR = "!/"
"""Separates an archive's path from the name of a member inside it."""

HEAD_BYTES = 512
"""How many leading bytes :func:`is_archive` needs to recognise every supported format."""

_MIB = 1024 * 1024
_GIB = 1024 * _MIB
_CHUNK = _MIB  # read size while decompressing a member
_RAW_CHUNK = 16 * 1024  # compressed input fed to a decompressor at a time
_RATIO_FLOOR = _MIB  # ratio limits apply only to members larger than this
# Where a ratio is measured while decompressing, the compressed position is known only
# to within the input a decompressor holds (one raw chunk): adding it never overstates
# the ratio, so nothing is refused that a byte-exact count would let through.
_RATIO_SLACK = _RAW_CHUNK
_XZ_MEMLIMIT = 1 * _GIB  # liblzma decoder memory (dictionary) cap
_GZIP_HEADER_WINDOW = 72 * 1024  # FEXTRA (<= 64 KiB) + a sane FNAME
_MAX_TAR_READ = 16 * _MIB  # largest single read tarfile may make (pax / GNU long names)


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits for one top-level archive and everything nested inside it.

    ``max_depth``: how many archive-in-archive levels are opened (the archive passed in
    is level 0; with ``max_depth=0`` nothing nested is opened). ``max_members``: members
    across the whole tree. ``max_member_bytes``: one member's uncompressed size.
    ``max_total_bytes``: bytes decompressed (or, for stored data, read) across the
    whole tree; a nested archive's bytes count at each level they are expanded at, so
    this is the work a bomb can demand. ``max_ratio``: uncompressed / compressed size
    of one member, applied only to members over 1 MiB so that small, highly
    compressible files (text, blank images) are never refused.
    """

    max_depth: int = 4
    max_members: int = 1_000_000
    max_member_bytes: int = 512 * _MIB
    max_total_bytes: int = 64 * _GIB
    max_ratio: float = 200.0


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Member:
    """One leaf member of an archive tree.

    ``path`` is the virtual path (see the module docs). ``error`` is ``None`` for a
    member that was read; then ``data`` holds its bytes. A refused or unreadable member
    has ``data=None`` and the error. An error member may also carry ``data``: the bytes
    of a nested archive that were read but whose contents could not be (too deep,
    damaged); fingerprint them as a file and report the error alongside.

    ``size`` is the member's size (declared by the archive when the member was not
    read). ``mtime`` is the member's modification time: timezone-aware (UTC) when the
    format records UTC (tar, 7z, gzip, zip extended/NTFS timestamps); *naive* when it
    records only a wall-clock time in an unknown zone (zip's DOS timestamp).
    """

    path: str
    data: bytes | None
    error: MediaError | None = None
    size: int | None = None
    mtime: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- sniffing


def _tar_checksum_ok(block: bytes) -> bool:
    """True if ``block`` is a tar header with a valid checksum (pre-POSIX tars too)."""
    if len(block) < 512 or not any(block[:512]):
        return False
    field = block[148:156].replace(b"\x00", b" ").strip()
    if not field or any(c not in b"01234567" for c in field):
        return False
    stored = int(field, 8)
    header = block[:148] + b" " * 8 + block[156:512]
    unsigned = sum(header)
    signed = unsigned - 256 * sum(1 for b in header if b > 127)
    return stored in (unsigned, signed)


def is_archive(head: bytes) -> ArchiveKind | None:
    """The archive format of content starting with ``head`` (pass 512 bytes), or None.

    Returns ``"zip"``, ``"7z"``, ``"tar"``, ``"gzip"``, ``"bz2"`` or ``"xz"``. A gzip,
    bzip2 or xz stream may hold a tar; :func:`iter_archive` finds that out. An empty tar
    (only end-of-archive blocks) carries no magic and is not recognised.
    """
    # Tar first: a tar begins with its first member's *name*, which can be anything
    # (a member called "BM..." or "GIF89a..." looks like an image to a plain sniffer).
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if _tar_checksum_ok(head):
        return "tar"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if (
        head.startswith(b"BZh")
        and len(head) >= 4
        and head[3:4] in b"123456789"
        and (len(head) < 10 or head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"))
    ):
        return "bz2"
    return None


# --------------------------------------------------------------------------- names


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe_name(name: str) -> CorruptMedia | None:
    """Why ``name`` could escape an extraction folder, or None if it cannot."""
    shown = _printable(name)
    if name.startswith(("/", "\\")):
        return CorruptMedia(f"absolute member name {shown!r}", reason="path-traversal")
    if _DRIVE.match(name):
        return CorruptMedia(f"member name with a drive letter {shown!r}", reason="path-traversal")
    if ".." in re.split(r"[\\/]", name):
        return CorruptMedia(f"member name with '..' {shown!r}", reason="path-traversal")
    return None


def _printable(name: str) -> str:
    """``name`` with control characters and undecodable bytes escaped as ``\\xNN``."""
    if name.isprintable():
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:  # surrogateescape'd byte
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def _normalized(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts) or name


class _Names:
    """Virtual paths of one archive's members, made unique with ``#2``, ``#3``, ..."""

    def __init__(self, archive_path: str) -> None:
        self._prefix = archive_path + SEPARATOR
        self._used: set[str] = set()

    def path(self, raw_name: str, *, refused: bool = False) -> str:
        shown = _printable(raw_name if refused else _normalized(raw_name))
        base = candidate = self._prefix + shown
        n = 1
        while candidate in self._used:
            n += 1
            candidate = f"{base}#{n}"
        self._used.add(candidate)
        return candidate


# --------------------------------------------------------------------------- tree state


class _Tree:
    """Counters shared by every level of one top-level archive (thread-safe: 7z)."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.total_bytes = 0
        self.members = 0
        self.stop: MediaError | None = None  # set when the whole tree must stop
        self._lock = threading.Lock()

    def charge(self, n: int) -> None:
        """Count ``n`` decompressed bytes; raise (and stop the tree) past the total limit."""
        with self._lock:
            self.total_bytes += n
            if self.total_bytes > self.limits.max_total_bytes and self.stop is None:
                self.stop = MediaTooLarge(
                    f"more than {self.limits.max_total_bytes} bytes decompressed in this "
                    "archive tree; the rest of it is not read",
                    reason="archive-bomb",
                )
            stop = self.stop
        if stop is not None:
            raise stop

    def remaining(self) -> int:
        with self._lock:
            return max(0, self.limits.max_total_bytes - self.total_bytes)

    def count_member(self) -> MediaError | None:
        """Count one member; past ``max_members`` stop the tree and return the error."""
        self.members += 1
        if self.members > self.limits.max_members and self.stop is None:
            self.stop = self.too_many_members()
            return self.stop
        return None

    def too_many_members(self) -> MediaError:
        return MediaTooLarge(
            f"more than {self.limits.max_members} members in this archive tree; "
            "the rest of it is not read",
            reason="too-many-members",
        )

    def size_refusal(
        self, size: int | None, compressed: int | None, *, what: str = "member"
    ) -> MediaError | None:
        """Refusal from declared sizes, before anything is read."""
        lim = self.limits
        if size is None:
            return None
        if size > lim.max_member_bytes:
            return MediaTooLarge(
                f"{what} declares {size} bytes, over the {lim.max_member_bytes}-byte limit",
                reason="too-many-bytes",
            )
        if size > _RATIO_FLOOR and compressed is not None and size > lim.max_ratio * compressed:
            return MediaTooLarge(
                f"{what} declares {size} bytes from {compressed} compressed "
                f"(ratio over {lim.max_ratio:g})",
                reason="archive-bomb",
            )
        if size > self.remaining():
            return MediaTooLarge(
                f"{what} declares {size} bytes, more than is left of the "
                f"{lim.max_total_bytes}-byte total for this archive tree",
                reason="archive-bomb",
            )
        return None


class _Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


def _read_member(
    stream: _Readable,
    tree: _Tree,
    *,
    charge: bool,
    compressed_pos: Callable[[], int] | None = None,
) -> bytes:
    """Read one member in chunks, enforcing the member, ratio and total limits as it goes.

    Never holds more than ``max_member_bytes + 1`` bytes. ``charge`` counts the bytes
    against the tree total (False where the stream already does). ``compressed_pos``
    gives the compressed input position, for a ratio check where no compressed size is
    declared (gzip, bzip2, xz).
    """
    lim = tree.limits
    cap = lim.max_member_bytes
    start = compressed_pos() if compressed_pos is not None else 0
    buf = io.BytesIO()
    total = 0
    while True:
        chunk = stream.read(min(_CHUNK, cap + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > cap:
            raise MediaTooLarge(
                f"more than {cap} bytes when decompressed (the limit per member)",
                reason="too-many-bytes",
            )
        if charge:
            tree.charge(len(chunk))
        if compressed_pos is not None and total > _RATIO_FLOOR:
            used = compressed_pos() - start + _RATIO_SLACK
            if total > lim.max_ratio * used:
                raise MediaTooLarge(
                    f"{total} bytes decompressed from about {used} (ratio over {lim.max_ratio:g})",
                    reason="archive-bomb",
                )
        buf.write(chunk)
    return buf.getvalue()


def _classify(exc: BaseException, what: str = "archive") -> MediaError:
    """A MediaError for an exception a reader raised on bad input."""
    if isinstance(exc, MediaError):
        return exc
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    low = detail.lower()
    if isinstance(exc, py7zr.PasswordRequired):
        return UnsupportedMedia(f"{what} is encrypted", reason="encrypted")
    if isinstance(exc, py7zr.DecompressionBombError):
        return MediaTooLarge(f"{what}: {text}", reason="archive-bomb")
    if isinstance(exc, py7zr.UnsupportedCompressionMethodError | NotImplementedError):
        return UnsupportedMedia(
            f"{what} uses an unsupported compression method ({detail})",
            reason="unsupported-compression",
        )
    if isinstance(exc, MemoryError):
        return MediaTooLarge(f"{what}: out of memory while decompressing", reason="archive-bomb")
    if isinstance(exc, EOFError) or any(
        s in low for s in ("unexpected end", "truncated", "end-of-stream", "ended before")
    ):
        return CorruptMedia(f"{what} is truncated ({detail})", reason="truncated")
    if isinstance(exc, OSError) and exc.errno is not None:
        return UnreadableFile(f"read failed: {exc.strerror or exc}")
    if "crc" in low:
        return CorruptMedia(
            f"{what} content does not match its checksum: damaged, or the archive "
            f"misstates its size ({detail})",
            reason="corrupt",
        )
    return CorruptMedia(f"{what} is damaged ({detail})", reason="corrupt")


def _utc(timestamp: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _filetime(value: int) -> datetime | None:
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class _Container:
    """A nested archive as a member of its parent: for its error members."""

    data: bytes
    size: int | None
    mtime: datetime | None


@dataclass(frozen=True)
class _Level:
    """The archive being read: its virtual path, nesting depth and tree state."""

    path: str
    depth: int
    tree: _Tree
    container: _Container | None = None  # set when the archive is a member of another

    def error(self, error: MediaError) -> Member:
        """An error member for this archive as a whole."""
        c = self.container
        if c is None:
            return Member(self.path, None, error)
        return Member(self.path, c.data, error, c.size, c.mtime)


def iter_archive(
    data_or_path: bytes | str | os.PathLike[str],
    display_path: str,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    depth: int = 0,
) -> Iterator[Member]:
    """Yield every leaf member of the archive ``data_or_path`` (bytes or a file path).

    ``display_path`` names the archive in member paths. ``depth`` is the nesting level
    of this archive when the caller found it inside something else (0 otherwise).

    The format is sniffed from the content. Input that is not a supported archive, is
    empty or cannot be opened raises here, at call time (``UnsupportedMedia`` with
    reason ``not-an-archive``, ``EmptyFile``, ``UnreadableFile``, or ``MediaTooLarge``
    with reason ``archive-too-deep``). After that, iterating never raises for anything
    in the archive: problems are yielded as error members.
    """
    if depth > limits.max_depth:
        raise MediaTooLarge(
            f"archive nested deeper than {limits.max_depth} levels", reason="archive-too-deep"
        )
    if isinstance(data_or_path, bytes):
        kind = _archive_kind(data_or_path[:HEAD_BYTES])
        source = io.BytesIO(data_or_path)
        return _iter_source(source, kind, _Level(display_path, depth, _Tree(limits)))
    path = Path(data_or_path)
    kind = _archive_kind(_read_head(path))
    return _iter_path(path, kind, _Level(display_path, depth, _Tree(limits)))


def _archive_kind(head: bytes) -> ArchiveKind:
    if not head:
        raise EmptyFile("empty file")
    kind = is_archive(head)
    if kind is None:
        raise UnsupportedMedia(
            "not an archive Tessera reads (zip, 7z, tar, gzip, bzip2, xz)",
            reason="not-an-archive",
        )
    return kind


def _read_head(path: Path) -> bytes:
    return read_head(path, HEAD_BYTES)


def _iter_path(path: Path, kind: ArchiveKind, level: _Level) -> Iterator[Member]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in finally; the generator may pause
    except OSError as exc:
        yield level.error(_classify(exc))
        return
    try:
        yield from _iter_source(fh, kind, level)
    finally:
        fh.close()


def _iter_source(fh: IO[bytes], kind: ArchiveKind, level: _Level) -> Iterator[Member]:
    try:
        if kind == "zip":
            yield from _iter_zip(fh, level)
        elif kind == "7z":
            yield from _iter_7z(fh, level)
        elif kind == "tar":
            yield from _iter_tar(_Reader(fh, level.tree, counts=False), level, None)
        else:
            yield from _iter_stream(fh, kind, level)
    except Exception as exc:  # a reader failed in a way not foreseen: report, never raise
        yield level.error(level.tree.stop or _classify(exc, kind))


def _emit(
    level: _Level, path: str, data: bytes, size: int | None, mtime: datetime | None
) -> Iterator[Member]:
    """Yield a member that was read, or descend into it if it is an archive."""
    tree = level.tree
    kind = is_archive(data[:HEAD_BYTES])
    if kind is None:
        yield Member(path, data, None, size, mtime)
        return
    if level.depth + 1 > tree.limits.max_depth:
        error = MediaTooLarge(
            f"{kind} archive nested deeper than {tree.limits.max_depth} levels; not opened",
            reason="archive-too-deep",
        )
        yield Member(path, data, error, size, mtime)
        return
    inner = _Level(path, level.depth + 1, tree, _Container(data, size, mtime))
    empty = True
    for member in _iter_source(io.BytesIO(data), kind, inner):
        empty = False
        yield member
    if empty:  # an archive with no members is still a file that was there
        yield Member(path, data, None, size, mtime)


# --------------------------------------------------------------------------- zip

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
            return _utc(unix)
        if tag == 0x000A and len(body) >= 32:
            j = 4
            while j + 4 <= len(body):
                attr, attr_size = struct.unpack_from("<HH", body, j)
                if attr == 1 and attr_size >= 24 and j + 12 <= len(body):
                    (filetime,) = struct.unpack_from("<Q", body, j + 4)
                    ntfs = _filetime(filetime)
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
    tree: _Tree,
) -> MediaError | None:
    refusal: MediaError | None = _unsafe_name(name)
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


def _iter_zip(fh: IO[bytes], level: _Level) -> Iterator[Member]:
    tree = level.tree
    names = _Names(level.path)
    try:
        zf = zipfile.ZipFile(fh)
    except Exception as exc:  # no usable central directory: walk the local headers
        yield from _iter_zip_local(fh, level, names, exc)
        return
    with zf:
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
            if refusal is not None:
                yield Member(path, None, refusal, info.file_size, mtime)
                continue
            try:
                with zf.open(info) as stream:
                    data = _read_member(stream, tree, charge=True)
            except Exception as exc:
                yield Member(path, None, _classify(exc, "member"), info.file_size, mtime)
                continue
            yield from _emit(level, path, data, info.file_size, mtime)


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
    fh: IO[bytes], start: int, csize: int | None, tree: _Tree, *, keep: bool
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
        want = _RAW_CHUNK if csize is None else min(_RAW_CHUNK, csize - fed)
        raw = fh.read(want) if want > 0 else b""
        if not raw:
            raise EOFError("compressed data ended early")
        fed += len(raw)
        data = dec.decompress(raw, _CHUNK)
        while True:
            total += len(data)
            if keep and total > lim.max_member_bytes:
                raise MediaTooLarge(
                    f"more than {lim.max_member_bytes} bytes when decompressed",
                    reason="too-many-bytes",
                )
            tree.charge(len(data))
            used = fed - len(dec.unconsumed_tail)
            if total > _RATIO_FLOOR and total > lim.max_ratio * (used + _RATIO_SLACK):
                raise MediaTooLarge(
                    f"{total} bytes decompressed from {used} (ratio over {lim.max_ratio:g})",
                    reason="archive-bomb",
                )
            if keep:
                out.write(data)
            if not dec.unconsumed_tail or dec.eof:
                break
            data = dec.decompress(dec.unconsumed_tail, _CHUNK)
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


def _read_local_data(fh: IO[bytes], entry: _Local, tree: _Tree) -> bytes:
    """The content of a member whose sizes the local header gives."""
    if entry.method == zipfile.ZIP_DEFLATED:
        data, _ = _inflate(fh, entry.start, entry.csize, tree, keep=True)
        return data
    if entry.method == zipfile.ZIP_STORED:
        fh.seek(entry.start)
        data = _read_member(_Bounded(fh, entry.csize), tree, charge=True)
        if len(data) < entry.csize:
            raise EOFError("stored data cut short")
        return data
    raise UnsupportedMedia(
        f"compression method {entry.method} is not recovered without the central directory",
        reason="unsupported-compression",
    )


def _iter_zip_local(
    fh: IO[bytes], level: _Level, names: _Names, cause: Exception
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
                    yield from _emit(level, path, data, len(data), entry.mtime)
            offset = next_offset
    except _LocalEnd as end:
        yield level.error(end.error)
    except Exception as exc:
        error = _classify(exc, "zip")
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


# --------------------------------------------------------------------------- tar and streams


class _Reader:
    """Forward-only file object for tarfile, counting decompressed bytes.

    Remembers the last block read so that the end of a tar can be classified (tarfile
    silently stops at a damaged or missing header after the first member).
    """

    def __init__(self, src: _Readable, tree: _Tree, *, counts: bool) -> None:
        self._src = src
        self._tree = tree
        self.counts = counts  # bytes read here are charged to the tree total
        self._pos = 0
        self._pending = b""
        self.last_offset = -1
        self.last = b""

    def peek(self, n: int) -> bytes:
        while len(self._pending) < n:
            more = self._pull(n - len(self._pending))
            if not more:
                break
            self._pending += more
        return self._pending[:n]

    def _pull(self, n: int) -> bytes:
        data = self._src.read(n)
        if self.counts and data:
            self._tree.charge(len(data))
        return data

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            raise ValueError("unbounded read refused")
        if n > _MAX_TAR_READ:  # tarfile reads extended headers whole: refuse absurd ones
            raise MediaTooLarge(
                f"tar asks for {n} bytes at once (an oversized extended header?)",
                reason="too-many-bytes",
            )
        data = self._pending[:n]
        self._pending = self._pending[n:]
        if len(data) < n:
            data += self._pull(n - len(data))
        self.last_offset, self.last = self._pos, data
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if whence == 1:
            offset += self._pos
        elif whence != 0:
            raise OSError("seek from end not supported")
        if offset < self._pos:
            back = self._pos - offset
            if offset < self.last_offset or back > len(self.last):
                raise OSError("backward seek not supported")
            self._pending = self.last[len(self.last) - back :] + self._pending
            self._pos = offset
            return self._pos
        skip = offset - self._pos
        if skip <= len(self._pending):
            self._pending = self._pending[skip:]
        else:
            skip -= len(self._pending)
            self._pending = b""
            if not self.counts and isinstance(self._src, io.IOBase) and self._src.seekable():
                self._src.seek(skip, io.SEEK_CUR)
            else:
                while skip > 0:
                    got = self._pull(min(_CHUNK, skip))
                    if not got:
                        break
                    skip -= len(got)
        self._pos = offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def write(self, b: bytes, /) -> int:
        raise OSError("read-only")

    def close(self) -> None:
        pass


def _tar_refusal(ti: tarfile.TarInfo, tree: _Tree) -> MediaError | None:
    refusal: MediaError | None = _unsafe_name(ti.name)
    if refusal is not None:
        return refusal
    if ti.issym():
        return UnsupportedMedia(
            f"symbolic link to {_printable(ti.linkname)!r} (not followed)", reason="link-member"
        )
    if ti.islnk():
        return UnsupportedMedia(
            f"hard link to {_printable(ti.linkname)!r} (not followed)", reason="link-member"
        )
    if ti.ischr() or ti.isblk() or ti.isfifo():
        return UnsupportedMedia("device or pipe member", reason="special-member")
    return tree.size_refusal(ti.size, None)


def _tar_end_error(reader: _Reader, offset: int) -> MediaError | None:
    """How a tar whose headers ran out at ``offset`` ended, if not at an end marker."""
    if offset == 0 or reader.last_offset != offset:
        return None
    block = reader.last
    if not block:
        return CorruptMedia(
            "tar ends without its end-of-archive marker (truncated after the last member?)",
            reason="truncated",
        )
    if len(block) < tarfile.BLOCKSIZE:
        return CorruptMedia("tar ends inside a header block", reason="truncated")
    if any(block):
        return CorruptMedia(
            f"tar header at offset {offset} is damaged; nothing after it can be read",
            reason="corrupt",
        )
    return None


def _tar_trailing(reader: _Reader) -> MediaError | None:
    """Read what follows a tar's end-of-archive marker: damage to a compressed stream
    shows only there, and data hidden after the end would otherwise go unreported."""
    start = reader.tell()
    hidden = 0
    try:
        while chunk := reader.read(_CHUNK):
            hidden += len(chunk) - chunk.count(0)
    except Exception as exc:
        return _classify(exc, "compressed tar")
    if hidden:
        return CorruptMedia(
            f"{hidden} non-zero bytes follow the tar's end-of-archive marker (searched "
            f"from offset {start}); they are not part of any member",
            reason="trailing-data",
        )
    return None


def _forget_members(tf: tarfile.TarFile) -> None:
    """Drop tarfile's list of seen members (it grows with every member otherwise)."""
    seen = getattr(tf, "members", None)
    if isinstance(seen, list):
        seen.clear()


def _iter_tar(
    reader: _Reader, level: _Level, compressed_pos: Callable[[], int] | None
) -> Iterator[Member]:
    tree = level.tree
    names = _Names(level.path)
    try:
        tf = tarfile.TarFile(fileobj=reader, mode="r")
    except Exception as exc:
        yield level.error(tree.stop or _classify(exc, "tar"))
        return
    while tree.stop is None:
        try:
            ti = tf.next()
        except Exception as exc:
            yield level.error(tree.stop or _classify(exc, "tar"))
            return
        if ti is None:
            end = _tar_end_error(reader, tf.offset) or _tar_trailing(reader)
            if end is not None:
                yield level.error(tree.stop or end)
            return
        _forget_members(tf)
        if ti.isdir():
            continue
        if (limit := tree.count_member()) is not None:
            yield level.error(limit)
            return
        mtime = _utc(ti.mtime)
        refusal = _tar_refusal(ti, tree)
        path = names.path(ti.name, refused=refusal is not None)
        if refusal is not None:
            yield Member(path, None, refusal, ti.size, mtime)
            continue
        try:
            stream = tf.extractfile(ti)
            if stream is None:
                raise UnsupportedMedia("not a regular file", reason="special-member")
            with stream:
                data = _read_member(
                    stream, tree, charge=not reader.counts, compressed_pos=compressed_pos
                )
        except Exception as exc:
            yield Member(path, None, _classify(exc, "member"), ti.size, mtime)
            continue
        yield from _emit(level, path, data, ti.size, mtime)


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes: ...


class _GzipMember:
    """zlib's gzip decoder with the bz2 / lzma decompressor interface."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(wbits=31)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._d.unconsumed_tail

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes:
        return self._d.decompress(data or self._d.unconsumed_tail, max(0, max_length))


_STREAM_MAGIC: Mapping[str, bytes] = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}


class _StreamDecompressor:
    """``read(n)`` over a gzip, bzip2 or xz stream, with bounded output per call.

    Concatenated streams are read as one (as the command-line tools do). Anything else
    after the last stream is not an error that loses the data: it is counted in
    ``trailing`` (zero padding is ignored) for the caller to report.
    """

    def __init__(self, raw: IO[bytes], kind: ArchiveKind) -> None:
        self._raw = raw
        self._kind = kind
        self._dec = self._new()
        self._input = b""
        self.trailing = 0  # non-zero bytes after the last stream

    def _new(self) -> _Decompressor:
        if self._kind == "gzip":
            return _GzipMember()
        if self._kind == "bz2":
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor(format=lzma.FORMAT_AUTO, memlimit=_XZ_MEMLIMIT)

    def read(self, n: int, /) -> bytes:
        while True:
            if self._dec.eof:
                rest = self._dec.unused_data or self._input or self._raw.read(_RAW_CHUNK)
                self._input = b""
                if not rest:
                    return b""
                if not rest.startswith(_STREAM_MAGIC[self._kind]):
                    self._count_trailing(rest)
                    return b""
                self._dec, self._input = self._new(), rest
            if self._dec.needs_input:
                data = self._input or self._raw.read(_RAW_CHUNK)
                self._input = b""
                if not data:
                    raise EOFError("compressed stream ended before its end-of-stream marker")
            else:
                data = b""
            out = self._dec.decompress(data, n)
            if out:
                return out

    def _count_trailing(self, rest: bytes) -> None:
        self._dec = _Finished()
        while rest:
            self.trailing += len(rest) - rest.count(0)
            rest = self._raw.read(_CHUNK)


class _Finished:
    """A decompressor after the end of the data."""

    eof = True
    needs_input = False
    unused_data = b""

    def decompress(self, data: bytes, max_length: int = -1, /) -> bytes:
        return b""


def _gzip_header(fh: IO[bytes]) -> tuple[str | None, datetime | None]:
    """The original file name and mtime from a gzip header (RFC 1952), if present."""
    start = fh.tell()
    head = fh.read(_GZIP_HEADER_WINDOW)
    fh.seek(start)
    if len(head) < 10:
        return None, None
    flags = head[3]
    (unix,) = struct.unpack_from("<I", head, 4)
    mtime = _utc(unix) if unix else None
    pos = 10
    if flags & 0x04:  # FEXTRA
        if len(head) < pos + 2:
            return None, mtime
        (xlen,) = struct.unpack_from("<H", head, pos)
        pos += 2 + xlen
    if not flags & 0x08:  # FNAME
        return None, mtime
    end = head.find(b"\x00", pos)
    if end < 0:
        return None, mtime
    name = head[pos:end].decode("latin-1")
    if not name or _unsafe_name(name) is not None:
        return None, mtime
    return name.replace("\\", "/").rsplit("/", 1)[-1] or None, mtime


_STREAM_SUFFIXES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "gzip": ((".tgz", ".tar"), (".taz", ".tar"), (".gz", ""), (".gzip", ""), (".z", "")),
    "bz2": ((".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", ""), (".bz", "")),
    "xz": ((".txz", ".tar"), (".xz", ""), (".lzma", "")),
}


def _stream_member_name(display: str, kind: ArchiveKind) -> str:
    base = display.rsplit(SEPARATOR, 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
    for suffix, replacement in _STREAM_SUFFIXES.get(kind, ()):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return base or "contents"


def _iter_stream(fh: IO[bytes], kind: ArchiveKind, level: _Level) -> Iterator[Member]:
    """A gzip, bzip2 or xz stream: a compressed tar, or a one-member archive."""
    tree = level.tree
    name, mtime = _gzip_header(fh) if kind == "gzip" else (None, None)
    stream = _StreamDecompressor(fh, kind)
    try:
        reader = _Reader(stream, tree, counts=True)
        head = reader.peek(HEAD_BYTES)
    except Exception as exc:
        yield level.error(tree.stop or _classify(exc, kind))
        return
    if is_archive(head) == "tar":
        yield from _iter_tar(reader, level, fh.tell)
    else:
        if (limit := tree.count_member()) is not None:
            yield level.error(limit)
            return
        path = _Names(level.path).path(name or _stream_member_name(level.path, kind))
        try:
            data = _read_member(reader, tree, charge=False, compressed_pos=fh.tell)
        except MediaError as exc:
            yield Member(path, None, exc, None, mtime)
            return
        except Exception as exc:
            yield level.error(_classify(exc, kind))
            return
        yield from _emit(level, path, data, len(data), mtime)
    if stream.trailing and tree.stop is None:
        yield level.error(
            CorruptMedia(
                f"{stream.trailing} non-zero bytes follow the end of the {kind} stream; "
                "they are not part of any member",
                reason="trailing-data",
            )
        )


# --------------------------------------------------------------------------- 7z


class _Cancelled(Exception):
    """The consumer went away: stop decompressing."""


class _Bridge:
    """Hands members from py7zr's decompression thread to the generator, one at a time."""

    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.items: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=1)
        self.cancelled = threading.Event()
        self.current: int | None = None  # file id being written

    def put(self, item: tuple[str, Any, Any]) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled
            try:
                self.items.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


class _Sink(Py7zIO):
    """Receives one 7z member's bytes; hands them over when py7zr closes it."""

    def __init__(self, bridge: _Bridge, file_id: int) -> None:
        self._bridge = bridge
        self._id = file_id
        self._buf = io.BytesIO()
        self._size = 0

    def write(self, s: bytes | bytearray) -> int:
        bridge = self._bridge
        if bridge.cancelled.is_set():
            raise _Cancelled
        self._size += len(s)
        if self._size > bridge.tree.limits.max_member_bytes:
            raise MediaTooLarge(
                f"more than {bridge.tree.limits.max_member_bytes} bytes when decompressed",
                reason="too-many-bytes",
            )
        bridge.tree.charge(len(s))
        return self._buf.write(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        data = self._buf.getvalue()
        self._buf = io.BytesIO()
        self._bridge.current = None
        self._bridge.put(("member", self._id, data))


class _SinkFactory(WriterFactory):
    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge

    def create(self, filename: str) -> Py7zIO:
        file_id = int(filename)
        self._bridge.current = file_id
        return _Sink(self._bridge, file_id)


def _7z_truncated(fh: IO[bytes]) -> bool:
    """True if the 7z signature header points past the end of the file."""
    try:
        fh.seek(0)
        sig = fh.read(32)
        length = fh.seek(0, io.SEEK_END)
    except OSError:
        return False
    if len(sig) < 32:
        return True
    offset, size = struct.unpack_from("<QQ", sig, 12)
    return bool(32 + offset + size > length)


def _7z_encrypted(folder: Any) -> bool:
    return bool(SupportedMethods.needs_password(getattr(folder, "coders", [])))


@dataclass
class _Planned:
    index: int
    path: str
    size: int
    mtime: datetime | None
    folder: Any


def _iter_7z(fh: IO[bytes], level: _Level) -> Iterator[Member]:
    try:
        szf = py7zr.SevenZipFile(fh, mode="r")
    except Exception as exc:
        if _7z_truncated(fh):
            error: MediaError = CorruptMedia(
                "7z is truncated: its header lies past the end of the file", reason="truncated"
            )
        else:
            error = _classify(exc, "7z")
        yield level.error(error)
        return
    try:
        yield from _iter_7z_open(szf, level)
    finally:
        szf.close()


def _iter_7z_open(szf: py7zr.SevenZipFile, level: _Level) -> Iterator[Member]:
    tree = level.tree
    files = list(szf.files)
    # Per-folder sizes: in a solid folder only the folder's packed size is known.
    unpacked: dict[int, int] = {}
    packed: dict[int, int] = {}
    for f in files:
        props = cast("Mapping[str, Any]", f.file_properties())
        folder = props.get("folder")
        if folder is not None:
            unpacked[id(folder)] = unpacked.get(id(folder), 0) + int(f.uncompressed or 0)
            packed[id(folder)] = sum(props.get("packsizes") or [0])

    names = _Names(level.path)
    refusals: list[tuple[int, Member]] = []
    planned: dict[int, _Planned] = {}
    over: MediaError | None = None  # the member limit, hit while planning
    for index, f in enumerate(files):
        if f.is_directory:
            continue
        if tree.members >= tree.limits.max_members:
            over = tree.too_many_members()  # read the members before the limit first
            break
        tree.members += 1
        stamp = f.lastwritetime
        mtime = _filetime(int(stamp)) if stamp is not None else None
        size = int(f.uncompressed or 0)
        folder = f.folder
        refusal: MediaError | None = _unsafe_name(f.filename)
        if refusal is None and (f.is_symlink or f.is_junction):
            refusal = UnsupportedMedia("symbolic link member (not followed)", reason="link-member")
        if refusal is None and (
            f.is_socket or f.st_fmt in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO)
        ):
            refusal = UnsupportedMedia("device, pipe or socket member", reason="special-member")
        if refusal is None and folder is not None and _7z_encrypted(folder):
            refusal = UnsupportedMedia("member is encrypted", reason="encrypted")
        if refusal is None:
            ratio_packed = packed.get(id(folder)) if folder is not None else None
            ratio_size = unpacked.get(id(folder), size) if folder is not None else size
            refusal = tree.size_refusal(size, None)
            if (
                refusal is None
                and ratio_packed is not None
                and size > _RATIO_FLOOR
                and ratio_size > tree.limits.max_ratio * max(1, ratio_packed)
            ):
                refusal = MediaTooLarge(
                    f"member's block declares {ratio_size} bytes from {ratio_packed} "
                    f"compressed (ratio over {tree.limits.max_ratio:g})",
                    reason="archive-bomb",
                )
        path = names.path(f.filename, refused=refusal is not None)
        if refusal is not None:
            refusals.append((index, Member(path, None, refusal, size, mtime)))
        else:
            planned[f.id] = _Planned(index, path, size, mtime, folder)

    pending = dict(planned)
    damaged = False
    next_refusal = 0
    while pending and tree.stop is None:
        bridge = _Bridge(tree)
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=_7z_produce,
            args=(szf, set(pending), bridge, tree, failure),
            name="tessera-7z",
            daemon=True,
        )
        thread.start()
        try:
            while True:
                try:
                    kind, file_id, payload = bridge.items.get(timeout=0.1)
                except queue.Empty:
                    if thread.is_alive():
                        continue
                    kind, file_id, payload = "done", None, None
                if kind != "member":
                    break
                item = pending.pop(file_id)
                while next_refusal < len(refusals) and refusals[next_refusal][0] < item.index:
                    yield refusals[next_refusal][1]
                    next_refusal += 1
                yield from _emit(level, item.path, payload, item.size, item.mtime)
                if tree.stop is not None:
                    break
        finally:
            bridge.cancelled.set()
            with contextlib.suppress(queue.Empty):
                while True:
                    bridge.items.get_nowait()
            thread.join(timeout=10)
        if not failure:
            break
        error = tree.stop or _classify(failure[0], "member")
        if isinstance(failure[0], py7zr.DecompressionBombError):
            tree.stop = error  # py7zr counted bytes the tree total must not grant again
        failed = bridge.current
        if failed is not None and failed in pending:
            item = pending.pop(failed)
            yield Member(item.path, None, error, item.size, item.mtime)
            victims = [k for k, p in pending.items() if p.folder is item.folder]
        else:
            victims = list(pending)
        for k in victims:
            p = pending.pop(k)
            follow_on = type(error)(
                f"not readable after an earlier error in the same 7z block ({error.message})",
                reason=error.reason,
            )
            yield Member(p.path, None, follow_on, p.size, p.mtime)
        damaged = True
    yield from (m for _, m in refusals[next_refusal:])
    for p in pending.values():  # only left when the tree was stopped
        yield Member(p.path, None, tree.stop or CorruptMedia("not read"), p.size, p.mtime)
    if damaged and tree.stop is None:
        yield level.error(
            CorruptMedia("7z is damaged; some members could not be read", reason="corrupt")
        )
    if over is not None and tree.stop is None:
        tree.stop = over
        yield level.error(over)


def _7z_produce(
    szf: py7zr.SevenZipFile,
    targets: set[int],
    bridge: _Bridge,
    tree: _Tree,
    failure: list[BaseException],
) -> None:
    """Decompression thread: extract ``targets`` into sinks, one round."""
    try:
        szf.reset()
        worker = szf.worker
        factory = _SinkFactory(bridge)
        for f in szf.files:
            worker.register_filelike(f.id, MemIO(str(f.id), factory) if f.id in targets else None)
        worker.max_extract_size = tree.remaining()
        worker.extract(szf.fp, None, parallel=False)
    except _Cancelled:
        return
    except Exception as exc:
        failure.append(exc)
    try:
        bridge.put(("done", None, None))
    except _Cancelled:
        return


__all__ = [
    "DEFAULT_LIMITS",
    "HEAD_BYTES",
    "SEPARATOR",
    "ArchiveKind",
    "ArchiveLimits",
    "Member",
    "is_archive",
    "iter_archive",
]
