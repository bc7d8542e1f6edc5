"""Ingest: fingerprint everything under a path into the database, for an agency's case.

Resumable: the same call after an interruption finishes the run without writing
anything twice (``tessera.ingest.runner``). A missing OCR language pack stops the
call before any work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tessera.app import audit, coop
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.progress import SILENT, Progress
from tessera.app.results import Result
from tessera.app.visibility import Level, Visibility, require_role
from tessera.errors import PermissionDenied
from tessera.ingest.runner import ingest
from tessera.media.ocr import check_languages
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.storage.db import Session


class FailedFile(Result):
    """A file of the run that failed or was skipped, and why."""

    path: str
    status: str
    reason: str | None
    message: str | None


class IngestResult(Result):
    """What one run did (``--json`` of ``tessera ingest``)."""

    run_id: int
    resumed: bool
    files_seen: int
    new_media: int
    already_known: int
    errors: int
    errors_by_reason: dict[str, int]
    skipped: int
    skipped_by_reason: dict[str, int]
    failed_files: tuple[FailedFile, ...]
    already_done_in_earlier_attempt: int
    processed_in_this_attempt: int
    seconds: float


def run(
    app: App,
    caller: Caller,
    path: Path,
    *,
    agency_code: str,
    case_number: str,
    series_name: str | None = None,
    features: bool = True,
    ocr_languages: tuple[str, ...] = (),
    open_archives: bool = True,
    workers: int | None = None,
    batch_size: int = 256,
    progress: Progress = SILENT,
    cluster: str | None = None,
) -> IngestResult:
    """Ingest ``path`` (file or folder, archives opened) for ``agency_code``'s case.

    Curators and up, for their own agency (the local operator for any): the rows
    written are that agency's."""
    if not caller.is_local_operator:
        require_role(caller, Role.CURATOR)
        if caller.agency_code != agency_code:
            raise PermissionDenied("you may ingest only for your own agency")
    db = app.db
    if ocr_languages:
        check_languages(ocr_languages)  # a missing language pack fails before any work
    store = app.pdq_store()
    scene = app.scene_store() if features else None
    options = ExpandOptions(
        hash=HashOptions(
            features=features,
            layout=True,
            metadata=True,
            ocr_languages=ocr_languages,
            limits=app.settings.decode_limits,
        ),
        open_archives=open_archives,
    )
    progress.begin("ingesting")
    try:
        summary = ingest(
            db,
            store,
            path,
            agency_code=agency_code,
            case_number=case_number,
            series_name=series_name,
            options=options,
            workers=workers or app.settings.worker_count,
            batch_size=batch_size,
            on_progress=progress.advance,
            on_total=progress.set_total,
            scene=scene,
            cluster=cluster,
            seen=_seen_by(agency_code),
        )
    finally:
        progress.end()
    result = IngestResult(**summary.as_json())
    audit.record(
        app,
        caller,
        "ingest",
        target=f"case:{agency_code}/{case_number}",
        series=series_name,
        params={
            "path": str(path),
            "run": result.run_id,
            "features": features,
            "ocr": ocr_languages,
        },
        result_count=result.new_media,
    )
    coop.notice_run(app, caller, result.run_id, agency_code)  # after the run's commits
    return result


def _seen_by(agency_code: str) -> Callable[[Session, set[int]], set[int]]:
    """What the ingesting agency sees (``hash`` up), whoever runs the ingest, so a
    file's status is the agency's view (``tessera.app.exchange`` does the same)."""
    agency_view = Caller(role=Role.CURATOR, agency_code=agency_code)

    def seen(s: Session, ids: set[int]) -> set[int]:
        return Visibility.of(s, agency_view).seen_media(ids, Level.HASH)

    return seen


__all__ = ["FailedFile", "IngestResult", "run"]
