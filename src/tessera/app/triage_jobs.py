"""Triage jobs: a client's fingerprints triaged in the background of a server.

The investigator hashes the seizure on their own machine (``tessera hash --json``)
and sends only that document: media never leaves it. The job's whole state is a
database row (``tessera.storage.triage_jobs``), so progress is visible from any
server worker, a cancel is seen at the next chunk, and a job whose worker died
(restart, ``kill -9``) is claimed again after ``STALE`` and rerun from its first
file: triage writes nothing until the job ends (the report's head and a row per
file in one transaction with the final state, one audit entry, the owners'
notices), so a rerun neither duplicates nor loses anything. After
``MAX_ATTEMPTS`` interrupted runs the job fails, saying so.

A job may also name files on the server (``submit_folder``: a folder the server
reads, or the private folder an upload from the web UI was written to): the
runner hashes them first (progress and heartbeat as it goes), stores the
fingerprints in the job, deletes an upload folder at once (only fingerprints
are kept, never media), then triages as above. A rerun after a crash hashes
again only if the fingerprints were not stored yet.

The web UI reads a finished job's files a page at a time (``results_page``:
filtered by verdict, sorted and cut in SQL); the API's job route returns the
whole report, assembled from the head and the rows.

Results follow the sharing rules exactly as ``tessera triage`` over the API would
(``tessera.app.triage.shared_report``), applied for the submitting caller.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tessera.app import audit, hashing
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.retry import retried
from tessera.app.triage import after_triage, shared_report
from tessera.app.visibility import require_role
from tessera.errors import InvalidInput, NotFound, TesseraError
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.fingerprints.vpdq import FrameHash
from tessera.matching.triage import TriageReport, triage
from tessera.matching.triage.grouping import group_new
from tessera.matching.triage.report import SeriesHit, TriageItem
from tessera.pipeline.options import HashOptions
from tessera.pipeline.result import FileResult
from tessera.storage import accounts
from tessera.storage import triage_jobs as store

log = logging.getLogger(__name__)

MAX_FILES = 10_000
"""Files per job (the request body is also size-limited)."""
CHUNK = 250
"""Files triaged between two progress updates (and cancel checks)."""
STALE = timedelta(seconds=30)
"""A running job whose heartbeat is older was left by a dead worker."""
MAX_ATTEMPTS = 3
POLL = 0.5

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}


class TriageJobView(BaseModel):
    """A job as its submitter sees it; ``result`` is the ``tessera triage --json``
    document (sharing rules applied) once ``state`` is ``done``."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: JobState
    total: int
    done: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None


def _now() -> datetime:
    return datetime.now(UTC)


def _view(job: Any, s: Any = None) -> TriageJobView:
    """The job; with its whole report when ``s`` (a session) is given."""
    return TriageJobView(
        id=job.public_id,
        state=job.state,
        total=job.total,
        done=job.done,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        result=_report(s, job) if s is not None else None,
    )


def _report(s: Any, job: Any) -> dict[str, Any] | None:
    """The ``tessera triage --json`` document: the stored head, the files' lines last."""
    head = store.result_head(s, job.id)
    if head is None or "results" in head:  # "results" in the head: as stored before 0018
        return head
    return {**head, "results": store.files_of(s, job.id)}


# -- the fingerprints document ------------------------------------------------------------


def _hex(rec: dict[str, Any], key: str, where: str) -> str | None:
    v = rec.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != _HEX[key]:
        raise InvalidInput(f"{where}.{key}: a {key} hash is {_HEX[key]} hex digits")
    try:
        bytes.fromhex(v)
    except ValueError:
        raise InvalidInput(f"{where}.{key}: not hexadecimal") from None
    return v.lower()


def _frames(value: Any, where: str) -> list[FrameHash] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInput(f"{where}.vpdq: a list of 'hex,quality,seconds' strings")
    out = []
    for n, text in enumerate(value):
        try:
            hx, q, ts = str(text).split(",")
            out.append(FrameHash(n, int(q), bytes.fromhex(hx), float(ts)))
        except (ValueError, InvalidInput) as e:
            raise InvalidInput(f"{where}.vpdq[{n}]: {e}") from None
    return out


def _is_hex(v: Any, digits: int) -> bool:
    if not isinstance(v, str) or len(v) != digits:
        return False
    try:
        bytes.fromhex(v)
    except ValueError:
        return False
    return True


def _variants(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and _is_hex(v, 64) for k, v in value.items()
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def files_from_hash_json(results: Sequence[Any]) -> list[FileResult]:
    """The ``results`` of a ``tessera hash --json`` document as triage's input.

    Rejected whole (``InvalidInput`` naming the record and field) at the first bad
    record: a job never runs on half of what was sent.
    """
    if len(results) > MAX_FILES:
        raise InvalidInput(f"results: at most {MAX_FILES} files per job, got {len(results)}")
    files = []
    for i, rec in enumerate(results):
        where = f"results[{i}]"
        if not isinstance(rec, dict):
            raise InvalidInput(f"{where}: an object of `tessera hash --json`")
        path = rec.get("path")
        if not isinstance(path, str) or not path or len(path) > 4096:
            raise InvalidInput(f"{where}.path: a non-empty string (at most 4096 characters)")
        status = rec.get("status")
        if status not in ("ok", "error", "skipped"):
            raise InvalidInput(f"{where}.status: one of ok, error, skipped")
        quality = rec.get("quality")
        if quality is not None and (not isinstance(quality, int) or not 0 <= quality <= 100):
            raise InvalidInput(f"{where}.quality: an integer 0..100")
        raw_err = rec.get("error")
        err: dict[str, Any] = raw_err if isinstance(raw_err, dict) else {}
        kind = rec.get("kind")
        audio = rec.get("audio")
        if audio is not None and (not isinstance(audio, str) or len(audio) > 1_000_000):
            raise InvalidInput(f"{where}.audio: a Chromaprint fingerprint (text)")
        dihedral = rec.get("dihedral")
        if dihedral is not None and not _variants(dihedral):
            raise InvalidInput(f"{where}.dihedral: variant name -> 64 hex digits")
        files.append(
            FileResult(
                path=path,
                status=status,
                size=rec.get("size") if isinstance(rec.get("size"), int) else None,
                md5=_hex(rec, "md5", where),
                sha1=_hex(rec, "sha1", where),
                sha256=_hex(rec, "sha256", where),
                pdq=_hex(rec, "pdq", where),
                quality=quality,
                format=rec.get("format") if isinstance(rec.get("format"), str) else None,
                flags=tuple(f for f in _list(rec.get("flags")) if isinstance(f, str)),
                reason=err.get("reason") if isinstance(err.get("reason"), str) else None,
                message=err.get("message") if isinstance(err.get("message"), str) else None,
                dihedral=dihedral,
                kind=kind if kind in ("image", "video", "audio", "archive") else None,
                frames=_tuple_or_none(_frames(rec.get("vpdq"), where)),
                audio=audio,
            )
        )
    return files


def _tuple_or_none(frames: list[FrameHash] | None) -> tuple[FrameHash, ...] | None:
    return tuple(frames) if frames is not None else None


# -- use cases ----------------------------------------------------------------------------


@retried
def submit(
    app: App,
    caller: Caller,
    results: Sequence[Any],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
) -> TriageJobView:
    """Queue a triage of ``results`` (``tessera hash --json``'s) for the caller."""
    require_role(caller, Role.ANALYST)
    if not 0 <= radius <= 64:
        raise InvalidInput(f"radius: 0..64, got {radius}")
    if not 0 <= min_quality <= 100:
        raise InvalidInput(f"min_quality: 0..100, got {min_quality}")
    files_from_hash_json(results)  # reject a bad document before anything is stored
    with app.transaction() as s:
        job = store.create(
            s,
            public_id=uuid.uuid4().hex,
            user_id=caller.user_id,
            user_email=caller.email,
            agency_code=caller.agency_code,
            role=caller.role.value,
            params={"radius": radius, "min_quality": min_quality},
            fingerprints=list(results),
            now=_now(),
        )
        audit.record_in(
            s,
            app,
            caller,
            "triage-job-submit",
            target=job.public_id,
            params={"files": len(results), "radius": radius, "min_quality": min_quality},
            result_count=len(results),
        )
        return _view(job)


UPLOADS = "uploads"
"""Folder under the node's home where uploads wait to be hashed (mode 0700)."""
HEARTBEAT_S = 2.0


def upload_folder(app: App) -> Path:
    """A new private folder for one upload's files (``submit_folder(..., uploaded=...)``)."""
    root = app.settings.home / UPLOADS
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = root / uuid.uuid4().hex
    folder.mkdir(mode=0o700)
    return folder.resolve()


@retried
def submit_folder(
    app: App,
    caller: Caller,
    folder: Path,
    *,
    uploaded: Mapping[str, str] | None = None,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
) -> TriageJobView:
    """Queue a triage of the files under ``folder`` on this server (hashed by the job).

    ``uploaded``: ``folder`` was made by ``upload_folder`` and maps each stored
    file's path to the name the investigator gave it; the folder is deleted as
    soon as its files are hashed (or the job ends).
    """
    require_role(caller, Role.ANALYST)
    if not 0 <= radius <= 64 or not 0 <= min_quality <= 100:
        raise InvalidInput("radius: 0..64, min_quality: 0..100")
    folder = folder.resolve()
    if uploaded is not None and folder.parent != (app.settings.home / UPLOADS).resolve():
        raise InvalidInput("uploads are read only from the node's upload folder")
    if uploaded is None and not caller.is_local_operator:
        roots = app.settings.triage_roots
        if not roots:
            raise InvalidInput(
                "triage of server folders is off on this node (its operator names the "
                "folders that may be triaged in TESSERA_TRIAGE_ROOTS)"
            )
        if not any(folder == r or folder.is_relative_to(r) for r in roots):
            raise InvalidInput(
                "that folder is not under a folder this node lets you triage: "
                + ", ".join(str(r) for r in roots)
            )
    if not folder.is_dir():
        raise InvalidInput(f"{str(folder)!r} is not a folder on the server")
    source = {"folder": str(folder), "names": dict(uploaded) if uploaded is not None else None}
    with app.transaction() as s:
        job = store.create(
            s,
            public_id=uuid.uuid4().hex,
            user_id=caller.user_id,
            user_email=caller.email,
            agency_code=caller.agency_code,
            role=caller.role.value,
            params={"radius": radius, "min_quality": min_quality, "source": source},
            fingerprints=[],
            now=_now(),
        )
        audit.record_in(
            s,
            app,
            caller,
            "triage-job-submit",
            target=job.public_id,
            params={
                "folder": None if uploaded is not None else str(folder),
                "uploaded": len(uploaded) if uploaded is not None else None,
                "radius": radius,
                "min_quality": min_quality,
            },
        )
        return _view(job)


@retried
def _finish(app: App, job_id: int, state: str, **result: Any) -> None:
    """A job's end state (``store.finish``) in a transaction of its own."""
    with app.transaction() as s:
        store.finish(s, job_id, state, _now(), **result)


@retried
def _progress(app: App, job_id: int, done: int) -> bool:
    """Progress and heartbeat; True when a cancel was asked for."""
    with app.transaction() as s:
        return bool(store.progress(s, job_id, done, _now()))


def _remove_upload(source: Mapping[str, Any]) -> None:
    if source.get("names") is not None:
        shutil.rmtree(source["folder"], ignore_errors=True)


def _hash_source(app: App, job_id: int, source: Mapping[str, Any]) -> list[Any] | None:
    """Hash a job's server-side files, with progress; None when it was cancelled."""
    folder = Path(source["folder"])
    names: Mapping[str, str] | None = source.get("names")
    if not folder.is_dir():
        raise InvalidInput("the job's folder is no longer on the server")
    run = hashing.walk_and_hash(
        [folder],
        HashOptions(limits=app.settings.decode_limits),
        workers=min(app.settings.worker_count, os.cpu_count() or 1),
    )
    with app.transaction() as s:
        store.set_total(s, job_id, run.total)
    records: list[Any] = []
    last = time.monotonic()
    for r in run.results:
        rec = r.to_json()
        if names is not None:  # as the investigator named it, never our private path
            rec["path"] = names.get(rec["path"], Path(rec["path"]).name)
        records.append(rec)
        if time.monotonic() - last >= HEARTBEAT_S:
            last = time.monotonic()
            if _progress(app, job_id, len(records)):
                return None
    with app.transaction() as s:
        store.set_fingerprints(s, job_id, records)
    return records


def _mine(s: Any, caller: Caller, job_id: str) -> Any:
    """The caller's job, or ``NotFound`` (another user's job does not exist for them)."""
    job = store.by_public_id(s, job_id)
    if job is None or job.user_email != caller.email or job.agency_code != caller.agency_code:
        raise NotFound(f"no triage job {job_id}")
    return job


def status(app: App, caller: Caller, job_id: str, *, with_result: bool = True) -> TriageJobView:
    """State, progress and (when done, unless not ``with_result``) the result of one
    of the caller's jobs."""
    with app.transaction() as s:
        job = _mine(s, caller, job_id)
        return _view(job, s if with_result else None)


Show = Literal["all", "known", "near", "new", "error"]
SHOWS: tuple[Show, ...] = ("all", "known", "near", "new", "error")
FILE_SORTS = store.FILE_SORTS
MAX_GROUP_PATHS = 20


@dataclass(frozen=True)
class JobResults:
    """One page of a finished job's files, as the web UI shows them.

    ``head``: the report without its per-file lines (summary, series with status,
    new groups); ``files``: this page's lines (``tessera triage --json``'s, in the
    asked order); ``total``: files of the asked verdict; ``groups``: for each new
    group on the page, its size and its first paths.
    """

    job: TriageJobView
    head: dict[str, Any]
    files: list[dict[str, Any]]
    total: int
    groups: dict[int, tuple[int, list[str]]]


def results_page(
    app: App,
    caller: Caller,
    job_id: str,
    *,
    show: str = "all",
    sort: str = "file",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> JobResults:
    """A page of one of the caller's jobs' files, filtered by verdict (``SHOWS``),
    sorted (``FILE_SORTS``, then report order) and cut in SQL."""
    if show not in SHOWS:
        raise InvalidInput(f"show: one of {', '.join(SHOWS)}, got {show!r}")
    if sort not in FILE_SORTS:
        raise InvalidInput(f"triage results: sort {sort!r} is not one of {', '.join(FILE_SORTS)}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput("limit: 1..1000, offset: 0 or more")
    status_ = None if show == "all" else show
    with app.transaction() as s:
        job = _mine(s, caller, job_id)
        view = _view(job)
        head = store.result_head(s, job.id) if job.state == "done" else None
        if head is None:
            return JobResults(view, {}, [], 0, {})
        files = store.file_page(
            s, job.id, status=status_, sort=sort, descending=descending, limit=limit, offset=offset
        )
        total = store.file_count(s, job.id, status_)
        wanted = {int(f["new_group"]) for f in files if isinstance(f.get("new_group"), int)}
        groups = store.group_members(s, job.id, wanted, MAX_GROUP_PATHS)
    return JobResults(view, head, files, total, groups)


def list_jobs(
    app: App,
    caller: Caller,
    *,
    limit: int = 100,
    offset: int = 0,
    sort: str = "created",
    descending: bool = True,
) -> list[TriageJobView]:
    """The caller's jobs, newest first or in another ``JOB_SORTS`` order (sorted in
    SQL; one page: the last 100 by default), without their results."""
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput("limit: 1..1000, offset: 0 or more")
    with app.transaction() as s:
        return [
            _view(j)
            for j in store.of_user(
                s,
                caller.email,
                limit,
                offset,
                agency_code=caller.agency_code,
                sort=sort,
                descending=descending,
            )
            if j.agency_code == caller.agency_code
        ]


@retried
def cancel(app: App, caller: Caller, job_id: str) -> TriageJobView:
    """Cancel a queued job now, a running one at its next chunk; a finished one stays."""
    with app.transaction() as s:
        job = _mine(s, caller, job_id)
        if job.state in store.ACTIVE:
            store.request_cancel(s, job.id, _now())
            audit.record_in(s, app, caller, "triage-job-cancel", target=job.public_id)
        s.refresh(job)
        return _view(job, s)


# -- the runner ---------------------------------------------------------------------------


def _merge(into: dict[int, SeriesHit], hits: list[SeriesHit]) -> None:
    for h in hits:
        have = into.get(h.status.series_id)
        if have is None:
            into[h.status.series_id] = SeriesHit(h.status, list(h.paths), h.exact, h.near)
        else:
            have.paths.extend(h.paths)
            have.exact += h.exact
            have.near += h.near


def run_one(app: App, *, stale: timedelta = STALE, chunk: int = CHUNK) -> bool:
    """Claim and run one job (a queued one, or one a dead worker left); False if none."""
    with app.transaction() as s:
        candidates = store.claimable(s, _now(), stale)
    for job_id, state, attempts in candidates:
        with app.transaction() as s:
            if attempts >= MAX_ATTEMPTS:
                store.finish(
                    s,
                    job_id,
                    "failed",
                    _now(),
                    error=f"interrupted {attempts} times (the server stopped during the job);"
                    " not retried again: submit it anew",
                )
                continue
            if not store.claim(s, job_id, state, attempts, _now()):
                continue  # another worker took it
        _run(app, job_id, chunk, stale)
        return True
    return False


class _Heartbeat:
    """Keeps a running job's heartbeat fresh between its progress updates.

    Progress is written per chunk of files; a chunk that takes longer than
    ``STALE`` (a slow disk, a loaded server, a big archive) must not make another
    worker believe this one died and run the job a second time. A thread beats
    every ``every`` seconds (the heartbeat only) until the run ends.
    """

    def __init__(self, app: App, job_id: int, every: float) -> None:
        self.app = app
        self.job_id = job_id
        self.every = every
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="triage-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=max(1.0, self.every * 2))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.app.transaction() as s:
                    if store.beat(s, self.job_id, _now()):
                        self.cancelled.set()
            except Exception:  # the next beat retries; a dead database fails the job anyway
                log.warning("triage job %s: heartbeat not written", self.job_id, exc_info=True)


def _run(app: App, job_id: int, chunk: int, stale: timedelta = STALE) -> None:
    with _Heartbeat(app, job_id, every=stale.total_seconds() / 6):
        _run_beating(app, job_id, chunk)


def _run_beating(app: App, job_id: int, chunk: int) -> None:
    from tessera.storage.models import TriageJob  # noqa: PLC0415

    with app.transaction() as s:
        job = s.get(TriageJob, job_id)
        assert job is not None
        caller = Caller(
            role=Role(job.role),
            user_id=job.user_id,
            email=job.user_email,
            agency_code=job.agency_code,
        )
        params = dict(job.params)
        docs = list(job.fingerprints)
        public_id = job.public_id
        user = accounts.find_user(s, job.user_email) if job.user_email else None
        if user is not None and user.disabled:  # its tokens no longer work: nor its jobs
            store.finish(s, job_id, "failed", _now(), error="the submitting account is disabled")
            return
    radius = int(params["radius"])
    min_quality = int(params["min_quality"])
    source = params.get("source")
    try:
        if source and not docs:
            hashed = _hash_source(app, job_id, source)
            _remove_upload(source)
            if hashed is None:
                _finish(app, job_id, "cancelled")
                return
            docs = hashed
        if not docs:
            raise InvalidInput("no files to triage")
        files = files_from_hash_json(docs)
        dihedral = any(f.dihedral for f in files)
        items: list[TriageItem] = []
        series: dict[int, SeriesHit] = {}
        store_ = app.pdq_store()
        for lo in range(0, len(files), chunk):
            part = triage(
                app.db,
                store_,
                files[lo : lo + chunk],
                radius=radius,
                min_quality=min_quality,
                dihedral=dihedral,
                index_db=app.index_db,  # finds blind hits under RLS too (owners' notices)
            )
            items.extend(part.items)
            _merge(series, part.series)
            if _progress(app, job_id, len(items)):
                _finish(app, job_id, "cancelled")
                return
        report = TriageReport(
            items=items,
            series=sorted(series.values(), key=lambda h: h.status.name),
            groups=group_new(items, radius),
        )
        per_item: dict[int, int] = {}  # before redaction: owners learn of blind hits too
        for it in items:
            for media_id in {m.media_id for m in it.matches}:
                per_item[media_id] = per_item.get(media_id, 0) + 1
        if not caller.is_local_operator:
            report = shared_report(app, caller, report, radius)
        counts = report.counts()
        head = report.to_json()
        lines = head.pop("results")
        matched = counts["known"] + counts["near"]
        _done(app, caller, job_id, public_id, head, lines, len(items), radius, matched)
        after_triage(app, caller, items, per_item, len(items))
    except TesseraError as e:
        if source:
            _remove_upload(source)
        _finish(app, job_id, "failed", error=f"{type(e).__name__}: {e}")
    except Exception as e:  # a bug must not leave the job "running" forever
        log.exception("triage job %s failed", public_id)
        if source:
            _remove_upload(source)
        _finish(app, job_id, "failed", error=f"internal error ({type(e).__name__})")


@retried
def _done(  # noqa: PLR0917 (a private helper of one caller)
    app: App,
    caller: Caller,
    job_id: int,
    public_id: str,
    head: dict[str, Any],
    lines: list[Any],
    files: int,
    radius: int,
    matched: int,
) -> None:
    """A finished job: its report, rows and state with its one audit entry, together."""
    with app.transaction() as s:
        store.finish(s, job_id, "done", _now(), result=head, files=lines, done=files)
        audit.record_in(
            s,
            app,
            caller,
            "triage",
            target=public_id,
            params={"job": public_id, "files": files, "radius": radius},
            result_count=matched,
        )


class JobRunner:
    """A server worker's background thread: runs queued jobs one at a time."""

    def __init__(self, app: App, *, poll: float = POLL, stale: timedelta = STALE) -> None:
        self.app = app
        self.poll = poll
        self.stale = stale
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="triage-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while not self._stop.is_set() and run_one(self.app, stale=self.stale):
                    pass
            except Exception:  # the database away for a moment: try again later
                log.exception("triage job runner")
            self._stop.wait(self.poll)


__all__ = [
    "FILE_SORTS",
    "MAX_FILES",
    "SHOWS",
    "JobResults",
    "JobRunner",
    "Show",
    "TriageJobView",
    "cancel",
    "files_from_hash_json",
    "list_jobs",
    "results_page",
    "run_one",
    "status",
    "submit",
    "submit_folder",
    "upload_folder",
]
