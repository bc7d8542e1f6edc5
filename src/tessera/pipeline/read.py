"""Reading one file from disk, refusing what is not a regular file or is too large.

Opened with ``O_NONBLOCK`` so that a FIFO (or a tty) in a seizure never waits for
a writer; the regular-file check then refuses it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tessera.errors import MediaTooLarge, UnreadableFile
from tessera.media.decode import DecodeLimits


def read_file(path: Path, limits: DecodeLimits) -> bytes:
    """Read a regular file whole, refusing anything over ``limits.max_bytes`` first."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UnreadableFile("not a regular file", reason="not-a-file")
            if st.st_size > limits.max_bytes:
                raise MediaTooLarge(
                    f"{st.st_size} bytes exceeds the {limits.max_bytes}-byte limit",
                    reason="too-many-bytes",
                )
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from exc
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"file grew past the {limits.max_bytes}-byte limit while reading",
            reason="too-many-bytes",
        )
    return data


def read_head(path: Path, n: int = 512) -> bytes:
    """The first ``n`` bytes of a regular file (for sniffing), with the same refusals."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise UnreadableFile("not a regular file", reason="not-a-file")
            return fh.read(n)
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from exc


__all__ = ["read_file", "read_head"]
