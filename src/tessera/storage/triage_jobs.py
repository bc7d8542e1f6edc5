"""Triage jobs' rows: created, claimed by one worker, progressed, finished.

A job is claimed with a conditional UPDATE (``state`` and ``attempts`` as they
were read), so of several server workers polling at once exactly one runs it, on
SQLite and PostgreSQL alike. A running job whose heartbeat is older than the
stale limit was left by a worker that died (a restart, ``kill -9``): it is claimed
again, and after ``max_attempts`` it is failed with the reason.

A finished job's report is its ``result`` head (summary, series, new groups) and a
``triage_job_file`` row per file (migration 0018), written with the final state in
one transaction: the web UI filters, sorts and pages the files in SQL, and a job
killed before it finished has no rows to duplicate when it is rerun.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import defer

from tessera.errors import InvalidInput
from tessera.storage.db import Session
from tessera.storage.models import TriageJob, TriageJobFile
from tessera.storage.sorting import ordered

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")


def create(
    s: Session,
    *,
    public_id: str,
    user_id: int | None,
    user_email: str | None,
    agency_code: str | None,
    role: str,
    params: dict[str, Any],
    fingerprints: list[Any],
    now: datetime,
) -> TriageJob:
    job = TriageJob(
        public_id=public_id,
        user_id=user_id,
        user_email=user_email,
        agency_code=agency_code,
        role=role,
        state="queued",
        params=params,
        fingerprints=fingerprints,
        total=len(fingerprints),
        done=0,
        attempts=0,
        cancel_requested=False,
        created_at=now,
    )
    s.add(job)
    s.flush()
    return job


def by_public_id(s: Session, public_id: str) -> TriageJob | None:
    """The job; its JSON documents (``result``, ``fingerprints``) load when read."""
    return s.scalar(
        select(TriageJob)
        .options(defer(TriageJob.result), defer(TriageJob.fingerprints))
        .where(TriageJob.public_id == public_id)
    )


def of_user(
    s: Session,
    user_email: str | None,
    limit: int = 100,
    offset: int = 0,
    agency_code: str | None = None,
    *,
    sort: str = "created",
    descending: bool = True,
) -> list[TriageJob]:
    """A user's jobs (of one agency when given) in ``sort`` order (``JOB_SORTS``;
    newest first by default), one page."""
    # a list shows no results nor fingerprints: those JSON documents stay unread
    q = (
        select(TriageJob)
        .options(defer(TriageJob.result), defer(TriageJob.fingerprints))
        .where(TriageJob.user_email == user_email)
    )
    if agency_code is not None:
        q = q.where(TriageJob.agency_code == agency_code)
    keys = {
        "created": TriageJob.created_at,
        "state": TriageJob.state,
        "files": TriageJob.total,
        "finished": TriageJob.finished_at,
    }
    q = ordered(q, keys, sort, descending=descending, tie=TriageJob.id, what="triage jobs")
    return list(s.scalars(q.limit(limit).offset(offset)))


JOB_SORTS = ("created", "state", "files", "finished")


def claimable(s: Session, now: datetime, stale: timedelta) -> list[tuple[int, str, int]]:
    """(id, state, attempts) of queued jobs and running jobs whose worker went silent."""
    rows = s.execute(
        select(TriageJob.id, TriageJob.state, TriageJob.attempts)
        .where(
            or_(
                TriageJob.state == "queued",
                (TriageJob.state == "running") & (TriageJob.heartbeat_at < now - stale),
            )
        )
        .order_by(TriageJob.id)
        .limit(10)
    )
    return [(int(i), str(st), int(n)) for i, st, n in rows]


def claim(s: Session, job_id: int, state: str, attempts: int, now: datetime) -> bool:
    """Take the job if nobody changed it since it was read; True when taken."""
    res = s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id, TriageJob.state == state, TriageJob.attempts == attempts)
        .values(
            state="running",
            attempts=attempts + 1,
            started_at=now,
            heartbeat_at=now,
            done=0,
        )
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def progress(s: Session, job_id: int, done: int, now: datetime) -> bool:
    """Record progress and the heartbeat; True when a cancel was asked for."""
    s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id, TriageJob.state == "running")
        .values(done=done, heartbeat_at=now)
    )
    return bool(s.scalar(select(TriageJob.cancel_requested).where(TriageJob.id == job_id)))


def beat(s: Session, job_id: int, now: datetime) -> bool:
    """Only the heartbeat of a running job (progress untouched); True when a cancel
    was asked for."""
    s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id, TriageJob.state == "running")
        .values(heartbeat_at=now)
    )
    return bool(s.scalar(select(TriageJob.cancel_requested).where(TriageJob.id == job_id)))


def finish(
    s: Session,
    job_id: int,
    state: str,
    now: datetime,
    *,
    result: dict[str, Any] | None = None,
    files: list[dict[str, Any]] | None = None,
    error: str | None = None,
    done: int | None = None,
) -> None:
    """The job's final state; ``result``: the report's head, ``files``: its per-file
    lines in report order (stored as ``triage_job_file`` rows)."""
    if files is not None:
        s.execute(delete(TriageJobFile).where(TriageJobFile.job_id == job_id))
        rows = [file_row(job_id, n, item) for n, item in enumerate(files)]
        for lo in range(0, len(rows), 1000):
            s.execute(insert(TriageJobFile), rows[lo : lo + 1000])
    values: dict[str, Any] = {"state": state, "finished_at": now, "heartbeat_at": now}
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = error
    if done is not None:
        values["done"] = done
    s.execute(update(TriageJob).where(TriageJob.id == job_id).values(**values))


def set_fingerprints(s: Session, job_id: int, fingerprints: list[Any]) -> None:
    """Store what the server hashed for a job of files on the server (``total`` with it)."""
    s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id)
        .values(fingerprints=fingerprints, total=len(fingerprints))
    )


def set_total(s: Session, job_id: int, total: int) -> None:
    s.execute(update(TriageJob).where(TriageJob.id == job_id).values(total=total))


def request_cancel(s: Session, job_id: int, now: datetime) -> None:
    """A queued job is cancelled at once; a running one at its next chunk."""
    s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id, TriageJob.state == "queued")
        .values(state="cancelled", cancel_requested=True, finished_at=now)
    )
    s.execute(
        update(TriageJob)
        .where(TriageJob.id == job_id, TriageJob.state == "running")
        .values(cancel_requested=True)
    )


# -- a finished job's files ----------------------------------------------------------------

FILE_SORTS = ("file", "path", "status", "series", "distance")
"""Sort keys of a job's files: report order, path, verdict, first series name,
closest PDQ distance (files without one last)."""
NO_DISTANCE = 1 << 16


def file_row(job_id: int, seq: int, item: dict[str, Any]) -> dict[str, Any]:
    """The ``triage_job_file`` columns of one report line (``TriageItem.to_json``)."""
    matches = [m for m in item.get("matches") or [] if isinstance(m, dict)]
    names = [str(n) for m in matches for n in m.get("series") or []]
    distances = [int(m["distance"]) for m in matches if m.get("distance") is not None]
    group = item.get("new_group")
    return {
        "job_id": job_id,
        "seq": seq,
        "path": str(item.get("path", "")),
        "status": str(item.get("status", "")),
        "series": min(names) if names else "",
        "distance": min(distances) if distances else None,
        "new_group": group if isinstance(group, int) else None,
        "item": item,
    }


def result_head(s: Session, job_id: int) -> dict[str, Any] | None:
    """The report's head (no per-file lines), as stored."""
    head = s.scalar(select(TriageJob.result).where(TriageJob.id == job_id))
    return dict(head) if isinstance(head, dict) else None


def files_of(s: Session, job_id: int) -> list[dict[str, Any]]:
    """Every per-file line of a job's report, in report order."""
    return [
        dict(item)
        for item in s.scalars(
            select(TriageJobFile.item)
            .where(TriageJobFile.job_id == job_id)
            .order_by(TriageJobFile.seq)
        )
    ]


def _status_filter(job_id: int, status: str | None) -> Any:
    cond = TriageJobFile.job_id == job_id
    return cond if status is None else cond & (TriageJobFile.status == status)


def file_page(
    s: Session,
    job_id: int,
    *,
    status: str | None = None,
    sort: str = "file",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """One page of a job's files (of one verdict when ``status``), in ``FILE_SORTS``
    order then report order: cut in SQL."""
    if not 1 <= limit <= 1001 or offset < 0:
        raise InvalidInput("a page of files holds 1..1000 from offset >= 0")
    keys = {
        "file": TriageJobFile.seq,
        "path": TriageJobFile.path,
        "status": TriageJobFile.status,
        "series": TriageJobFile.series,
        "distance": func.coalesce(TriageJobFile.distance, NO_DISTANCE),
    }
    q = ordered(
        select(TriageJobFile.item).where(_status_filter(job_id, status)),
        keys,
        sort,
        descending=descending,
        tie=TriageJobFile.seq,
        what="triage results",
    )
    return [dict(item) for item in s.scalars(q.limit(limit).offset(offset))]


def file_count(s: Session, job_id: int, status: str | None = None) -> int:
    return int(
        s.scalar(
            select(func.count()).select_from(TriageJobFile).where(_status_filter(job_id, status))
        )
        or 0
    )


def group_members(
    s: Session, job_id: int, groups: set[int], per_group: int
) -> dict[int, tuple[int, list[str]]]:
    """For each new-media group: its size and the paths of its first ``per_group``
    files (report order)."""
    if not groups:
        return {}
    in_groups = (TriageJobFile.job_id == job_id) & TriageJobFile.new_group.in_(sorted(groups))
    sizes = {
        int(g): int(n)
        for g, n in s.execute(
            select(TriageJobFile.new_group, func.count())
            .where(in_groups)
            .group_by(TriageJobFile.new_group)
        )
        if g is not None
    }
    ranked = (
        select(
            TriageJobFile.new_group,
            TriageJobFile.path,
            TriageJobFile.seq,
            func.row_number()
            .over(partition_by=TriageJobFile.new_group, order_by=TriageJobFile.seq)
            .label("n"),
        )
        .where(in_groups)
        .subquery()
    )
    out: dict[int, tuple[int, list[str]]] = {g: (n, []) for g, n in sizes.items()}
    for g, path in s.execute(
        select(ranked.c.new_group, ranked.c.path)
        .where(ranked.c.n <= per_group)
        .order_by(ranked.c.new_group, ranked.c.seq)
    ):
        out[int(g)][1].append(str(path))
    return out


__all__ = [
    "ACTIVE",
    "FILE_SORTS",
    "FINAL",
    "JOB_SORTS",
    "beat",
    "by_public_id",
    "claim",
    "claimable",
    "create",
    "file_count",
    "file_page",
    "file_row",
    "files_of",
    "finish",
    "group_members",
    "of_user",
    "progress",
    "request_cancel",
    "result_head",
    "set_fingerprints",
    "set_total",
]
