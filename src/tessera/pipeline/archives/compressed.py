"""gzip, bzip2 and xz streams: a compressed tar, or a one-member archive."""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import IO, Protocol

from tessera.errors import CorruptMedia, MediaError
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.limits import CHUNK, GIB, RAW_CHUNK, read_member
from tessera.pipeline.archives.member import HEAD_BYTES, SEPARATOR, ArchiveKind, Member, utc
from tessera.pipeline.archives.names import Names, unsafe_name
from tessera.pipeline.archives.sniff import is_archive
from tessera.pipeline.archives.tar import TarReader, iter_tar
from tessera.pipeline.archives.tree import ArchiveLevel, emit

_XZ_MEMLIMIT = 1 * GIB  # liblzma decoder memory (dictionary) cap
_GZIP_HEADER_WINDOW = 72 * 1024  # FEXTRA (<= 64 KiB) + a sane FNAME


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
                rest = self._dec.unused_data or self._input or self._raw.read(RAW_CHUNK)
                self._input = b""
                if not rest:
                    return b""
                if not rest.startswith(_STREAM_MAGIC[self._kind]):
                    self._count_trailing(rest)
                    return b""
                self._dec, self._input = self._new(), rest
            if self._dec.needs_input:
                data = self._input or self._raw.read(RAW_CHUNK)
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
            rest = self._raw.read(CHUNK)


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
    mtime = utc(unix) if unix else None
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
    if not name or unsafe_name(name) is not None:
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


def iter_stream(fh: IO[bytes], kind: ArchiveKind, level: ArchiveLevel) -> Iterator[Member]:
    """A gzip, bzip2 or xz stream: a compressed tar, or a one-member archive."""
    tree = level.tree
    name, mtime = _gzip_header(fh) if kind == "gzip" else (None, None)
    stream = _StreamDecompressor(fh, kind)
    try:
        reader = TarReader(stream, tree, counts=True)
        head = reader.peek(HEAD_BYTES)
    except Exception as exc:
        yield level.error(tree.stop or classify(exc, kind))
        return
    if is_archive(head) == "tar":
        yield from iter_tar(reader, level, fh.tell)
    else:
        if (limit := tree.count_member()) is not None:
            yield level.error(limit)
            return
        path = Names(level.path).path(name or _stream_member_name(level.path, kind))
        try:
            data = read_member(reader, tree, charge=False, compressed_pos=fh.tell)
        except MediaError as exc:
            yield Member(path, None, exc, None, mtime)
            return
        except Exception as exc:
            yield level.error(classify(exc, kind))
            return
        yield from emit(level, path, data, len(data), mtime)
    if stream.trailing and tree.stop is None:
        yield level.error(
            CorruptMedia(
                f"{stream.trailing} non-zero bytes follow the end of the {kind} stream; "
                "they are not part of any member",
                reason="trailing-data",
            )
        )
