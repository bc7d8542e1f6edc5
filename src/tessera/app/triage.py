"""Triage: for every file under the given paths, known, near a known item, or new.

Nothing is written. The result is ``tessera.matching.triage.TriageReport`` (its
``to_json()`` is the ``--json`` document, ``tessera.report.html`` renders it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from tessera.app import audit, coop, trust
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.progress import SILENT, Progress
from tessera.app.visibility import Level, transaction
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.matching.scene_triage import Related, SecondStage, leads_stage
from tessera.matching.triage import TriageReport, fingerprint_paths, triage
from tessera.matching.triage.leads import lead_jobs
from tessera.matching.triage.report import RelatedMatch, TriageItem
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.result import FileResult


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
    cluster: str | None = None,
    leads: bool = True,
    on_verdicts: Callable[[TriageReport], None] | None = None,
    on_lead: Callable[[TriageItem], None] | None = None,
) -> TriageReport:
    """Fingerprint ``paths`` (archives opened) and classify every file.

    ``scenes``: verdicts also from local features, and leads. The verdicts come from
    a cascade at about hashing speed: digests, PDQ with its dihedral variants
    (rotated, mirrored copies), then, for stills nothing matched, a copy check with a
    few hundred keypoints of the already-decoded picture (crops, small rotations,
    captions, overlays, bars: ``near``). Then, with ``leads``, the leads stage reads
    the still-open files again for full local features and metadata: similar scenes,
    markers, same camera, nearby GPS, and copies the quick check missed (``near``).
    ``on_verdicts(report)`` gets the verdicts before the leads stage starts and
    ``on_lead(item)`` each file's leads as they come (both as ``caller`` may see them).
    ``cluster``: a Dask scheduler address; fingerprinting and the copy-check keypoints
    run on its workers, matching, the leads stage and the report here.
    """
    db = app.db
    store = app.pdq_store()
    scene = app.scene_store() if scenes else None
    n = workers or app.settings.worker_count
    dihedral = dihedral or scenes  # PDQ's 8 variants come from one DCT: free here
    options = ExpandOptions(
        hash=HashOptions(
            dihedral=dihedral,
            copy_features=scenes,
            layout=scenes,
            limits=app.settings.decode_limits,
        )
    )
    lead_options = ExpandOptions(
        hash=HashOptions(
            pdq=False,
            features=True,
            features_compact=False,
            metadata=True,
            limits=app.settings.decode_limits,
        )
    )

    def visible(report: TriageReport) -> TriageReport:
        return report if caller.is_local_operator else shared_report(app, caller, report)

    def run_leads(
        open_items: Sequence[tuple[int, FileResult]], report: TriageReport
    ) -> SecondStage:
        assert scene is not None
        jobs, lost = lead_jobs(paths, open_items)
        progress.begin("leads")
        progress.set_total(sum(len(w) for _, w in jobs))

        def found(i: int, related: list[Related]) -> None:
            if on_lead is None:
                return
            it = report.items[i]
            copy = it.status == "new" and any(r.relation == "copy" for r in related)
            ghost = TriageItem(it.file, "near" if copy else it.status, list(it.matches), it.group)
            ghost.related = [RelatedMatch(r.media_id, r.relation, (), r.detail) for r in related]
            shown = visible(TriageReport(items=[ghost], series=[], groups=[]))
            on_lead(shown.items[0])

        stage = leads_stage(
            db, scene, jobs, lead_options, on_found=found, on_progress=progress.advance, workers=n
        )
        return SecondStage(stage.related, stage.failed | frozenset(lost))

    progress.begin("triage")
    try:
        files = fingerprint_paths(
            paths,
            options,
            workers=n,
            on_progress=progress.advance,
            on_total=progress.set_total,
            cluster=cluster,
        )
        if scene is not None:
            progress.begin("copy check")
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
            index_db=app.index_db,
            on_verdicts=(lambda r: on_verdicts(visible(r))) if on_verdicts else None,
            leads=run_leads if scene is not None and leads else None,
        )
    finally:
        progress.end()
    per_item: dict[int, int] = {}  # before redaction: owners learn of blind hits too
    for it in report.items:
        for media_id in {m.media_id for m in it.matches}:
            per_item[media_id] = per_item.get(media_id, 0) + 1
    total, found = len(report.items), report.items
    if not caller.is_local_operator:
        report = shared_report(app, caller, report)
    counts = report.counts()
    audit.record(
        app,
        caller,
        "triage",
        target="files",
        params={"paths": [str(p) for p in paths], "radius": radius, "scenes": scenes},
        result_count=counts["known"] + counts["near"],
    )
    after_triage(app, caller, found, per_item, total)
    return report


def after_triage(
    app: App,
    caller: Caller,
    items: Sequence[TriageItem],
    per_item: dict[int, int],
    total: int,
) -> None:
    """What every triage (local or a server's job) does with its hits, before redaction:
    the flood guard (the share rule, and each file counted like a lookup's hash for the
    24 h rule) and the owners' notices."""
    trust.guard_triage(app, caller, per_item, total)
    trust.guard(
        app,
        caller,
        [
            (m.media_id, "sha256", bytes.fromhex(it.file.sha256))
            for it in items
            if it.file.sha256
            for m in it.matches
        ],
    )
    coop.notice(app, caller, set(per_item), via="triage")


_FULL_RELATIONS = {"marker", "same-camera", "gps-near"}
"""Leads that come from full-level facts (markers, camera and GPS metadata)."""


def shared_report(app: App, caller: Caller, report: TriageReport) -> TriageReport:
    """``report`` as a network caller may see it (``tessera.app.visibility``).

    Matches on media it does not see at ``hash`` are dropped (a file matching only
    those is ``new``, as if unknown); at ``hash`` a match keeps how it matched but
    names no series and no submissions; series are named, and listed with their
    status, only from ``status`` up; scene leads need ``status``, marker, camera
    and GPS leads ``full``.
    """
    ids = {m.media_id for it in report.items for m in it.matches}
    ids |= {r.media_id for it in report.items for r in it.related}
    with transaction(app, caller) as (_s, vis):
        levels = vis.media_levels(ids)
        names = vis.series_names_of_media(ids)
        series_levels = vis.series_levels(h.status.series_id for h in report.series)
    items = []
    for it in report.items:
        matches = [
            replace(
                m,
                series=tuple(names.get(m.media_id, ())),
                submissions=m.submissions if levels[m.media_id] >= Level.STATUS else 0,
            )
            for m in it.matches
            if levels[m.media_id] >= Level.HASH
        ]
        related = [
            replace(r, series=tuple(names.get(r.media_id, ())))
            for r in it.related
            if levels[r.media_id] >= (Level.FULL if r.relation in _FULL_RELATIONS else Level.STATUS)
        ]
        status = it.status
        if status in ("known", "near") and not matches:
            status = "archive" if "archive" in it.file.flags else "new"
        items.append(
            TriageItem(
                file=it.file, status=status, matches=matches, group=it.group, related=related
            )
        )
    series = [h for h in report.series if series_levels[h.status.series_id] >= Level.STATUS]
    return TriageReport(items=items, series=series, groups=report.groups)


__all__ = ["run", "shared_report"]
