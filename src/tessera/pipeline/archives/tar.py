"""Tar (plain, or inside a compressed stream), read forward-only and in bounded reads."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator

from tessera.errors import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMedia
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.limits import CHUNK, MIB, Readable, Tree, read_member
from tessera.pipeline.archives.member import Member, utc
from tessera.pipeline.archives.names import Names, printable, unsafe_name
from tessera.pipeline.archives.tree import ArchiveLevel, emit

_MAX_TAR_READ = 16 * MIB  # largest single read tarfile may make (pax / GNU long names)


class TarReader:
    """Forward-only file object for tarfile, counting decompressed bytes.

    Remembers the last block read so that the end of a tar can be classified (tarfile
    silently stops at a damaged or missing header after the first member).
    """

    def __init__(self, src: Readable, tree: Tree, *, counts: bool) -> None:
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
        """``n`` bytes, fewer only at the end: a decompressor returns short reads, and
        tarfile takes a short read of member data for a truncated archive."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            data = self._src.read(n - got)
            if not data:
                break
            if self.counts:
                self._tree.charge(len(data))
            parts.append(data)
            got += len(data)
        return b"".join(parts)

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
                    got = self._pull(min(CHUNK, skip))
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


def _tar_refusal(ti: tarfile.TarInfo, tree: Tree) -> MediaError | None:
    refusal: MediaError | None = unsafe_name(ti.name)
    if refusal is not None:
        return refusal
    if ti.issym():
        return UnsupportedMedia(
            f"symbolic link to {printable(ti.linkname)!r} (not followed)", reason="link-member"
        )
    if ti.islnk():
        return UnsupportedMedia(
            f"hard link to {printable(ti.linkname)!r} (not followed)", reason="link-member"
        )
    if ti.ischr() or ti.isblk() or ti.isfifo():
        return UnsupportedMedia("device or pipe member", reason="special-member")
    return tree.size_refusal(ti.size, None)


def _tar_end_error(reader: TarReader, offset: int) -> MediaError | None:
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


def _tar_trailing(reader: TarReader) -> MediaError | None:
    """Read what follows a tar's end-of-archive marker: damage to a compressed stream
    shows only there, and data hidden after the end would otherwise go unreported."""
    start = reader.tell()
    hidden = 0
    try:
        while chunk := reader.read(CHUNK):
            hidden += len(chunk) - chunk.count(0)
    except Exception as exc:
        return classify(exc, "compressed tar")
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


def iter_tar(
    reader: TarReader, level: ArchiveLevel, compressed_pos: Callable[[], int] | None
) -> Iterator[Member]:
    tree = level.tree
    names = Names(level.path)
    try:
        tf = tarfile.TarFile(fileobj=reader, mode="r")
    except Exception as exc:
        yield level.error(tree.stop or classify(exc, "tar"))
        return
    while tree.stop is None:
        try:
            ti = tf.next()
        except Exception as exc:
            yield level.error(tree.stop or classify(exc, "tar"))
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
        mtime = utc(ti.mtime)
        refusal = _tar_refusal(ti, tree)
        path = names.path(ti.name, refused=refusal is not None)
        if level.skips(path):  # tarfile seeks past its data (or reads it, compressed)
            where = None if ti.sparse is not None else ti.offset_data
            level.pass_over(Member(path, None, refusal, ti.size, mtime), where)
            continue
        if refusal is not None:
            yield Member(path, None, refusal, ti.size, mtime)
            continue
        try:
            stream = tf.extractfile(ti)
            if stream is None:
                raise UnsupportedMedia("not a regular file", reason="special-member")
            with stream:
                data = read_member(
                    stream, tree, charge=not reader.counts, compressed_pos=compressed_pos
                )
        except Exception as exc:
            yield Member(path, None, classify(exc, "member"), ti.size, mtime)
            continue
        yield from emit(level, path, data, ti.size, mtime)
