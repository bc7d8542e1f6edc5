"""A triage run's journal: what is decided survives a kill, so a re-run goes on.

A 100,000-file triage takes hours; a crash, Ctrl-C or reboot must not mean starting
over. The run appends what it has decided to one file: each verdict chunk's files
(hashes and match results, never pixels, keypoints or colour layouts) with the
top-level path each came from (its size and mtime_ns, and how many results it gave),
then each searched file's leads. Every record is flushed and fsynced before the run
goes on. A re-run of the same triage (same journal folder) takes from it every
top-level path whose results are all there and whose size and mtime_ns are
unchanged, and every such file's leads, instead of reading the files again.

Format: MessagePack maps, one after the other, plain values only (text, numbers,
bytes, lists, maps; files as ``tessera.pipeline.wire`` encodes them), never pickle,
and every value checked on reading. A record cut short by a kill (the last one) is
ignored and cut off; so is anything after a record that does not read back. A
journal is one run's own: the first record names the run's key, and one process
at a time holds it (an advisory lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from tessera.errors import InvalidInput
from tessera.matching.av_match import AvHit
from tessera.matching.pdq_store import PdqHit
from tessera.matching.scene_triage import Related
from tessera.matching.triage.decided import Decided
from tessera.pipeline import wire

FORMAT = 1
FILE = "journal.msgpack"

Stat = tuple[int, int] | None
"""A top-level path's (size, mtime_ns) when the walk found it; None if unreadable."""


def file_stat(path: Path) -> Stat:
    """``path``'s size and modification time in nanoseconds, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Top:
    """A top-level path of the walk: its label, its stat, how many results it gave
    (None on the results of a large archive before its last: more are coming)."""

    label: str
    stat: Stat
    files: int | None


@dataclass
class _TopState:
    stat: Stat
    files: int | None
    attempt: int
    decided: list[Decided] = field(default_factory=list)


class Journal:
    """One run's journal file, open for appending (see the module doc)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._attempt = 0
        self._tops: dict[str, _TopState] = {}
        self._leads: dict[str, tuple[int, list[Related]]] = {}
        self._file_top: dict[str, str] = {}
        self._taken: set[str] = set()

    @classmethod
    def open(cls, folder: Path, key: str, *, fresh: bool = False) -> Journal:
        """The journal in ``folder`` for the run ``key`` (made if missing; ``fresh``:
        emptied first). OSError if it cannot be made, or ``BlockingIOError`` when
        another process holds it."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            journal = cls(path, fd)
            if fresh:
                os.ftruncate(fd, 0)
            good, head = journal._load(key)
            if not head:
                good = 0
                journal._tops.clear()
                journal._leads.clear()
                journal._file_top.clear()
            os.ftruncate(fd, good)  # a torn or unreadable tail is cut off
            if not head:
                journal._append({"t": "head", "format": FORMAT, "key": key})
            journal._append({"t": "attempt"})
            journal._attempt += 1
        except BaseException:
            os.close(fd)
            raise
        return journal

    # reading

    def _load(self, key: str) -> tuple[int, bool]:
        """Read the records back; (offset after the last good one, whether the file
        starts with this run's head)."""
        good, head = 0, False
        with open(self.path, "rb") as f:
            unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=True, use_list=True)
            try:
                for record in unpacker:
                    if not head:
                        if not (
                            isinstance(record, dict)
                            and record.get("t") == "head"
                            and record.get("format") == FORMAT
                            and record.get("key") == key
                        ):
                            return 0, False
                        head = True
                    else:
                        self._apply(record)
                    good = unpacker.tell()
            except (ValueError, TypeError, KeyError, msgpack.UnpackException, InvalidInput):
                pass  # unreadable from here on: cut off, redone
        return good, head

    def _apply(self, record: Any) -> None:
        kind = _typed(record, dict).get("t")
        if kind == "attempt":
            self._attempt += 1
        elif kind == "verdicts":
            files = wire.decode(_typed(record["files"], bytes))
            tops = _typed(record["tops"], list)
            found = _typed(record["found"], list)
            if not len(files) == len(tops) == len(found):
                raise _bad("verdict lists differ in length")
            pending = [
                (_top(t), _decided(f, d)) for f, t, d in zip(files, tops, found, strict=True)
            ]
            for top, decided in pending:
                self._note(top, decided)
        elif kind == "leads":
            label = _typed(record["path"], str)
            self._leads[label] = (self._attempt, [_related(r) for r in _list(record["related"])])
        else:
            raise _bad(f"record kind {kind!r}")

    def _note(self, top: Top, decided: Decided) -> None:
        state = self._tops.get(top.label)
        if state is None or state.attempt != self._attempt or state.stat != top.stat:
            state = self._tops[top.label] = _TopState(top.stat, top.files, self._attempt)
        state.files = top.files  # the latest says whether the path's results are all in
        state.decided.append(decided)
        self._file_top[decided.file.path] = top.label

    def decided(self, label: str, stat: Stat) -> list[Decided] | None:
        """The journaled results of the top-level path ``label`` when all of them are
        there and the path's ``stat`` is the one they were made from, else None."""
        state = self._tops.get(label)
        if state is None or state.files is None or state.stat != stat:
            return None
        if len(state.decided) < state.files:
            return None
        self._taken.add(label)
        return state.decided[-state.files :] if state.files else []

    def leads(self, label: str) -> list[Related] | None:
        """The journaled leads of the file ``label`` (whose top-level path
        :meth:`decided` gave back), else None."""
        found = self._leads.get(label)
        top = self._file_top.get(label)
        if found is None or top is None or top not in self._taken:
            return None
        attempt, related = found
        return related if attempt >= self._tops[top].attempt else None

    # writing

    def add_verdicts(self, entries: Sequence[tuple[Top, Decided]]) -> None:
        """Journal a chunk's decided files, each with the top-level path it came from."""
        self._append(
            {
                "t": "verdicts",
                "files": wire.encode(d.file for _, d in entries),
                "tops": [[t.label, list(t.stat) if t.stat else None, t.files] for t, _ in entries],
                "found": [_plain(d) for _, d in entries],
            }
        )

    def add_leads(self, label: str, related: Sequence[Related]) -> None:
        """Journal one searched file's leads (none is an answer too)."""
        self._append({"t": "leads", "path": label, "related": [_plain_related(r) for r in related]})

    def _append(self, record: Mapping[str, Any]) -> None:
        data = memoryview(msgpack.packb(record, use_bin_type=True, default=_default))
        while data:
            data = data[os.write(self._fd, data) :]
        os.fsync(self._fd)

    def close(self) -> None:
        """Let go of the journal (it stays for a re-run); once only."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        """Delete the journal and its folder (the run is finished)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.close()
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()


def _default(value: Any) -> Any:
    """NumPy scalars (in a match's detail) as plain numbers."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"cannot journal {type(value).__name__}")


def _plain(d: Decided) -> dict[str, Any]:
    return {
        "exact": list(d.exact) if d.exact else None,
        "near": [[mid, dist, via] for mid, (dist, via) in d.near.items()],
        "hits": [
            [h.query, h.fingerprint_id, h.media_id, h.distance, h.quality, h.position]
            for h in d.pdq_hits
        ],
        "av": [[a.media_id, a.via, a.distance, a.detail] for a in d.av],
        "related": [_plain_related(r) for r in d.related],
    }


def _plain_related(r: Related) -> list[Any]:
    return [r.media_id, r.relation, r.detail]


def _bad(what: str) -> InvalidInput:
    return InvalidInput(f"triage journal: {what}", reason="invalid-journal")


def _typed(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise _bad(f"{type(value).__name__} where {kind.__name__} was expected")
    return value


def _list(value: Any) -> list[Any]:
    out: list[Any] = _typed(value, list)
    return out


def _detail(value: Any) -> dict[str, Any]:
    d: dict[str, Any] = _typed(value, dict)
    for k in d:
        _typed(k, str)
    return d


def _top(raw: Any) -> Top:
    label, stat, files = _list(raw)
    if stat is not None:
        size, mtime = _list(stat)
        stat = (_typed(size, int), _typed(mtime, int))
    return Top(_typed(label, str), stat, None if files is None else _typed(files, int))


def _related(raw: Any) -> Related:
    mid, relation, detail = _list(raw)
    return Related(_typed(mid, int), _typed(relation, str), _detail(detail))


def _hit(raw: Any) -> PdqHit:
    query, fid, mid, dist, quality, position = _list(raw)
    return PdqHit(
        _typed(query, int),
        _typed(fid, int),
        _typed(mid, int),
        _typed(dist, int),
        None if quality is None else _typed(quality, int),
        _typed(position, int),
    )


def _decided(file: Any, raw: Any) -> Decided:
    d = _typed(raw, dict)
    exact = d["exact"]
    if exact is not None:
        mid, via = _list(exact)
        exact = (_typed(mid, int), _typed(via, str))
    near: dict[int, tuple[int, str]] = {}
    for item in _list(d["near"]):
        mid, dist, via = _list(item)
        near[_typed(mid, int)] = (_typed(dist, int), _typed(via, str))
    av = []
    for item in _list(d["av"]):
        mid, via, dist, detail = _list(item)
        av.append(AvHit(_typed(mid, int), _typed(via, str), _typed(dist, int), _detail(detail)))
    return Decided(
        file,
        exact=exact,
        near=near,
        pdq_hits=tuple(_hit(h) for h in _list(d["hits"])),
        av=tuple(av),
        related=tuple(_related(r) for r in _list(d["related"])),
    )


__all__ = ["FILE", "FORMAT", "Journal", "Stat", "Top", "file_stat"]
