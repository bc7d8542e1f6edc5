"""Triage's orchestration: the steps in order, on one read-only view of the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.matching.av_match import AvHit, audio_hits, video_hits
from tessera.matching.pdq_store import PdqStore
from tessera.matching.scene_store import SceneStore
from tessera.matching.scene_triage import (
    SEARCH_FAILED,
    Related,
    SecondStage,
    other_shots,
    second_stage,
)
from tessera.matching.triage.copies import Confirm, copy_check
from tessera.matching.triage.decided import Decided
from tessera.matching.triage.exact import ExactHits, exact_matches
from tessera.matching.triage.grouping import group_new
from tessera.matching.triage.layouts import LayoutIndex, layout_check
from tessera.matching.triage.near import NearHits, pdq_near
from tessera.matching.triage.report import Status, TriageItem, TriageReport
from tessera.matching.triage.verdict import Context, decide
from tessera.media.vpdq_file import blas_threads
from tessera.pipeline.result import FileResult
from tessera.storage import repo
from tessera.storage.db import Database


def initial_status(f: FileResult) -> Status:
    """A file's status before matching: an archive is a container, never new media."""
    if f.status in ("error", "skipped"):
        return f.status
    return "archive" if "archive" in f.flags else "new"


LeadsFn = Callable[[Sequence[tuple[int, FileResult]], TriageReport], SecondStage]
"""The leads stage: given the files the verdicts left open (item index, file) and the
verdicts' report, what they share with stored media."""


def triage(
    db: Database,
    store: PdqStore,
    files: Iterable[FileResult | Decided],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    dihedral: bool = False,
    scene: SceneStore | None = None,
    on_scene_total: Callable[[int], None] | None = None,
    on_scene_progress: Callable[[int], None] | None = None,
    workers: int = 1,
    index_db: Database | None = None,
    on_verdicts: Callable[[TriageReport], None] | None = None,
    leads: LeadsFn | None = None,
    on_decided: Callable[[Sequence[Decided]], None] | None = None,
    confirm: Confirm | None = None,
) -> TriageReport:
    """Classify fingerprinted files against the database; see the package doc.

    With ``scene`` (the scene index): files no hash matched that carry copy-check
    keypoints (``FileResult.copy_features``) go through the copy check (an edited
    copy becomes ``near``); files that carry local features or metadata go through
    the second stage (copies become ``near``; similar scenes, markers, camera and GPS
    links become leads). ``on_verdicts(report)`` is called once the verdicts are
    known, before ``leads`` (the leads stage) runs on the files still open; a copy it
    finds makes its file ``near`` in the report returned.
    ``index_db``: the database as the index machinery reads it (every hash and media
    id, under PostgreSQL RLS too) for the exact, video and audio matching, like the
    PDQ index; the caller's view is applied by the application layer afterwards.
    ``files`` may hold, in a file's place, what an earlier attempt's verdict steps
    found for it (``Decided``, from a journal): taken as it is, no step runs on it.
    ``on_decided(files)`` gets each chunk's newly decided files (for the journal).
    ``confirm`` reads a file's full local features again when the copy check's
    320-pixel keypoints find a copy they cannot tell from another shot
    (``tessera.matching.triage.copies.CONFIRM_RESIDUAL``).
    """
    hashes = index_db or db
    items: list[TriageItem] = []
    exact: ExactHits = {}
    near = NearHits()
    av: dict[int, list[AvHit]] = defaultdict(list)
    related: dict[int, list[Related]] = {}
    layouts = _Layouts(hashes)

    def add(d: Decided) -> None:
        i = len(items)
        items.append(TriageItem(d.file, initial_status(d.file)))
        if d.exact is not None:
            exact[i] = d.exact
        if d.near:
            near.best[i] = dict(d.near)
        if d.pdq_hits:
            near.hits[i] = list(d.pdq_hits)
        if d.av:
            av[i].extend(d.av)
        if d.related:
            related[i] = list(d.related)

    for chunk in _chunks(files, VERDICT_CHUNK):
        fresh = [f for f in chunk if isinstance(f, FileResult)]
        part = [TriageItem(f, initial_status(f)) for f in fresh]
        done: list[Decided] = []
        if part:
            found = _verdict_steps(
                hashes,
                store,
                part,
                layouts,
                scene=scene,
                radius=radius,
                min_quality=min_quality,
                dihedral=dihedral,
                confirm=confirm,
            )
            # decided: the chunk's keypoints and layouts are not needed again
            done = [_per_file(found, k, _decided(it.file)) for k, it in enumerate(part)]
            if on_decided:
                on_decided(done)
        taken = iter(done)
        for f in chunk:
            add(next(taken) if isinstance(f, FileResult) else f)

    def still_open() -> list[tuple[int, FileResult]]:
        return _still_open(items, exact, near, av, related)

    if scene is not None:
        searched = [(i, f) for i, f in still_open() if f.features or f.metadata]
        if searched:
            if on_scene_total:
                on_scene_total(len(searched))
            stage = second_stage(
                db, scene, searched, on_progress=on_scene_progress, workers=workers
            )
            for i, rel in stage.related.items():
                related.setdefault(i, []).extend(rel)
            _flag_failed(items, stage.failed)
    report = _report(db, items, exact=exact, near=near, av=av, related=related, radius=radius)
    if leads is None:
        return report
    if on_verdicts:
        on_verdicts(report)
    stage = leads(still_open(), report)
    for i, rel in stage.related.items():
        related.setdefault(i, []).extend(rel)
    _flag_failed(items, stage.failed)
    return _report(db, items, exact=exact, near=near, av=av, related=related, radius=radius)


VERDICT_CHUNK = 64
"""Files whose verdict steps run together, as the fingerprinting pool returns them.
A still's copy-check keypoints and colour layout (~25 KB) are dropped once its chunk
is decided, so memory does not grow with the seizure by them (all of them were held
until the last file was hashed), and a chunk's checks run while the pool hashes the
files in its window (8 a worker and one chunk more: ``run_found(ahead=...)``). Large
enough that each step's one query or index search per chunk costs little."""


def _chunks(
    files: Iterable[FileResult | Decided], size: int
) -> Iterator[list[FileResult | Decided]]:
    chunk: list[FileResult | Decided] = []
    for f in files:
        chunk.append(f)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Layouts:
    """The stored colour layouts, read once, when a chunk first needs them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._index: LayoutIndex | None = None

    def index(self) -> LayoutIndex:
        if self._index is None:
            self._index = LayoutIndex.load(self._db)
        return self._index


@dataclass(frozen=True)
class _Found:
    """What the verdict steps found in one chunk, by the chunk's own item indexes."""

    exact: ExactHits
    near: NearHits
    av: dict[int, list[AvHit]]
    related: dict[int, list[Related]]


def _per_file(found: _Found, k: int, file: FileResult) -> Decided:
    """What ``found`` says about its chunk's item ``k`` (whose file is now ``file``)."""
    return Decided(
        file,
        exact=found.exact.get(k),
        near=found.near.best.get(k, {}),
        pdq_hits=tuple(found.near.hits.get(k, ())),
        av=tuple(found.av.get(k, ())),
        related=tuple(found.related.get(k, ())),
    )


def _verdict_steps(
    hashes: Database,
    store: PdqStore,
    items: Sequence[TriageItem],
    layouts: _Layouts,
    *,
    scene: SceneStore | None,
    radius: int,
    min_quality: int,
    dihedral: bool,
    confirm: Confirm | None = None,
) -> _Found:
    """Digests, PDQ (and its variants), videos and audio, colour layouts and the copy
    check, each step on the files the steps before left open."""
    exact = exact_matches(hashes, items)
    near = pdq_near(store, items, exact, radius=radius, min_quality=min_quality, dihedral=dihedral)
    if scene is not None:  # PDQ hits that local features show to be another shot
        pdq_hits = [  # the picture as it is (a mirror image's features would not verify)
            (i, items[i].file, mid)
            for i, found in near.best.items()
            for mid, (_, via) in found.items()
            if via in ("pdq", "pdq-trimmed")
        ]
        for i, mid in other_shots(scene, pdq_hits):
            del near.best[i][mid]
            near.hits[i] = [h for h in near.hits.get(i, []) if h.media_id != mid]
    # videos (frames, segments) and audio
    open_files = [
        it.file if i not in exact else FileResult(it.path, "skipped") for i, it in enumerate(items)
    ]
    av: dict[int, list[AvHit]] = defaultdict(list)
    for i, found in video_hits(
        hashes, store, open_files, radius=radius, min_quality=min_quality
    ).items():
        av[i].extend(found)
    for i, found in audio_hits(hashes, open_files).items():
        av[i].extend(found)
    related: dict[int, list[Related]] = {}

    def still_open() -> list[tuple[int, FileResult]]:
        return _still_open(items, exact, near, av, related)

    low = [(i, f) for i, f in still_open() if f.layout]
    if low:  # edited copies of low-texture pictures: few keypoints, PDQ of low quality
        related.update(layout_check(hashes, low, index=layouts.index))
    if scene is not None:
        checked = [(i, f) for i, f in still_open() if f.copy_features]
        if checked:
            with blas_threads(1):  # small matrix products: threads only spin (30x CPU)
                copies, _failed = copy_check(scene, checked, confirm=confirm)
            related.update(copies)
    return _Found(exact, near, dict(av), related)


def _still_open(
    items: Sequence[TriageItem],
    exact: ExactHits,
    near: NearHits,
    av: Mapping[int, list[AvHit]],
    related: Mapping[int, list[Related]],
) -> list[tuple[int, FileResult]]:
    """(item index, file) of the readable media no step has matched yet (not an
    archive's own result: a container, which no step after the digests reads, and
    which the leads stage would otherwise read whole again)."""
    return [
        (i, it.file)
        for i, it in enumerate(items)
        if i not in exact
        and not near.best.get(i)
        and not av.get(i)
        and it.status != "archive"
        and it.file.status == "ok"
        and not any(r.relation == "copy" for r in related.get(i, []))
    ]


def _decided(f: FileResult) -> FileResult:
    """``f`` without what only the verdict steps read: the colour layout and the copy
    check's keypoints (kept where they are the second stage's only local features: a
    file carrying metadata but no full features)."""
    keep = f.copy_features if (f.metadata and not f.features) else None
    if f.layout is None and f.copy_features is keep:
        return f
    return replace(f, layout=None, copy_features=keep)


def _flag_failed(items: Sequence[TriageItem], failed: frozenset[int]) -> None:
    for i in failed:  # the hash verdict stands; the file says the search failed
        f = items[i].file
        if SEARCH_FAILED not in f.flags:
            items[i].file = replace(f, flags=(*f.flags, SEARCH_FAILED))


def _report(
    db: Database,
    items: list[TriageItem],
    *,
    exact: ExactHits,
    near: NearHits,
    av: Mapping[int, list[AvHit]],
    related: Mapping[int, list[Related]],
    radius: int,
) -> TriageReport:
    """Verdicts, leads, series and new-media groups from what the steps found."""
    media_ids = (
        {mid for mid, _ in exact.values()}
        | {mid for d in near.best.values() for mid in d}
        | {a.media_id for found in av.values() for a in found}
        | {r.media_id for found in related.values() for r in found}
    )
    with db.session() as s:
        series_of = repo.series_of_media(s, media_ids)
        ctx = Context(
            series_of=series_of,
            statuses=repo.series_statuses(s, {sid for ids in series_of.values() for sid in ids}),
            submissions=repo.submissions_of(s, media_ids),
        )
    series = decide(items, exact=exact, near=near, av=av, related=related, ctx=ctx)
    for it in items:
        if it.status != "new":
            it.group = None
    groups = group_new(items, radius)
    return TriageReport(items=items, series=series, groups=groups)


__all__ = ["LeadsFn", "triage"]
