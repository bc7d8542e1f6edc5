"""Errors as RFC 9457 ``application/problem+json``, mapped in one place.

Tessera errors go through ``tessera.app.problems.problem_for`` (the one mapping of
the error hierarchy to HTTP); request validation (FastAPI/pydantic) becomes 422
naming every bad field; HTTP errors of the framework (unknown route, wrong
method, body too large) keep their status; anything else is a 500 that says
nothing about the failure. A 401 never tells a missing token from an unknown,
expired or revoked one.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera.app.problems import problem_for
from tessera.errors import InvalidRecord, TesseraError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    500: "Internal error",
    503: "Service unavailable",
}


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """One problem document (``type``, ``title``, ``status``, ``detail`` + extensions)."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind or _TITLES.get(status, 'error').lower().replace(' ', '-')}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def unauthenticated() -> JSONResponse:
    return problem_response(
        401,
        "a valid bearer token is required",
        kind="unauthenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _tessera_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TesseraError)
    p = problem_for(exc)
    if p.status >= 500:
        log.error("request %s failed: %s", request.url.path, exc, exc_info=exc)
    headers = {"WWW-Authenticate": "Bearer"} if p.status == 401 else None
    extra: dict[str, Any] = {} if p.status in (401, 503) else {"reason": p.reason}
    if isinstance(exc, InvalidRecord):  # the record of an exchange file that broke it
        extra.update(record=exc.record, line=exc.line, field=exc.field)
    return problem_response(
        p.status, p.detail, kind=p.type.rsplit("/", 1)[-1], title=p.title, headers=headers, **extra
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(x) for x in loc]
    out = parts[0] if parts else "request"
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    named = ", ".join(sorted({e["field"] for e in errors})) or "request"
    return problem_response(422, f"invalid value for {named}", kind="invalid-input", errors=errors)


def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 401:
        return unauthenticated()
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


def _internal(request: Request, exc: Exception) -> JSONResponse:
    log.error("request %s failed", request.url.path, exc_info=exc)
    return problem_response(500, "internal error", kind="internal")


def install(app: FastAPI) -> None:
    """Register the handlers: the only place the API turns exceptions into responses."""
    app.add_exception_handler(TesseraError, _tessera_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _internal)


__all__ = ["PROBLEM_JSON", "install", "problem_response", "unauthenticated"]
