"""Triage: for every file under the given paths, known, near a known item, or new.

Nothing is written. The result is ``tessera.matching.triage.TriageReport`` (its
``to_json()`` is the ``--json`` document, ``tessera.report.html`` renders it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from tessera.app import audit, coop, trust
from tessera.app.blind_matches import EXACT, own_match
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.progress import SILENT, Progress
from tessera.app.triage_resume import Resume, run_key
from tessera.app.visibility import Level, transaction
from tessera.features.local import LocalFeatures
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.matching.scene_triage import Related, SecondStage, leads_stage
from tessera.matching.triage import TriageReport, triage
from tessera.matching.triage.leads import lead_jobs
from tessera.matching.triage.report import Match, RelatedMatch, SeriesHit, TriageItem
from tessera.pipeline.archives import release_indexes
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.reread import reread
from tessera.pipeline.result import FileResult
from tessera.storage import repo, sharing


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
    resume: bool = True,
    on_note: Callable[[str], None] | None = None,
    on_resumed: Callable[[str, int], None] | None = None,
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

    The run keeps a journal (``tessera.app.triage_resume``): run again after a kill,
    with the same paths, options and caller, it takes the files and leads the journal
    holds instead of reading and searching them again (``on_resumed("files" or
    "leads", n)`` says how many), with the same report as an uninterrupted run.
    ``resume``: False discards an earlier attempt's journal and starts over.
    ``on_note(text)`` gets a warning when the journal cannot be written (the run
    goes on without it). The journal is removed when the report is made.
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

    def confirm(f: FileResult) -> LocalFeatures | None:
        """The copy check's confirmation: ``f``'s full features, as the leads stage
        takes them (the picture as it is), read again from disk."""
        again = reread(f, confirm_options, options.archives)
        return LocalFeatures.from_bytes(again.features) if again and again.features else None

    confirm_options = replace(lead_options.hash, metadata=False)

    def visible(report: TriageReport) -> TriageReport:
        return report if caller.is_local_operator else shared_report(app, caller, report, radius)

    def run_leads(
        open_items: Sequence[tuple[int, FileResult]], report: TriageReport
    ) -> SecondStage:
        assert scene is not None
        journaled = [(i, journal.leads_of(f.path)) for i, f in open_items]
        taken = {i: rel for i, rel in journaled if rel is not None}
        jobs, lost = lead_jobs(paths, [(i, f) for i, f in open_items if i not in taken])
        label = {i: f.path for i, f in open_items}
        progress.begin("leads")
        progress.set_total(sum(len(w) for _, w in jobs) + len(taken))
        if taken:
            if on_resumed:
                on_resumed("leads", len(taken))
            progress.advance(len(taken))

        def found(i: int, related: list[Related]) -> None:
            if on_lead is None:
                return
            it = report.items[i]
            copy = it.status == "new" and any(r.relation == "copy" for r in related)
            ghost = TriageItem(it.file, "near" if copy else it.status, list(it.matches), it.group)
            ghost.related = [RelatedMatch(r.media_id, r.relation, (), r.detail) for r in related]
            shown = (
                TriageReport(items=[ghost], series=[], groups=[])
                if caller.is_local_operator
                else shared_report(
                    app,
                    caller,
                    TriageReport(items=[ghost], series=[], groups=[]),
                    radius,
                    series=False,
                )
            )
            on_lead(shown.items[0])

        for i, rel in taken.items():
            if rel:
                found(i, rel)
        stage = leads_stage(
            db,
            scene,
            jobs,
            lead_options,
            on_found=found,
            on_searched=lambda i, rel: journal.lead(label[i], rel),
            on_progress=progress.advance,
            workers=n,
        )
        related = {i: rel for i, rel in taken.items() if rel} | stage.related
        return SecondStage(related, stage.failed | frozenset(lost))

    key = run_key(
        app,
        caller,
        paths,
        {
            "radius": radius,
            "min_quality": min_quality,
            "dihedral": dihedral,
            "scenes": scenes,
            "leads": leads,
        },
    )
    noted: list[str] = []

    def note(text: str) -> None:
        if not noted and on_note:
            on_note(text)
        noted.append(text)

    journal = Resume.open(app, key, fresh=not resume, note=note)
    with journal:  # closed however the run ends; removed once the report is made
        progress.begin("triage")
        try:
            files = journal.walk(
                paths,
                options,
                workers=n,
                on_progress=progress.advance,
                on_total=progress.set_total,
                cluster=cluster,
                on_resumed=(lambda k: on_resumed("files", k)) if on_resumed else None,
            )
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
                on_decided=journal.decided,
                confirm=confirm,
            )
        finally:
            progress.end()
            release_indexes()  # the confirmation's (and one-process leads') archive index
        per_item: dict[int, int] = {}  # before redaction: owners learn of blind hits too
        for it in report.items:
            for media_id in {m.media_id for m in it.matches}:
                per_item[media_id] = per_item.get(media_id, 0) + 1
        total, found = len(report.items), report.items
        if not caller.is_local_operator:
            report = shared_report(app, caller, report, radius)
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
        journal.finish()
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


def shared_report(
    app: App,
    caller: Caller,
    report: TriageReport,
    radius: int = MATCH_THRESHOLD,
    *,
    series: bool = True,
) -> TriageReport:
    """``report`` as a network caller may see it (``tessera.app.visibility``).

    Matches on media it does not see at ``hash`` are dropped (a file matching only
    those is ``new``, as if unknown); at ``hash`` a match keeps how it matched but
    names no series and no submissions; series are named, and listed with their
    status, only from ``status`` up; scene leads need ``status``, marker, camera
    and GPS leads ``full``. An item seen through the caller's blind link only
    matches by what its own record said (``tessera.app.blind_matches``): digests,
    and its PDQ within ``radius``; no lead comes from it. ``series``: False leaves
    the series list empty (one file's leads as they come).
    """
    ids = {m.media_id for it in report.items for m in it.matches}
    ids |= {r.media_id for it in report.items for r in it.related}
    with transaction(app, caller) as (s, vis):
        levels = vis.media_levels(ids)
        names = vis.series_names_of_media(ids)
        own = vis.own_records(m for m, lv in levels.items() if lv >= Level.HASH)
        items = [_shared_item(it, levels, names, own, radius) for it in report.items]
        if not series:
            return TriageReport(items=items, series=[], groups=report.groups)
        # the series the remaining matches hit, as the caller sees them (a node's
        # service reads no series without a caller: count them here)
        in_series, _ = vis.containers(m.media_id for it in items for m in it.matches)
        of_media = {m: sorted(x) for m, x in in_series.items()}
        series_levels = vis.series_levels(x for v in of_media.values() for x in v)
        shown = {i for i, lv in series_levels.items() if lv >= Level.STATUS}
        statuses = {h.status.series_id: h.status for h in report.series}
        statuses.update(repo.series_statuses(s, shown - statuses.keys()))
    hits = _series_hits(items, {m: [x for x in v if x in shown] for m, v in of_media.items()})
    return TriageReport(
        items=items,
        series=sorted(
            (
                SeriesHit(statuses[sid], paths, exact, near)
                for sid, (paths, exact, near) in hits
                if sid in statuses
            ),
            key=lambda h: (-len(h.paths), h.status.name),
        ),
        groups=report.groups,
    )


def _shared_item(
    it: TriageItem,
    levels: Mapping[int, Level],
    names: Mapping[int, list[str]],
    own: Mapping[int, sharing.BlindRecord],
    radius: int,
) -> TriageItem:
    matches = [
        replace(
            m,
            distance=m.distance if m.media_id not in own else d,
            series=tuple(names.get(m.media_id, ())),
            submissions=m.submissions if levels[m.media_id] >= Level.STATUS else 0,
            detail=m.detail if m.media_id not in own else {},
        )
        for m in it.matches
        if levels[m.media_id] >= Level.HASH
        and (d := _own_distance(own, m, it.file, radius)) is not None
    ]
    related = [
        replace(r, series=tuple(names.get(r.media_id, ())))
        for r in it.related
        if levels[r.media_id] >= (Level.FULL if r.relation in _FULL_RELATIONS else Level.STATUS)
        and r.media_id not in own
    ]
    status = it.status
    if status in ("known", "near") and not matches:
        status = "archive" if "archive" in it.file.flags else "new"
    return TriageItem(file=it.file, status=status, matches=matches, group=it.group, related=related)


def _own_distance(
    own: Mapping[int, sharing.BlindRecord], m: Match, file: FileResult, radius: int
) -> int | None:
    """``m``'s distance as the caller may be told it (None: left out): as found, or
    for an item seen through its blind link only, from its own record."""
    rec = own.get(m.media_id)
    if rec is None:
        return m.distance
    if m.via in EXACT or m.via == "pdq":
        text = getattr(file, m.via)
        return own_match(rec, m.via, bytes.fromhex(text) if text else None, radius)
    return None  # dihedral PDQ, frames, audio, local features: from their file


def _series_hits(
    items: Sequence[TriageItem], series_of: Mapping[int, list[int]]
) -> list[tuple[int, tuple[list[str], int, int]]]:
    """series id -> (paths, exact, near) of the files whose matches hit it, counted as
    the verdicts count them (``tessera.matching.triage.verdict``)."""
    hits: dict[int, tuple[list[str], int, int]] = {}
    for it in items:
        if it.status not in ("known", "near"):
            continue
        for sid in dict.fromkeys(x for m in it.matches for x in series_of.get(m.media_id, ())):
            paths, exact, near = hits.get(sid, ([], 0, 0))
            paths.append(it.path)
            known = it.status == "known"
            hits[sid] = (paths, exact + known, near + (not known))
    return list(hits.items())


__all__ = ["run", "shared_report"]
