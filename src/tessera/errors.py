"""One error hierarchy for all of Tessera.

Every failure a user can cause or meet is one of these classes, so the CLI maps
them to exit codes in one place (``tessera.cli.exit_codes``) and the service, later,
to HTTP responses in one place. Each error carries a short, stable ``reason`` code
that travels in ``--json`` output and in stored error records; the message is for
people and may change.

::

    TesseraError
     +-- InvalidInput                 bad arguments or values (exit 2 / HTTP 400)
     |    +-- InvalidFingerprint      a fingerprint's text form does not parse
     |    +-- InvalidRecord           a record of an exchange file (number, line, field)
     |    +-- ChromaprintError        libchromaprint refused the audio or failed on it
     +-- MediaError                   one file could not be fingerprinted (batch goes on)
     |    +-- EmptyFile               zero bytes
     |    +-- UnsupportedMedia        not an image we decode (content sniffed)
     |    +-- CorruptMedia            decoder failed: truncated, damaged, hostile
     |    +-- MediaTooLarge           byte or pixel cap exceeded, refused before allocation
     |    +-- UnreadableFile          the OS refused to read it
     +-- ConfigError                  settings are missing or unsafe (exit 3 / HTTP 503)
     |    +-- IndexCorrupt            a saved index is damaged: rebuild it from the database
     |    +-- ChromaprintUnavailable  libchromaprint is not installed
     |    +-- OcrUnavailable          Tesseract or a language pack is not installed
     +-- NotFound                     a named record does not exist (exit 4 / HTTP 404)
     +-- Conflict                     a record already exists or clashes (exit 5 / HTTP 409)
     |    +-- Contention              another writer won a race; nothing written, retry
     +-- Unauthenticated              no valid credentials: missing, unknown, expired or
     |                                revoked token, all alike (exit 3 / HTTP 401)
     +-- PermissionDenied             the caller's role may not do this to something it
                                      may see (exit 3 / HTTP 403); what a caller may not
                                      see is NotFound instead, so existence never leaks
"""

from __future__ import annotations


class TesseraError(Exception):
    """Base of every error Tessera raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class InvalidInput(TesseraError):
    """A caller passed a value Tessera cannot accept."""

    reason = "invalid-input"


class InvalidRecord(InvalidInput):
    """A record of an exchange file is invalid: the whole file is rejected, naming it."""

    reason = "invalid-record"

    def __init__(
        self,
        message: str,
        *,
        record: int | None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = [f"{k} {v}" for k, v in (("record", record), ("line", line)) if v is not None]
        if field:
            where.append(f"field {field}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.record = record
        self.line = line
        self.field = field


class InvalidFingerprint(InvalidInput):
    """A fingerprint's text form or payload is malformed."""

    reason = "invalid-fingerprint"


class ConfigError(TesseraError):
    """Configuration is missing, contradictory or unsafe."""

    reason = "config"


class IndexCorrupt(ConfigError):
    """A saved index is missing, damaged or inconsistent; rebuild it from the database.

    A PDQ index is a cache of the fingerprint table. A damaged cache must never
    answer "not seen before" for a hash that is in the database, so every problem
    found while opening one raises this and the caller rebuilds; should it reach an
    interface, the operator runs ``tessera index rebuild``.
    """

    reason = "index-corrupt"


class ChromaprintUnavailable(ConfigError):
    """libchromaprint could not be loaded (install the Debian package ``libchromaprint1``)."""

    reason = "chromaprint-missing"


class ChromaprintError(InvalidInput):
    """libchromaprint refused the audio or failed while fingerprinting it."""

    reason = "chromaprint-failed"


class OcrUnavailable(ConfigError):
    """Tesseract, or a language pack the deployment asks for, is not installed."""

    reason = "ocr-unavailable"


class NotFound(TesseraError):
    """A named record (agency, case, series, media...) does not exist."""

    reason = "not-found"


class Conflict(TesseraError):
    """A record with that name already exists, or the change clashes with stored data."""

    reason = "conflict"


class Contention(Conflict):
    """The database gave up this transaction because another writer held what it needed
    (PostgreSQL found a deadlock or a serialization failure; SQLite stayed locked past
    its busy timeout). Nothing of it was written; the same call can simply be retried."""

    reason = "contention"


class Unauthenticated(TesseraError):
    """The caller proved no identity; the reason is never told apart to the caller."""

    reason = "unauthenticated"


class PermissionDenied(TesseraError):
    """The caller may see the record but its role may not do this to it."""

    reason = "permission-denied"


class MediaError(TesseraError):
    """A single media file could not be fingerprinted; the batch goes on."""

    reason = "media-error"


class EmptyFile(MediaError):
    """The file has no bytes."""

    reason = "empty-file"


class UnsupportedMedia(MediaError):
    """The content is not a format Tessera decodes (sniffed, never from the name)."""

    reason = "unsupported-format"


class CorruptMedia(MediaError):
    """The decoder rejected the content: truncated, damaged or hostile."""

    reason = "corrupt"


class MediaTooLarge(MediaError):
    """A configured byte or pixel limit was exceeded; refused before allocating."""

    reason = "too-large"


class UnreadableFile(MediaError):
    """The operating system refused to read the file."""

    reason = "unreadable"

    @classmethod
    def from_os_error(cls, exc: OSError) -> UnreadableFile:
        """The one mapping of OS errors to reasons, for every reader of files."""
        if isinstance(exc, FileNotFoundError):
            return cls("no such file", reason="not-found")
        if isinstance(exc, IsADirectoryError):
            return cls("is a directory", reason="not-a-file")
        if isinstance(exc, PermissionError):
            return cls("permission denied", reason="permission-denied")
        return cls(f"read failed: {exc.strerror or exc}")


__all__ = [
    "ChromaprintError",
    "ChromaprintUnavailable",
    "ConfigError",
    "Conflict",
    "Contention",
    "CorruptMedia",
    "EmptyFile",
    "IndexCorrupt",
    "InvalidFingerprint",
    "InvalidInput",
    "InvalidRecord",
    "MediaError",
    "MediaTooLarge",
    "NotFound",
    "OcrUnavailable",
    "PermissionDenied",
    "TesseraError",
    "Unauthenticated",
    "UnreadableFile",
    "UnsupportedMedia",
]
