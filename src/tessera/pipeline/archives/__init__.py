"""Reading seized archives in memory: zip, 7z, tar and gzip / bzip2 / xz streams.

Seized media routinely arrives packed, often several layers deep (a ``.7z`` holding a
``.tar`` holding a ``.zip``). :func:`iter_archive` walks such a tree and yields every
*leaf* member, one at a time, as a :class:`Member` whose bytes can go straight to
the fingerprinting of plain files. Two commitments shape everything here.

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

Modules
-------
``reader`` (the entry point, format dispatch), ``index`` (members of a zip or plain
tar on disk reached by name, for second reads), ``limits`` (the tree's limits and the
bounded reading that enforces them), ``tree`` (one nesting level; descending into
nested archives), ``member``, ``names``, ``sniff``, ``classify``, and one module per
format: ``zip``, ``tar``, ``compressed`` (gzip / bzip2 / xz) and ``sevenz``.
"""

from tessera.pipeline.archives.index import (
    INDEXED,
    archive_format,
    archive_member,
    member_index,
    release_indexes,
)
from tessera.pipeline.archives.limits import DEFAULT_LIMITS, ArchiveLimits
from tessera.pipeline.archives.member import HEAD_BYTES, SEPARATOR, ArchiveKind, Member
from tessera.pipeline.archives.reader import iter_archive, reaches
from tessera.pipeline.archives.sniff import is_archive

__all__ = [
    "DEFAULT_LIMITS",
    "HEAD_BYTES",
    "INDEXED",
    "SEPARATOR",
    "ArchiveKind",
    "ArchiveLimits",
    "Member",
    "archive_format",
    "archive_member",
    "is_archive",
    "iter_archive",
    "member_index",
    "reaches",
    "release_indexes",
]
