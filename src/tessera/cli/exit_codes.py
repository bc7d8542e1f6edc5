"""Exit codes: the one place where Tessera errors become process statuses.

Agencies' scripts branch on these, so they are a contract: never renumber.
"""

from __future__ import annotations

from enum import IntEnum

from tessera.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    MediaError,
    NotFound,
    PermissionDenied,
    TesseraError,
    Unauthenticated,
)


class ExitCode(IntEnum):
    OK = 0
    """Everything processed; nothing failed."""
    FILES_FAILED = 1
    """The run completed but at least one file could not be processed."""
    USAGE = 2
    """Bad arguments or input values (click uses 2 for usage errors too)."""
    CONFIG = 3
    """Configuration missing or unsafe."""
    NOT_FOUND = 4
    """A named record (agency, case, series, media) does not exist."""
    CONFLICT = 5
    """A record already exists or the change clashes with stored data."""
    KNOWN_FOUND = 10
    """``triage``: at least one file is known (exact) or near a known item."""
    INTERNAL = 70
    """A bug: an unexpected exception (EX_SOFTWARE)."""


def exit_code_for(exc: TesseraError) -> ExitCode:
    """Map an error that ended a command to its exit code."""
    if isinstance(exc, InvalidInput):
        return ExitCode.USAGE
    if isinstance(exc, ConfigError | Unauthenticated | PermissionDenied):
        return ExitCode.CONFIG
    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, Conflict):
        return ExitCode.CONFLICT
    if isinstance(exc, MediaError):
        return ExitCode.FILES_FAILED
    return ExitCode.INTERNAL
