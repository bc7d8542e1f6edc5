"""``/api/v1/exchange``: exchange files in and out (VICS, ICSE CSV, hash lists, TE CSV,
NCMEC XML, bundles) — the routes of ``tessera import`` / ``tessera export``.

An upload is the file itself as the request body. It is streamed to a private temp
file beside the database (a declared ``Content-Length`` over the limit is refused
with 413 before a byte is read, a chunked body as soon as it passes the limit; see
``tessera.api.limits``), then imported by the same use case as the CLI: one
transaction, all or nothing, a bad record answered 422 with ``record``, ``line`` and
``field`` in the problem document. A download is written by the export use case
(sharing rules applied per record, audited) to a temp file first, so an error is a
proper problem document rather than a cut-off body, and the database transaction
does not wait on a slow client; the file is then streamed back and removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from tessera.api.audit_trail import CountedRoute
from tessera.api.auth import current_caller
from tessera.api.state import state_of
from tessera.app import Caller
from tessera.app import exchange as exchange_uc
from tessera.errors import InvalidInput

router = APIRouter(
    prefix="/api/v1/exchange",
    dependencies=[Depends(current_caller)],
    tags=["exchange"],
    route_class=CountedRoute,
)
CallerDep = Annotated[Caller, Depends(current_caller)]
ImportFormat = Literal["vics", "icse-csv", "hashlist", "te-csv", "ncmec-xml", "bundle"]
ExportFormat = Literal["vics", "icse-csv", "hashlist", "te-csv", "bundle"]
HashType = Literal["md5", "sha1", "sha256", "pdq"]
IMPORT_PREFIX = "/api/v1/exchange/import/"
CHUNK = 1 << 20

_MEDIA_TYPES = {
    "vics": ("application/json", "json"),
    "icse-csv": ("text/csv; charset=utf-8", "csv"),
    "hashlist": ("text/plain; charset=utf-8", "txt"),
    "te-csv": ("text/csv; charset=utf-8", "csv"),
    "bundle": ("application/x-ndjson", "jsonl"),
}


def _spool_dir(request: Request) -> Path:
    """Temp files live beside the database (its disk, its 0700 folder), not in /tmp."""
    home = state_of(request).app.settings.home
    folder = home / "tmp"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@router.post("/import/{fmt}", response_model=exchange_uc.ImportSummary)
async def import_upload(
    request: Request,
    caller: CallerDep,
    fmt: ImportFormat,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    case: Annotated[str | None, Query(max_length=100)] = None,
    series: Annotated[str | None, Query(max_length=200)] = None,
    hash_type: HashType | None = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> exchange_uc.ImportSummary:
    """Import the request body (the exchange file) for ``agency`` (default: the
    caller's own), all or nothing; re-sending the same file changes nothing."""
    code = agency or caller.agency_code
    if not code:
        raise InvalidInput("give agency=CODE")
    name = Path(filename or f"upload.{fmt}").name or "upload"
    fd, tmp = tempfile.mkstemp(prefix="import-", dir=_spool_dir(request))
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        path = Path(tmp)
        summary = await run_in_threadpool(
            exchange_uc.import_file,
            state_of(request).app,
            caller,
            fmt,
            path,
            agency_code=code,
            case=case,
            series=series,
            hash_type=hash_type,
            label=name,
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return summary


@router.get("/export/{fmt}", response_class=StreamingResponse)
async def export_download(
    request: Request,
    caller: CallerDep,
    fmt: ExportFormat,
    series: Annotated[str | None, Query(max_length=200)] = None,
    case: Annotated[str | None, Query(max_length=100)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    hash_type: HashType | None = None,
    vics_version: Literal["1.2", "1.3", "2.0"] = "2.0",
    vics_root: Literal["Media", "Cases"] = "Media",
    level: Literal["hashes", "full"] = "full",
) -> StreamingResponse:
    """The selected media (one of series / case / agency, or all the caller sees) as
    an exchange file; each record only as much as its sharing level shows."""
    fd, tmp = tempfile.mkstemp(prefix="export-", dir=_spool_dir(request))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            summary = await run_in_threadpool(
                exchange_uc.export,
                state_of(request).app,
                caller,
                fmt,
                out,
                path=f"export.{_MEDIA_TYPES[fmt][1]}",
                series=series,
                case=case,
                agency=agency,
                hash_type=hash_type,
                vics_version=vics_version,
                vics_root=vics_root,
                level=level,
            )
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    media_type, ext = _MEDIA_TYPES[fmt]
    return StreamingResponse(
        _stream_and_remove(Path(tmp)),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="tessera-export.{ext}"',
            "X-Tessera-Records": str(summary.records),
        },
    )


def _stream_and_remove(path: Path) -> Iterator[bytes]:
    f = path.open("rb")
    path.unlink()  # gone from the folder at once; the open file streams until closed
    with f:
        while chunk := f.read(CHUNK):
            yield chunk


__all__ = ["IMPORT_PREFIX", "router"]
