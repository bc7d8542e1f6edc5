"""The limits of one archive tree, and the reading that enforces them as it goes.

Declared sizes are checked before anything is read (:meth:`Tree.size_refusal`), and
the same limits again while decompressing (:func:`read_member`), because declared
sizes can lie and a gzip stream has none. The counters are shared by every nesting
level of one top-level archive, so a bomb cannot hide by nesting.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tessera.errors import MediaError, MediaTooLarge

MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK = MIB  # read size while decompressing a member
RAW_CHUNK = 16 * 1024  # compressed input fed to a decompressor at a time
RATIO_FLOOR = MIB  # ratio limits apply only to members larger than this
# Where a ratio is measured while decompressing, the compressed position is known only
# to within the input a decompressor holds (one raw chunk): adding it never overstates
# the ratio, so nothing is refused that a byte-exact count would let through.
RATIO_SLACK = RAW_CHUNK


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
    max_member_bytes: int = 512 * MIB
    max_total_bytes: int = 64 * GIB
    max_ratio: float = 200.0


DEFAULT_LIMITS = ArchiveLimits()


class Tree:
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
        if size > RATIO_FLOOR and compressed is not None and size > lim.max_ratio * compressed:
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


class Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


def read_member(
    stream: Readable,
    tree: Tree,
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
        chunk = stream.read(min(CHUNK, cap + 1 - total))
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
        if compressed_pos is not None and total > RATIO_FLOOR:
            used = compressed_pos() - start + RATIO_SLACK
            if total > lim.max_ratio * used:
                raise MediaTooLarge(
                    f"{total} bytes decompressed from about {used} (ratio over {lim.max_ratio:g})",
                    reason="archive-bomb",
                )
        buf.write(chunk)
    return buf.getvalue()
