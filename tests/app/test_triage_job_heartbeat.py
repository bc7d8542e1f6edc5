"""A running triage job's heartbeat is kept fresh between its progress updates.

Progress is written per chunk of files; without a beat in between, a chunk slower
than ``STALE`` made the job look abandoned and a second worker ran it again.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from tessera.app import App, Caller, Role, Settings
from tessera.app import triage_jobs as jobs
from tessera.storage import triage_jobs as store
from tessera.storage.models import TriageJob
from tests.api.test_triage_job_routes import _record
from tests.seeding import ensure_agency


def test_heartbeat_keeps_a_slow_job_from_being_claimed_twice(tmp_path: Path) -> None:
    settings = Settings.for_home(tmp_path / "home")
    with App(settings) as app:
        app.migrate()
        ensure_agency(app.db, "NL-NPU")
        caller = Caller(role=Role.ANALYST, user_id=1, email="a@example.org", agency_code="NL-NPU")
        view = jobs.submit(app, caller, [_record("x.jpg", b"x")])
        old = jobs._now() - timedelta(minutes=10)
        with app.transaction() as s:
            job = s.scalar(select(TriageJob).where(TriageJob.public_id == view.id))
            assert job is not None
            job_id = job.id
            assert store.claim(s, job_id, "queued", 0, old)  # running, last beat long ago
            s.execute(
                update(TriageJob).where(TriageJob.id == job_id).values(heartbeat_at=old, done=7)
            )
        stale = timedelta(seconds=30)
        with app.transaction() as s:  # as it is, another worker would take it
            assert job_id in [i for i, _, _ in store.claimable(s, jobs._now(), stale)]
        with jobs._Heartbeat(app, job_id, every=0.01):
            deadline = time.monotonic() + 30  # waiting for the thread, not timing it
            taken = True
            while taken and time.monotonic() < deadline:
                time.sleep(0.02)
                with app.transaction() as s:
                    taken = job_id in [i for i, _, _ in store.claimable(s, jobs._now(), stale)]
        assert not taken
        with app.transaction() as s:
            job = s.get(TriageJob, job_id)
            assert job is not None
            assert job.done == 7  # the beat leaves progress alone
            assert job.state == "running"
