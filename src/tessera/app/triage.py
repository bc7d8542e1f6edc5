"""Triage: for every file under the given paths, known, near a known item, or new.

Nothing is written. The result is ``tessera.matching.triage.TriageReport`` (its
``to_json()`` is the ``--json`` document, ``tessera.report.html`` renders it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.progress import SILENT, Progress
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.ingest.expand import ExpandOptions
from tessera.ingest.filehash import HashOptions
from tessera.matching.triage import TriageReport, fingerprint_paths, triage


def run(
    app: App,
    caller: Caller,
    paths: Sequence[Path],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    dihedral: bool = False,
    scenes: bool = True,
    workers: int | None = None,
    progress: Progress = SILENT,
) -> TriageReport:
    """Fingerprint ``paths`` (archives opened) and classify every file.

    ``scenes``: the second stage for files no hash matched (edited copies become
    ``near``; similar scenes, markers, same camera, nearby GPS become leads).
    """
    db = app.db
    store = app.pdq_store()
    scene = app.scene_store() if scenes else None
    n = workers or app.settings.worker_count
    options = ExpandOptions(
        hash=HashOptions(
            dihedral=dihedral,
            features=scenes,
            features_mirrored=scenes,
            metadata=scenes,
            limits=app.settings.decode_limits,
        )
    )
    progress.begin("triage")
    try:
        files = fingerprint_paths(
            paths, options, workers=n, on_progress=progress.advance, on_total=progress.set_total
        )
        if scene is not None:
            progress.begin("similar scenes")
        report = triage(
            db,
            store,
            files,
            radius=radius,
            min_quality=min_quality,
            dihedral=dihedral,
            scene=scene,
            on_scene_total=progress.set_total,
            on_scene_progress=progress.advance,
            workers=n,
        )
    finally:
        progress.end()
    counts = report.counts()
    audit.record(
        app,
        caller,
        "triage",
        target="files",
        params={"paths": [str(p) for p in paths], "radius": radius, "scenes": scenes},
        result_count=counts["known"] + counts["near"],
    )
    return report


__all__ = ["run"]
