"""One top-level path in, every file it holds out: a plain file, or an archive's members.

This is the unit of work a pool worker runs. A plain file gives one
``FileResult``. An archive (sniffed by content) gives one result per member,
nested archives included, named by virtual paths such as
``seizure.zip!/photos/a.jpg``, followed by a result for the archive file itself
(its exact digests, so known archives are recognised too, and what went wrong
with the archive as a whole, if anything). Members that are refused (path
traversal, bombs, encryption) come back as errors with reasons, never silently
dropped. A picture with an archive appended to it (a polyglot) is fingerprinted
as the picture, flagged ``appended-archive``, and the archive's members follow as
``picture.jpg!/member``. Each path appears once in what :func:`expand_path` returns.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from tessera.errors import MediaError, UnreadableFile
from tessera.media.sniff import sniff
from tessera.pipeline.archives import (
    INDEXED,
    Member,
    is_archive,
    iter_archive,
    member_index,
    reaches,
)
from tessera.pipeline.av import stream_digests
from tessera.pipeline.fingerprint import hash_bytes, hash_file
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.polyglot import APPENDED_ARCHIVE, appended_archive
from tessera.pipeline.read import read_file, read_head
from tessera.pipeline.result import FileResult, digests


def _archive_result(path: str, data: bytes, kind: str) -> FileResult:
    return replace(digests(data, path), format=kind, flags=("archive",))


def _member_error(member: Member) -> FileResult:
    err = member.error
    reason = err.reason if err else "unreadable"
    message = err.message if err else "member could not be read"
    if member.data:  # e.g. a too-deep or damaged nested archive: keep its digests
        kept = digests(member.data, member.path)
        return replace(kept, status="error", reason=reason, message=message)
    return FileResult(member.path, "error", size=member.size, reason=reason, message=message)


def expand_path(path: Path, options: ExpandOptions) -> list[FileResult]:
    """Fingerprint ``path``, descending into it if it is an archive.

    Every result is named by :func:`path_label` (members by the archive's label, ``!/``
    and the member name). What goes wrong with a top-level archive as a whole
    (damaged, truncated, a bomb) is reported on the archive's own result, beside its
    exact digests, never as a second result of the same path.
    """
    label = path_label(path)
    try:
        head = read_head(path)
        if sniff(head).kind in ("video", "audio"):
            return [hash_file(path, options.hash)]  # streamed, never read whole
        big = options.open_archives and path.stat().st_size > ARCHIVE_IN_MEMORY
        if big and (kind := is_archive(head)) is not None:
            return _archive_on_disk(path, label, kind, options)
        data = read_file(path, options.hash.limits)
    except MediaError as exc:
        return [FileResult(label, "error", reason=exc.reason, message=exc.message)]
    except OSError as exc:  # the stat of a file that went away after its head was read
        err = UnreadableFile.from_os_error(exc)
        return [FileResult(label, "error", reason=err.reason, message=err.message)]
    kind = is_archive(data[:512]) if options.open_archives else None
    if kind is not None:
        return _fingerprinted(
            archive_parts(data, label, _archive_result(label, data, kind), options), options
        )
    result = hash_bytes(data, label, options.hash)
    hidden = appended_archive(data)
    if hidden is None:
        return [result]
    # a polyglot: the picture is fingerprinted as itself, and the archive after it opened
    result = replace(result, flags=(*result.flags, APPENDED_ARCHIVE))
    if not options.open_archives:
        return [result]
    offset, _ = hidden
    return _fingerprinted(archive_parts(data[offset:], label, result, options), options)


def expand_members(
    path: Path, labels: Collection[str], options: ExpandOptions
) -> Iterator[FileResult]:
    """The results of ``labels`` alone (members of the archive ``path``, or ``path``
    itself), one at a time, for a stage that reads some files of a seizure again: the
    archive's other members are not fingerprinted, nor, in a zip or plain tar,
    read (``archives.index`` leads to each). A label not among the results could not
    be read (or is not there any more). Anything but an archive (a plain file, a
    picture with an archive appended) is expanded as usual."""
    label = path_label(path)
    try:
        kind = is_archive(read_head(path)) if options.open_archives else None
    except MediaError:
        kind = None
    if kind is None:
        yield from expand_path(path, options)
        return
    wanted = set(labels)
    try:
        if wanted - {label}:
            index = member_index(path, label, options.archives) if kind in INDEXED else None
            members = (
                index.read(wanted)
                if index is not None
                else iter_archive(path, label, options.archives, wanted=reaches(wanted))
            )
            for member in members:
                if member.path in wanted and member.ok and member.data is not None:
                    yield hash_bytes(member.data, member.path, options.hash)
        if label in wanted:  # the archive itself: its digests, not its members again
            yield disk_archive_result(path, label, kind)
    except MediaError:  # the archive cannot be opened (or read) now: what was read stands
        return


ARCHIVE_IN_MEMORY = 64 * 1024**2
"""Archives up to this size are read into memory once (their digests and members
from one read). A larger one is read from disk as its members are reached (a zip
through its central directory), so a worker holds one member at a time, not the
archive, and an archive larger than the decode limits' ``max_bytes`` (512 MiB by
default) is opened all the same: its members, not its size, are what the archive
limits bound. Its digests come from a second, streamed read."""


def archive_on_disk(path: Path) -> str | None:
    """The format of ``path`` if it is an archive read from disk (over
    ``ARCHIVE_IN_MEMORY``), else None (also when it cannot be read: ``expand_path``
    reports that)."""
    try:
        if path.stat().st_size <= ARCHIVE_IN_MEMORY:
            return None
        return is_archive(read_head(path))
    except (MediaError, OSError):
        return None


def disk_archive_result(path: Path, label: str, kind: str) -> FileResult:
    """The archive's own result (its digests, streamed), before its errors."""
    return replace(stream_digests(path, label), format=kind, flags=("archive",))


def _archive_on_disk(path: Path, label: str, kind: str, options: ExpandOptions) -> list[FileResult]:
    """``expand_path`` for an archive read from disk (see ``ARCHIVE_IN_MEMORY``)."""
    own = disk_archive_result(path, label, kind)
    return _fingerprinted(archive_parts(path, label, own, options), options)


@dataclass(frozen=True)
class MemberBytes:
    """A member read, its bytes to fingerprint."""

    path: str
    data: bytes


def archive_parts(
    source: bytes | Path, label: str, own: FileResult, options: ExpandOptions
) -> Iterator[FileResult | MemberBytes]:
    """The archive ``source`` (its bytes or its file, members named ``label!/...``)
    in order: a member read (its bytes to fingerprint), or the result of one refused
    or unreadable; last, ``own`` (the archive's own result) with the errors of the
    archive as a whole."""
    own_errors: list[MediaError] = []
    for member in iter_archive(source, label, options.archives):
        if member.path == label:
            if member.error is not None:
                own_errors.append(member.error)
        elif member.error is not None or member.data is None:
            yield _member_error(member)
        else:
            yield MemberBytes(member.path, member.data)
    yield _with_errors(own, own_errors)


def _fingerprinted(
    parts: Iterable[FileResult | MemberBytes], options: ExpandOptions
) -> list[FileResult]:
    return one_per_path(
        [
            p if isinstance(p, FileResult) else hash_bytes(p.data, p.path, options.hash)
            for p in parts
        ]
    )


def _with_errors(result: FileResult, errors: list[MediaError]) -> FileResult:
    return with_errors(result, [(e.reason, e.message) for e in errors])


def with_errors(result: FileResult, errors: list[tuple[str, str]]) -> FileResult:
    """An archive's own result with the errors of the archive as a whole, as
    (reason, message): the first reason, every message."""
    if not errors:
        return result
    return replace(
        result,
        status="error",
        reason=errors[0][0],
        message="; ".join(message for _, message in errors),
    )


def member_results(members: Iterable[Member], options: ExpandOptions) -> list[FileResult]:
    """Members of an archive (not the archive's own errors) fingerprinted, or their
    error results, one result a path: what ``expand_path`` gives for them."""
    return one_per_path(
        [
            _member_error(m)
            if m.error is not None or m.data is None
            else hash_bytes(m.data, m.path, options.hash)
            for m in members
        ]
    )


def one_per_path(results: list[FileResult]) -> list[FileResult]:
    """Merge results that name the same path (a damaged nested 7z can report itself
    twice): the first keeps its digests and gains the later ones' errors."""
    merged: dict[str, FileResult] = {}
    for r in results:
        kept = merged.get(r.path)
        if kept is None:
            merged[r.path] = r
        elif r.status == "error":
            merged[r.path] = replace(
                kept,
                status="error",
                reason=kept.reason if kept.status == "error" else r.reason,
                message="; ".join(m for m in (kept.message, r.message) if m),
            )
    return list(merged.values())


__all__ = [
    "ARCHIVE_IN_MEMORY",
    "MemberBytes",
    "archive_on_disk",
    "archive_parts",
    "disk_archive_result",
    "expand_members",
    "expand_path",
    "member_results",
    "one_per_path",
    "with_errors",
]
