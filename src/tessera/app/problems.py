"""Errors to HTTP: the one mapping the network service uses (RFC 9457 problem+json).

The CLI's twin is ``tessera.cli.exit_codes``. A caller who may not see a record
gets ``NotFound`` from the use case (404, never 403: what they may not see does
not exist for them).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Problem:
    """The status and problem document fields for one error."""

    status: int
    type: str
    """A URI reference naming the kind of problem, stable for clients to branch on."""
    title: str
    detail: str
    reason: str


_BY_CLASS: tuple[tuple[type[TesseraError], int, str, str], ...] = (
    # most specific first; the first isinstance match wins
    (Unauthenticated, 401, "unauthenticated", "Authentication required"),
    (PermissionDenied, 403, "forbidden", "Not allowed"),
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (InvalidInput, 422, "invalid-input", "Invalid input"),
    (MediaError, 422, "unprocessable-media", "Media could not be processed"),
    (ConfigError, 503, "unavailable", "Service not configured"),
)


_FIXED_DETAIL = {
    401: "a valid bearer token is required",
    503: "the service is not configured",
}


def problem_for(exc: TesseraError) -> Problem:
    """The HTTP status and problem type for ``exc`` (500 for anything unmapped)."""
    for cls, status, kind, title in _BY_CLASS:
        if isinstance(exc, cls):
            # a configuration problem is the operator's: never show its text to callers;
            # a 401 never says whether the token was missing, unknown, expired or revoked
            detail = _FIXED_DETAIL.get(status, exc.message)
            return Problem(status, f"/problems/{kind}", title, detail, exc.reason)
    return Problem(500, "/problems/internal", "Internal error", "internal error", exc.reason)


__all__ = ["Problem", "problem_for"]
