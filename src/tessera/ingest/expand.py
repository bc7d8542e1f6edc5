"""One top-level path in, every file it holds out: a plain file, or an archive's members.

This is the unit of work a pool worker runs. A plain file gives one
``FileResult``. An archive (sniffed by content) gives one result per member,
nested archives included, named by virtual paths such as
``seizure.zip!/photos/a.jpg``, followed by a result for the archive file itself
(its exact digests, so known archives are recognised too, and what went wrong
with the archive as a whole, if anything). Members that are
refused (path traversal, bombs, encryption) come back as errors with reasons,
never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from tessera.errors import MediaError
from tessera.ingest.filehash import (
    FileResult,
    HashOptions,
    digests,
    hash_bytes,
    hash_file,
)
from tessera.media.sniff import sniff
from tessera.pipeline.archives import ArchiveLimits, is_archive, iter_archive
from tessera.pipeline.label import path_label
from tessera.pipeline.read import read_file, read_head


@dataclass(frozen=True)
class ExpandOptions:
    """Hashing options plus the archive limits."""

    hash: HashOptions = field(default_factory=HashOptions)
    archives: ArchiveLimits = field(default_factory=ArchiveLimits)
    open_archives: bool = True


def _archive_result(path: str, data: bytes, kind: str) -> FileResult:
    result = digests(data, path)
    result.format, result.flags = kind, ["archive"]
    return result


def expand_path(path: Path, options: ExpandOptions) -> list[FileResult]:
    """Fingerprint ``path``, descending into it if it is an archive.

    Every result is named by :func:`path_label` (members by the archive's label, ``!/``
    and the member name), and each path appears once: what goes wrong with a top-level
    archive as a whole (damaged, truncated, a bomb) is reported on the archive's own
    result, beside its exact digests, never as a second result of the same path.
    """
    label = path_label(path)
    try:
        if sniff(read_head(path)).kind in ("video", "audio"):
            return [replace(hash_file(path, options.hash), path=label)]  # streamed
        data = read_file(path, options.hash.limits)
    except MediaError as exc:
        return [FileResult(label, "error", reason=exc.reason, message=exc.message)]
    kind = is_archive(data[:512]) if options.open_archives else None
    if kind is None:
        return [hash_bytes(data, label, options.hash)]
    results: list[FileResult] = []
    own_errors: list[MediaError] = []
    for member in iter_archive(data, label, options.archives):
        if member.path == label:  # the archive as a whole: reported on its own result
            if member.error is not None:
                own_errors.append(member.error)
        elif member.error is not None or member.data is None:
            err = member.error
            failed = FileResult(
                member.path,
                "error",
                size=member.size,
                reason=err.reason if err else "unreadable",
                message=err.message if err else "member could not be read",
            )
            if member.data:  # e.g. a too-deep or damaged nested archive: keep its digests
                digests = _archive_result(member.path, member.data, "archive")
                failed.size, failed.md5, failed.sha1, failed.sha256 = (
                    digests.size,
                    digests.md5,
                    digests.sha1,
                    digests.sha256,
                )
            results.append(failed)
        else:
            results.append(hash_bytes(member.data, member.path, options.hash))
    archive = _archive_result(label, data, kind)
    if own_errors:
        archive.status, archive.reason = "error", own_errors[0].reason
        archive.message = "; ".join(e.message for e in own_errors)
    results.append(archive)
    return _one_per_path(results)


def _one_per_path(results: list[FileResult]) -> list[FileResult]:
    """Merge results that name the same path (a damaged nested 7z can report itself
    twice): the first keeps its digests and gains the later ones' errors."""
    first: dict[str, FileResult] = {}
    out: list[FileResult] = []
    for r in results:
        kept = first.get(r.path)
        if kept is None:
            first[r.path] = r
            out.append(r)
        elif r.status == "error":
            if kept.status != "error":
                kept.status, kept.reason = "error", r.reason
            kept.message = "; ".join(m for m in (kept.message, r.message) if m)
    return out


__all__ = ["ExpandOptions", "expand_path"]
