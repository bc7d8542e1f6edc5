"""Triage jobs' rows: created, claimed by one worker, progressed, finished.

A job is claimed with a conditional UPDATE (``state`` and ``attempts`` as they
were read), so of several server workers polling at once exactly one runs it, on
SQLite and PostgreSQL alike. A running job whose heartbeat is older than the
stale limit was left by a worker that died (a restart, ``kill -9``): it is claimed
again, and after ``max_attempts`` it is failed with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import defer

from tessera.storage.db import Session
from tessera.storage.models import TriageJob
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
    return s.scalar(select(TriageJob).where(TriageJob.public_id == public_id))


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
    error: str | None = None,
    done: int | None = None,
) -> None:
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


__all__ = [
    "ACTIVE",
    "FINAL",
    "JOB_SORTS",
    "beat",
    "by_public_id",
    "claim",
    "claimable",
    "create",
    "finish",
    "of_user",
    "progress",
    "request_cancel",
    "set_fingerprints",
    "set_total",
]
