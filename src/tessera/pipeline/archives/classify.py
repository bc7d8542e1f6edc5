"""Turning what a format library raised on bad input into a reasoned MediaError."""

from __future__ import annotations

import py7zr

from tessera.errors import CorruptMedia, MediaError, MediaTooLarge, UnreadableFile, UnsupportedMedia


def classify(exc: BaseException, what: str = "archive") -> MediaError:
    """A MediaError for an exception a reader raised on bad input."""
    if isinstance(exc, MediaError):
        return exc
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    low = detail.lower()
    if isinstance(exc, py7zr.PasswordRequired):
        return UnsupportedMedia(f"{what} is encrypted", reason="encrypted")
    if isinstance(exc, py7zr.DecompressionBombError):
        return MediaTooLarge(f"{what}: {text}", reason="archive-bomb")
    if isinstance(exc, py7zr.UnsupportedCompressionMethodError | NotImplementedError):
        return UnsupportedMedia(
            f"{what} uses an unsupported compression method ({detail})",
            reason="unsupported-compression",
        )
    if "memory usage limit" in low:  # liblzma: the stream wants a bigger dictionary
        return MediaTooLarge(
            f"{what} needs more decoder memory than Tessera allows ({detail})",
            reason="archive-bomb",
        )
    if isinstance(exc, MemoryError):
        return MediaTooLarge(f"{what}: out of memory while decompressing", reason="archive-bomb")
    if isinstance(exc, EOFError) or any(
        s in low for s in ("unexpected end", "truncated", "end-of-stream", "ended before")
    ):
        return CorruptMedia(f"{what} is truncated ({detail})", reason="truncated")
    if isinstance(exc, OSError) and exc.errno is not None:
        return UnreadableFile(f"read failed: {exc.strerror or exc}")
    if "crc" in low:
        return CorruptMedia(
            f"{what} content does not match its checksum: damaged, or the archive "
            f"misstates its size ({detail})",
            reason="corrupt",
        )
    return CorruptMedia(f"{what} is damaged ({detail})", reason="corrupt")
