"""``tessera ingest``: put a seizure into the shared database, resumably.

Flow: walk the root (sorted), skip the top-level paths a previous, unfinished run
of the same (case, root) already recorded, fingerprint the rest on all cores
(archives opened in the workers), and write results in batches. Each batch is one
transaction (see ``tessera.ingest.writer``); after it commits, its PDQ
fingerprints go into the index, which is saved every so often and at the end. A
kill at any moment loses at most the uncommitted batch, which the re-run redoes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.errors import NotFound
from tessera.ingest.writer import FileMeta, Seen, utc_from_timestamp, write_batch
from tessera.matching.pdq_store import PdqStore
from tessera.matching.scene_store import SceneStore
from tessera.media.vpdq_file import blas_threads
from tessera.pipeline.label import path_label
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.run import run_found
from tessera.pipeline.walk import iter_files
from tessera.storage import ingest_runs, repo, sharing
from tessera.storage.db import Database, Session
from tessera.storage.models import IngestRun, Series


@dataclass
class IngestSummary:
    """What a run did; ``as_json`` is the ``--json`` summary."""

    run_id: int
    resumed: bool
    files: int = 0
    new_media: int = 0
    known: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    problems: list[dict[str, Any]] = field(default_factory=list)
    """Every file that failed or was skipped: path, status, reason, message."""
    already_done: int = 0
    this_attempt: int = 0
    seconds: float = 0.0

    def count(self, status: str, reason: str | None, n: int = 1) -> None:
        self.files += n
        if status == "new":
            self.new_media += n
        elif status == "known":
            self.known += n
        elif status == "error":
            self.errors[reason or "error"] += n
        else:
            self.skipped += n
            self.skipped_by_reason[reason or "skipped"] += n

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "resumed": self.resumed,
            "files_seen": self.files,
            "new_media": self.new_media,
            "already_known": self.known,
            "errors": sum(self.errors.values()),
            "errors_by_reason": dict(sorted(self.errors.items())),
            "skipped": self.skipped,
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "failed_files": self.problems,
            "already_done_in_earlier_attempt": self.already_done,
            "processed_in_this_attempt": self.this_attempt,
            "seconds": round(self.seconds, 3),
        }


def _meta(path: Path) -> FileMeta:
    try:
        st = os.stat(path)
    except OSError:
        return FileMeta()
    return FileMeta(mtime=utc_from_timestamp(st.st_mtime), ctime=utc_from_timestamp(st.st_ctime))


def _own_series(s: Session, name: str, agency_id: int) -> Series:
    """The ingesting agency's own series ``name``: a series takes media only from its
    owner, so another agency's series answers as one that does not exist (whether or
    not the agency may see it: its existence is not told), before any work."""
    series = repo.get_series(s, name)
    if series.agency_id != agency_id:
        raise NotFound(f"no series {name!r}")  # repo.get_series's words
    return series


def ingest(
    db: Database,
    store: PdqStore,
    root: Path,
    *,
    agency_code: str,
    case_number: str,
    series_name: str | None = None,
    options: ExpandOptions | None = None,
    workers: int = 1,
    batch_size: int = 256,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    scene: SceneStore | None = None,
    cluster: str | None = None,
    seen: Seen | None = None,
) -> IngestSummary:
    """Ingest ``root`` (a file or folder) for an agency's case; resumes unfinished runs.

    ``scene`` (the same-scene index) receives each batch's local features when the
    options extract them; it is saved at the end (and caught up on the next open
    after a kill). ``cluster`` (a Dask scheduler address) runs the per-file work on
    that cluster's workers; the writes stay here, in walk order. ``seen``: what the
    agency sees, for its statuses (``write_batch``).
    """
    started = time.monotonic()
    options = options or ExpandOptions()
    root_key = path_label(root.resolve())
    with db.write_session() as s:  # two runs of one root and case: one run, resumed
        # under Row-Level Security (the network service's role) every row written is the
        # ingesting agency's: each transaction names it, or the policies refuse the writes
        sharing.set_rls_caller(s, agency_code)
        agency = repo.get_agency(s, agency_code)
        case = repo.get_or_create_case(s, agency, case_number)
        series = _own_series(s, series_name, agency.id) if series_name else None
        run, resumed = ingest_runs.open_run(
            s,
            agency_id=agency.id,
            case_id=case.id,
            series_id=series.id if series else None,
            root=root_key,
        )
        done = ingest_runs.recorded_paths(s, run.id)
    summary = IngestSummary(run_id=run.id, resumed=resumed)
    found = list(iter_files([root]))
    if on_total:
        on_total(len(found))
    on_disk = {path_label(f.path): f.path for f in found}  # for the file times

    def earlier(label: str) -> bool:
        if label in done:
            summary.already_done += 1
            if on_progress:
                on_progress(1)
            return True
        return False

    batch: list[FileResult] = []

    def flush() -> None:
        if not batch:
            return
        fresh = [r for r in batch if r.path not in done]
        meta = {r.path: _meta(on_disk[r.path]) for r in fresh if r.path in on_disk}
        with db.write_session() as s:
            sharing.set_rls_caller(s, agency_code)
            run_row = s.get(IngestRun, summary.run_id)
            assert run_row is not None
            outcome = write_batch(s, run_row, fresh, meta, seen=seen)
        for r in fresh:
            if r.path in outcome.statuses:  # else: recorded meanwhile by a concurrent run
                summary.count(outcome.statuses[r.path], r.reason)
            done.add(r.path)
        # from the database, not from this batch: other runs' fingerprints come in too
        store.refresh()
        store.save_if_due()
        if scene is not None:
            # one BLAS thread: the pool holds every core, and the word assignment's
            # products otherwise spin against it (~4x the CPU, measured)
            with blas_threads(1):
                scene.refresh()
        batch.clear()

    for group in run_found(found, options, workers=workers, skip=earlier, cluster=cluster):
        batch.extend(group.results)
        if on_progress and group.complete:
            on_progress(1)
        if len(batch) >= batch_size:
            flush()
    flush()
    store.save()
    if scene is not None:
        scene.catch_up()  # retrains the vocabulary when the collection has outgrown it
        scene.save()
    summary.seconds = time.monotonic() - started
    this_attempt = summary.files
    with db.write_session() as s:
        sharing.set_rls_caller(s, agency_code)
        # The summary covers the whole run, earlier interrupted attempts included.
        summary.files, summary.new_media, summary.known, summary.skipped = 0, 0, 0, 0
        summary.errors, summary.skipped_by_reason = Counter(), Counter()
        for status, reason, n in ingest_runs.status_counts(s, summary.run_id):
            summary.count(status, reason, n)
        summary.problems = ingest_runs.problems(s, summary.run_id)
        summary.this_attempt = this_attempt
        ingest_runs.finish_run(s, summary.run_id, summary.as_json())
    return summary


__all__ = ["IngestSummary", "ingest"]
