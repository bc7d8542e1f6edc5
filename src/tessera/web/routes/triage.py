"""Triage in the browser: start a job, watch it, read its results.

Three ways in, all ending as a triage job of ``tessera.app.triage_jobs`` (the
same background jobs as ``POST /api/v1/triage/jobs``: progress in the database,
resumed after a restart):

* a folder on the server (hashed by the job, then triaged);
* files uploaded from the browser (written to a private folder of the node,
  hashed by the job and deleted at once: only fingerprints are kept, never media);
* a fingerprint file made by ``tessera hash --json`` on the investigator's
  machine (nothing but hashes travels).

The job page polls ``/triage/jobs/{id}/progress`` and shows the results, filtered
known / near / new / error, sorted and paged in SQL (``?show=``, ``?sort=``,
``?desc=``, ``?page=``), the page's files grouped by series (owner, contact,
status) with the reason for each match, and their new-media groups.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from tessera.app import Caller
from tessera.app import triage_jobs as jobs_uc
from tessera.app.caller import Role
from tessera.app.visibility import require_role
from tessera.errors import InvalidInput
from tessera.web.render import HEADERS, WebRoute, page, redirect
from tessera.web.session import WebCaller, app_of
from tessera.web.sorting import list_sort

router = APIRouter(route_class=WebRoute, include_in_schema=False)
JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
Show = Literal["all", "known", "near", "new", "error"]
MAX_UPLOAD_FILES = 500
MAX_FINGERPRINT_FILE = 64 * 1024 * 1024
PER_PAGE = 100
UNNAMED = "(known to the network: series not shared)"


def _submit(request: Request, caller: Caller, records: list[dict[str, Any]]) -> RedirectResponse:
    if not records:
        raise InvalidInput("no files to triage")
    job = jobs_uc.submit(app_of(request), caller, records)
    return redirect(f"/triage/jobs/{job.id}")


JOBS_PER_PAGE = 25


@router.get("/triage")
def triage_home(request: Request, caller: WebCaller) -> HTMLResponse:
    ls = list_sort(request, default="created", default_desc=True)
    jobs = jobs_uc.list_jobs(
        app_of(request),
        caller,
        limit=JOBS_PER_PAGE + 1,
        offset=ls.offset(JOBS_PER_PAGE),
        sort=ls.key,
        descending=ls.desc,
    )
    return page(
        request,
        caller,
        "triage.html",
        title="Triage",
        jobs=jobs[:JOBS_PER_PAGE],
        roots=[str(r) for r in app_of(request).settings.triage_roots],
        jobs_sort=ls,
        more=len(jobs) > JOBS_PER_PAGE,
    )


@router.post("/triage/folder")
def triage_folder(
    request: Request, caller: WebCaller, folder: Annotated[str, Form(max_length=4096)]
) -> RedirectResponse:
    root = Path(folder.strip())
    if not root.is_absolute():
        raise InvalidInput(f"{folder.strip()!r} is not an absolute path of a folder on the server")
    job = jobs_uc.submit_folder(app_of(request), caller, root)
    return redirect(f"/triage/jobs/{job.id}")


@router.post("/triage/upload")
def triage_upload(
    request: Request, caller: WebCaller, files: Annotated[list[UploadFile], File()]
) -> RedirectResponse:
    require_role(caller, Role.ANALYST)  # before a byte is written
    if len(files) > MAX_UPLOAD_FILES:
        raise InvalidInput(f"at most {MAX_UPLOAD_FILES} files per upload")
    app = app_of(request)
    folder = jobs_uc.upload_folder(app)
    try:
        names: dict[str, str] = {}
        for n, up in enumerate(files):
            original = PurePath(up.filename or f"file-{n}").name or f"file-{n}"
            stored = folder / f"{n:05d}-{original[-120:]}"
            with stored.open("wb") as out:
                while chunk := up.file.read(1 << 20):
                    out.write(chunk)
            names[str(stored)] = original
        job = jobs_uc.submit_folder(app, caller, folder, uploaded=names)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return redirect(f"/triage/jobs/{job.id}")


@router.post("/triage/fingerprints")
def triage_fingerprints(
    request: Request, caller: WebCaller, document: Annotated[UploadFile, File()]
) -> RedirectResponse:
    data = document.file.read(MAX_FINGERPRINT_FILE + 1)
    if len(data) > MAX_FINGERPRINT_FILE:
        raise InvalidInput(f"a fingerprint file has at most {MAX_FINGERPRINT_FILE} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not a JSON document of `tessera hash --json`") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise InvalidInput("a `tessera hash --json` document has a `results` list")
    return _submit(request, caller, results)


@router.get("/triage/jobs/{job_id}/progress")
def job_progress(request: Request, caller: WebCaller, job_id: JobId) -> JSONResponse:
    job = jobs_uc.status(app_of(request), caller, job_id, with_result=False)
    body = {"state": job.state, "done": job.done, "total": job.total, "error": job.error}
    return JSONResponse(body, headers=HEADERS)


@router.post("/triage/jobs/{job_id}/cancel")
def job_cancel(request: Request, caller: WebCaller, job_id: JobId) -> RedirectResponse:
    jobs_uc.cancel(app_of(request), caller, job_id)
    return redirect(f"/triage/jobs/{job_id}")


def _tiles(items: list[dict[str, Any]], dedup: bool) -> list[dict[str, Any]]:
    """One tile per distinct file content (SHA-256) with its count, when ``dedup``."""
    if not dedup:
        return [{"item": it, "count": 1, "paths": [it["path"]]} for it in items]
    by: dict[str, dict[str, Any]] = {}
    out = []
    for it in items:
        key = it.get("sha256") or it["path"]
        if key in by:
            by[key]["count"] += 1
            by[key]["paths"].append(it["path"])
            continue
        tile = {"item": it, "count": 1, "paths": [it["path"]]}
        by[key] = tile
        out.append(tile)
    return out


@router.get("/triage/jobs/{job_id}")
def job_page(
    request: Request,
    caller: WebCaller,
    job_id: JobId,
    show: Annotated[Show, Query()] = "all",
) -> HTMLResponse:
    from tessera.app import preferences as prefs_uc  # noqa: PLC0415

    app = app_of(request)
    # One page of the job's files, filtered, sorted and cut in SQL (a row per file,
    # migration 0018); grouping this page's files by series is presentation.
    ls = list_sort(request, default="file")
    res = jobs_uc.results_page(
        app,
        caller,
        job_id,
        show=show,
        sort=ls.key,
        descending=ls.desc,
        limit=PER_PAGE,
        offset=ls.offset(PER_PAGE),
    )
    head = res.head
    shown = res.files
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in shown:
        for m in r.get("matches", []):
            for name in m.get("series") or [UNNAMED]:
                if r not in groups[name]:
                    groups[name].append(r)
    dedup = prefs_uc.get(app, caller).dedup if groups else False
    series_hits = [
        {"hit": h, "tiles": _tiles(groups.get(h["name"], []), dedup)}
        for h in head.get("series", [])
        if h["name"] in groups
    ]
    new_groups = [
        {"n": n, "count": res.groups[n][0], "paths": res.groups[n][1]}
        for n in sorted(res.groups)
        if show in ("all", "new")
    ]
    return page(
        request,
        caller,
        "triage_job.html",
        title=f"Triage job {job_id[:8]}",
        job=res.job,
        show=show,
        counts=head.get("summary", {}),
        shown=shown,
        total=res.total,
        files_sort=ls,
        pages=max(1, -(-res.total // PER_PAGE)),
        series_hits=series_hits,
        unnamed=_tiles(groups.get(UNNAMED, []), dedup),
        new_groups=new_groups,
        result_count=res.total,
    )
