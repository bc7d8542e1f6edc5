"""7z through py7zr's in-memory writer factory, one member handed over at a time."""

from __future__ import annotations

import contextlib
import io
import queue
import stat
import struct
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

import py7zr
from py7zr.compressor import SupportedMethods
from py7zr.io import MemIO, Py7zIO, WriterFactory

from tessera.errors import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMedia
from tessera.pipeline.archives.classify import classify
from tessera.pipeline.archives.limits import RATIO_FLOOR, Tree
from tessera.pipeline.archives.member import Member, filetime
from tessera.pipeline.archives.names import Names, unsafe_name
from tessera.pipeline.archives.tree import ArchiveLevel, emit


class _Cancelled(Exception):
    """The consumer went away: stop decompressing."""


class _Bridge:
    """Hands members from py7zr's decompression thread to the generator, one at a time."""

    def __init__(self, tree: Tree) -> None:
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


def iter_7z(fh: IO[bytes], level: ArchiveLevel) -> Iterator[Member]:
    try:
        szf = py7zr.SevenZipFile(fh, mode="r")
    except Exception as exc:
        if _7z_truncated(fh):
            error: MediaError = CorruptMedia(
                "7z is truncated: its header lies past the end of the file", reason="truncated"
            )
        else:
            error = classify(exc, "7z")
        yield level.error(error)
        return
    try:
        yield from _iter_7z_open(szf, level)
    finally:
        szf.close()


def _iter_7z_open(szf: py7zr.SevenZipFile, level: ArchiveLevel) -> Iterator[Member]:
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

    names = Names(level.path)
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
        mtime = filetime(int(stamp)) if stamp is not None else None
        size = int(f.uncompressed or 0)
        folder = f.folder
        refusal: MediaError | None = unsafe_name(f.filename)
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
                and size > RATIO_FLOOR
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
                yield from emit(level, item.path, payload, item.size, item.mtime)
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
        error = tree.stop or classify(failure[0], "member")
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
    tree: Tree,
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
