"""An archive's members fingerprinted on every worker of the pool, not on one.

A top-level path is the pool's unit of work, so an archive of 3,000 pictures was
fingerprinted by one worker while the others idled: a seizure packed as one zip
triaged at half speed on two cores, at an eighth on eight. A large archive (one read
from disk, over ``expand.ARCHIVE_IN_MEMORY``) is now read by a process of its own,
the archive reader, which sends each member's bytes as it reaches them; each
member is one job of the pool, or small ones a few to a job (``SmallMembers``: a
phone dump's thousands of small files are each cheaper than a job's round trip; a
job of several that kills its worker is run again member by member, so only the
member that kills it again is lost). The archive is still read once, under one set of
limits, by ``expand.archive_parts``, the code ``expand_path`` runs, so members,
names, refusals and errors are the same; only their fingerprinting is spread.
Hostile archive content is parsed in the reader, never in the main process, and a
reader that dies costs the archive's remaining members, reported on the archive's
own result, not the run. The pipe to the reader holds a few members at most: it
reads no further ahead than the pool asks.

A job's result carries ``last``, so that the results of one path can be put back
together in order (``regroup``). A large archive's results come in pieces, as its
members are done, not all at its end: the consumer (triage's verdict chunks,
ingest's batches) works on them while the pool works on, and they are not all held
in memory. A piece ends only between two members of the archive itself, never
inside a nested archive, whose damage can report its path twice (merged in one
piece by ``one_per_path``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tessera.errors import MediaError
from tessera.pipeline.archives import INDEXED, SEPARATOR, archive_format, iter_archive, reaches
from tessera.pipeline.expand import (
    archive_on_disk,
    archive_parts,
    disk_archive_result,
    expand_path,
    one_per_path,
)
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.pool import retry_alone
from tessera.pipeline.result import FileResult


@dataclass(frozen=True)
class PathJob:
    """Expand one top-level path in a worker (a file, or an archive read whole)."""

    path: Path
    last: bool = True


@dataclass(frozen=True)
class MemberJob:
    """Fingerprint one member's bytes in a worker."""

    label: str
    data: bytes
    last: bool = False
    cut: bool = False  # a piece may end before it (see the module doc)


@dataclass(frozen=True)
class SmallPaths:
    """Expand several small top-level files in a worker, one after the other (an
    extracted phone dump: a folder of thousands of small files)."""

    paths: tuple[Path, ...]
    last: bool = True


@dataclass(frozen=True)
class SmallMembers:
    """Fingerprint several small members' bytes in a worker, one after the other
    (``SMALL_MEMBER``: a job's own cost would be most of theirs)."""

    members: tuple[tuple[str, bytes], ...]
    last: bool = False
    cut: bool = False  # a piece may end before its first member


@dataclass(frozen=True)
class Ready:
    """Results with nothing left to compute (a refused member, the archive's own)."""

    results: tuple[FileResult, ...]
    last: bool = False
    cut: bool = False


Job = PathJob | SmallPaths | MemberJob | SmallMembers | Ready


@dataclass(frozen=True)
class Done:
    """A job's results; whether they end their top-level path's, and whether a piece
    of it may end before them."""

    results: list[FileResult]
    last: bool
    cut: bool = False
    per_path: tuple[int, ...] | None = None
    """For a job of several whole paths (``SmallPaths``): how many of ``results`` are
    each one's, in order."""


PIECE = 64
"""Results of a large archive handed on together (triage's verdict chunk)."""

MEMBER_BYTES = 8 * 1024**2
"""Members up to this size go to the pool; a larger one (a video, a huge picture) is
fingerprinted by the reader itself, as the one worker did before. The pool keeps
dozens of jobs in flight (triage: 80 on two workers), and each holds its member's
bytes: at up to 512 MiB a member (``ArchiveLimits.max_member_bytes``) that could be
tens of GiB; at this size it stays under a GiB."""


SMALL_MEMBER = 64 * 1024
"""Members up to this size go to the pool together, up to ``SMALL_JOB_MEMBERS`` (and
``SMALL_JOB_BYTES``) a job. A phone dump is mostly small files that are not pictures
(databases, property lists, logs), each fingerprinted in well under a millisecond, while
a job's round trip to a worker (pickling, the queues, the future) costs about 0.3 ms:
one job each, that overhead was most of the dump's first pass."""

SMALL_JOB_MEMBERS = 32
SMALL_JOB_BYTES = 512 * 1024


def run_job(job: Job, options: ExpandOptions) -> Done:
    """What a worker (or, for ``Ready``, the main process) makes of ``job``."""
    if isinstance(job, PathJob):
        return Done(expand_path(job.path, options), job.last)
    if isinstance(job, SmallPaths):
        return _per_path([expand_path(path, options) for path in job.paths])
    if isinstance(job, MemberJob):
        return Done([hash_bytes(job.data, job.label, options.hash)], job.last, job.cut)
    if isinstance(job, SmallMembers):
        results = [hash_bytes(data, label, options.hash) for label, data in job.members]
        return Done(results, job.last, job.cut)
    return Done(list(job.results), job.last, job.cut)


def is_ready(job: Job) -> bool:
    return isinstance(job, Ready)


def crashed_label(label: str) -> FileResult:
    """What a file whose decoder killed its worker (twice) comes back as."""
    return FileResult(
        label, "error", reason="worker-crashed", message="the decoder process died on this file"
    )


def crashed_job(job: Job, again: Callable[[Job], Done] | None = None) -> Done:
    """What a job whose work killed its worker (twice) comes back as. A job of several
    members is run again by ``again`` (the pool's function) member by member, each in a
    worker of its own, so that only a member that kills a worker again is
    ``worker-crashed`` (without ``again``, all of them are)."""
    if isinstance(job, PathJob):
        return Done([crashed_label(path_label(job.path))], job.last)
    if isinstance(job, SmallPaths):
        if again is None:
            return _per_path([[crashed_label(path_label(path))] for path in job.paths])
        each: list[Job] = [PathJob(path) for path in job.paths]
        return _per_path([done.results for done in retry_alone(each, again, crashed_job)])
    if isinstance(job, MemberJob):
        return Done([crashed_label(job.label)], job.last, job.cut)
    if isinstance(job, SmallMembers):
        alone: list[Job] = [MemberJob(label, data) for label, data in job.members]
        if again is None:
            results = [crashed_label(label) for label, _ in job.members]
        else:
            results = [r for done in retry_alone(alone, again, crashed_job) for r in done.results]
        return Done(results, job.last, job.cut)
    return Done(list(job.results), job.last, job.cut)


def jobs(paths: Iterable[Path], options: ExpandOptions, *, fan_out: bool) -> Iterator[Job]:
    """The pool's jobs for ``paths`` in order: one per path, or with ``fan_out`` one
    per member of each archive read from disk and, last, the archive's own result,
    and small files (``SMALL_MEMBER``) a few to a job, as small members are."""
    small: list[Path] = []
    size = 0
    for path in paths:
        kind = archive_on_disk(path) if fan_out and options.open_archives else None
        length = _size(path) if fan_out and kind is None else None
        tiny = length is not None and length <= SMALL_MEMBER
        if small and (not tiny or len(small) >= SMALL_JOB_MEMBERS or size >= SMALL_JOB_BYTES):
            yield SmallPaths(tuple(small)) if len(small) > 1 else PathJob(small[0])
            small, size = [], 0
        if tiny:
            small.append(path)
            size += length or 0
        elif kind is None:
            yield PathJob(path)
        else:
            yield from _archive_jobs(path, kind, options)
    if small:
        yield SmallPaths(tuple(small)) if len(small) > 1 else PathJob(small[0])


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:  # expand_path reports it
        return None


def _per_path(groups: list[list[FileResult]]) -> Done:
    """The ``Done`` of a job of several whole paths, from each one's results."""
    results = [r for group in groups for r in group]
    return Done(results, True, per_path=tuple(len(group) for group in groups))


def regroup(
    done: Iterable[Done], piece: int | None = None
) -> Iterator[tuple[list[FileResult], bool]]:
    """Each top-level path's results, put back together from its jobs', in pieces of
    about ``piece`` (``PIECE``; True with the piece that ends the path's)."""
    piece = PIECE if piece is None else piece
    group: list[FileResult] = []
    for d in done:
        if d.per_path is not None:  # several whole paths (always between two paths)
            at = 0
            for n in d.per_path:
                yield one_per_path(d.results[at : at + n]), True
                at += n
            continue
        if d.cut and len(group) >= piece:
            yield one_per_path(group), False
            group = []
        group.extend(d.results)
        if d.last:
            yield one_per_path(group), True
            group = []


def _archive_jobs(path: Path, kind: str, options: ExpandOptions) -> Iterator[Job]:
    label = path_label(path)
    task = _Reading(path, label, kind, options, MEMBER_BYTES)
    held: MemberJob | SmallMembers | Ready | None = None  # one back: is it the last?
    own = False
    with closing(_messages(_read_archive, task)) as messages:
        for job in _batched(_cut(_read_jobs(messages), label)):
            if held is not None:
                yield held
            held, own = job, isinstance(job, Ready) and job.results[0].path == label
    if not own:  # the reader died before the archive's own result
        lost = FileResult(
            label,
            "error",
            reason="worker-crashed",
            message="the archive reader process died; members after the last one "
            "reported were not read",
        )
        if held is not None:
            yield held
        held = Ready((lost,))
    assert held is not None
    yield replace(held, last=True)


def _messages(target: Callable[[Any, Connection], None], task: object) -> Generator[object]:
    """What a reader process running ``target(task, send)`` sends, until it ends (it is
    stopped when the caller stops listening first: the run was stopped)."""
    ctx = multiprocessing.get_context("forkserver")
    receive, send = ctx.Pipe(duplex=False)
    reader = ctx.Process(target=target, args=(task, send), daemon=True)
    reader.start()
    send.close()
    try:
        while True:
            try:
                message = receive.recv()
            except (EOFError, OSError):
                return
            yield message
    finally:
        receive.close()
        reader.join(timeout=5)
        if reader.is_alive():
            reader.kill()
            reader.join()


def _read_jobs(messages: Iterable[object]) -> Iterator[MemberJob | Ready]:
    """The reader's messages as jobs, until one is not what the reader sends (taken as
    the reader failing)."""
    for message in messages:
        job = _job(message)
        if job is None:
            return
        yield job


def _cut(read: Iterable[MemberJob | Ready], label: str) -> Iterator[MemberJob | Ready]:
    """``read`` with ``cut`` set on each job a piece may end before: the first of each
    member of the archive itself (a nested archive's members all belong to it)."""
    previous: str | None = None
    for job in read:
        key = _first_level(job, label)
        yield job if key == previous else replace(job, cut=True)
        previous = key


def _batched(
    jobs_: Iterable[MemberJob | Ready],
) -> Iterator[MemberJob | SmallMembers | Ready]:
    """``jobs_`` with runs of small members (``SMALL_MEMBER``) put together in
    ``SmallMembers`` jobs, in order. A batch takes its first member's ``cut``: a piece
    may end before it, never inside it."""
    batch: list[MemberJob] = []
    size = 0

    def flush() -> Iterator[MemberJob | SmallMembers]:
        if len(batch) == 1:
            yield batch[0]
        elif batch:
            members = tuple((j.label, j.data) for j in batch)
            yield SmallMembers(members, cut=batch[0].cut)
        batch.clear()

    for job in jobs_:
        small = isinstance(job, MemberJob) and len(job.data) <= SMALL_MEMBER
        if not small or len(batch) >= SMALL_JOB_MEMBERS or size >= SMALL_JOB_BYTES:
            yield from flush()
            size = 0
        if not small:
            yield job
            continue
        assert isinstance(job, MemberJob)
        batch.append(job)
        size += len(job.data)
    yield from flush()


def _job(message: object) -> MemberJob | Ready | None:
    """The job for one message of the reader (None for anything it does not send)."""
    if not isinstance(message, tuple) or len(message) != 3:
        return None
    kind, first, second = message
    if kind == "member" and isinstance(first, str) and isinstance(second, bytes):
        return MemberJob(first, second)
    if kind == "ready" and isinstance(first, FileResult):
        return Ready((first,))
    return None


def _first_level(job: MemberJob | Ready, label: str) -> str | None:
    """The archive's own member a job's result belongs to (a nested archive's members
    all belong to it), or None for the archive's own result."""
    path = job.label if isinstance(job, MemberJob) else job.results[0].path
    if not path.startswith(label + SEPARATOR):
        return None
    return path[len(label) + len(SEPARATOR) :].split(SEPARATOR, 1)[0]


@dataclass(frozen=True)
class _Reading:
    """What the archive reader is to read, and the largest member it hands on."""

    path: Path
    label: str
    kind: str
    options: ExpandOptions
    largest: int


def streamed_archive(path: Path) -> bool:
    """Whether ``path`` is an archive whose members only a forward read reaches (a
    compressed tar, a 7z, a compressed stream): not a zip or plain tar, whose members
    ``archives.index`` reaches directly."""
    kind = archive_format(path)
    return kind is not None and kind not in INDEXED


def member_bytes(
    path: Path, labels: Collection[str], options: ExpandOptions
) -> Iterator[tuple[str, bytes | None]]:
    """The members ``labels`` of the archive ``path``, read once by a reader process
    of their own (hostile content is parsed there, not here), in archive order: (label,
    its bytes), or (label, None) for one over ``MEMBER_BYTES`` (the caller reads it
    otherwise). A member that cannot be read now, or that a dead reader did not reach,
    does not come. For a second stage over an archive without random access (a
    compressed tar, a 7z): one decompression, its members on every worker."""
    task = _Picking(path, path_label(path), tuple(labels), options, MEMBER_BYTES)
    with closing(_messages(_read_members, task)) as messages:
        for message in messages:
            if not (
                isinstance(message, tuple)
                and len(message) == 2
                and isinstance(message[0], str)
                and (message[1] is None or isinstance(message[1], bytes))
            ):
                return  # not what the reader sends: taken as the reader failing
            yield message[0], message[1]


@dataclass(frozen=True)
class _Picking:
    """What ``member_bytes``'s reader is to read."""

    path: Path
    label: str
    labels: tuple[str, ...]
    options: ExpandOptions
    largest: int


def _read_members(task: _Picking, send: Connection) -> None:
    wanted = set(task.labels)
    try:
        try:
            members = iter_archive(
                task.path, task.label, task.options.archives, wanted=reaches(wanted)
            )
            for m in members:
                if m.path in wanted and m.ok and m.data is not None:
                    send.send((m.path, m.data if len(m.data) <= task.largest else None))
        except MediaError:  # the archive cannot be opened now: nothing more comes
            pass
    except (BrokenPipeError, EOFError):  # the main process stopped listening
        pass
    finally:
        send.close()


def _read_archive(task: _Reading, send: Connection) -> None:
    """The archive reader (its own process): each member's bytes (over
    ``task.largest`` bytes, its result), or the result of one refused or unreadable, in
    order, then the archive's own result."""
    options = task.options
    try:
        try:
            own = disk_archive_result(task.path, task.label, task.kind)
            for part in archive_parts(task.path, task.label, own, options):
                if isinstance(part, FileResult):
                    send.send(("ready", part, None))
                elif len(part.data) > task.largest:
                    result = hash_bytes(part.data, part.path, options.hash)
                    send.send(("ready", result, None))
                else:
                    send.send(("member", part.path, part.data))
        except MediaError as exc:  # the archive could not be opened at all
            error = FileResult(task.label, "error", reason=exc.reason, message=exc.message)
            send.send(("ready", error, None))
    except (BrokenPipeError, EOFError):  # the main process stopped listening
        pass
    finally:
        send.close()


__all__ = [
    "MEMBER_BYTES",
    "PIECE",
    "Done",
    "Job",
    "MemberJob",
    "PathJob",
    "Ready",
    "SmallMembers",
    "SmallPaths",
    "crashed_job",
    "crashed_label",
    "is_ready",
    "jobs",
    "member_bytes",
    "regroup",
    "run_job",
    "streamed_archive",
]
