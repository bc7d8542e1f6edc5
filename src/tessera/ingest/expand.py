"""One top-level path in, every file it holds out: a plain file, or an archive's members.

This is the unit of work a pool worker runs. A plain file gives one
``FileResult``. An archive (sniffed by content) gives one result per member,
nested archives included, named by virtual paths such as
``seizure.zip!/photos/a.jpg``, followed by a result for the archive file itself
(its exact digests, so known archives are recognised too). Members that are
refused (path traversal, bombs, encryption) come back as errors with reasons,
never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """Fingerprint ``path``, descending into it if it is an archive."""
    try:
        if sniff(read_head(path)).kind in ("video", "audio"):
            return [hash_file(path, options.hash)]  # streamed, never read whole
        data = read_file(path, options.hash.limits)
    except MediaError as exc:
        return [FileResult(str(path), "error", reason=exc.reason, message=exc.message)]
    kind = is_archive(data[:512]) if options.open_archives else None
    if kind is None:
        return [hash_bytes(data, str(path), options.hash)]
    results: list[FileResult] = []
    for member in iter_archive(data, str(path), options.archives):
        if member.error is not None or member.data is None:
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
    results.append(_archive_result(str(path), data, kind))
    return results


__all__ = ["ExpandOptions", "expand_path"]
