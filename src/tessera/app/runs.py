"""Ingest runs: ``tessera runs`` and ``tessera ingest undo RUN_ID``.

Undo removes what one run added and nothing else (the rules are in
``tessera.storage.runs``): soft, with who and when, in one transaction; then the
PDQ index drops the removed media's fingerprints. The same-scene index keeps
their documents until its next rebuild, but verification reads features only of
live media, so they are never reported.
"""

from __future__ import annotations

from typing import Literal

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.visibility import require_role, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.storage import runs
from tessera.storage.runs import RunRow


class RunSummary(Result):
    """One ingest run with its counts."""

    id: int
    agency_code: str
    case_number: str
    series: str | None
    root: str
    state: Literal["finished", "unfinished", "undone"]
    started_at: Timestamp
    finished_at: Timestamp | None
    undone_at: Timestamp | None
    undone_by: str | None
    counts: dict[str, int]
    """Items by status (new, known, error, skipped), ``files``, live ``sightings``."""

    @classmethod
    def of(cls, r: RunRow) -> RunSummary:
        return cls(**r.__dict__, state=r.state)


class UndoResult(Result):
    run_id: int
    undone_by: str
    sightings_removed: int
    media_removed: tuple[int, ...]
    """Media only this run had added (soft-deleted; their fingerprints leave the indexes)."""
    index_entries_removed: int


def list_runs(app: App, caller: Caller, *, limit: int | None = None) -> list[RunSummary]:
    """Runs newest first: every run for the local operator, the caller's agency's otherwise."""
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1")
    with transaction(app, caller) as (s, vis):
        rows = runs.list_runs(s, limit=None if not vis.everything else limit)
        if not vis.everything:
            rows = [r for r in rows if r.agency_code == vis.agency_code][:limit]
        return [RunSummary.of(r) for r in rows]


def undo(app: App, caller: Caller, run_id: int) -> UndoResult:
    """Remove what run ``run_id`` added; the run's agency's curators (or the operator)."""
    by = audit.actor(caller)
    with transaction(app, caller) as (s, vis):
        run = runs.get_run(s, run_id)
        if not vis.is_owner(run.agency_id):
            raise NotFound(f"no ingest run {run_id}; `tessera runs` lists them")
        require_role(caller, Role.CURATOR)
        out = runs.undo_run(s, run_id, by)
        audit.record_in(
            s,
            app,
            caller,
            "ingest.undo",
            target=f"run:{run_id}",
            params={"media_removed": list(out.media_removed)},
            result_count=out.sightings_removed,
        )
    removed = app.pdq_store().remove(list(out.pdq_ids)) if out.pdq_ids else 0
    return UndoResult(
        run_id=out.run_id,
        undone_by=by,
        sightings_removed=out.sightings_removed,
        media_removed=out.media_removed,
        index_entries_removed=removed,
    )


__all__ = ["RunSummary", "UndoResult", "list_runs", "undo"]
