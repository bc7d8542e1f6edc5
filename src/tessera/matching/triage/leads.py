"""Step 6 (after the verdicts): which files the leads stage reads again.

The verdicts need only hashes and a few keypoints; the leads (similar scenes,
markers, same camera, nearby GPS) need full local features and metadata, which cost
several times the hashing. So they are a stage of their own
(``tessera.matching.scene_triage.leads_stage``) that reads the still-open files
again, each top-level path once (an archive's open members together; a zip's or
plain tar's in jobs of ``MEMBERS_PER_JOB``), and of an archive only its open members.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from pathlib import Path

from tessera.matching.scene_triage import LeadJob
from tessera.pipeline.archives import INDEXED, archive_format
from tessera.pipeline.label import path_label
from tessera.pipeline.result import FileResult
from tessera.pipeline.walk import iter_files

MEMBER = "!/"
"""How a member's label joins its archive's (``tessera.pipeline.label``)."""


def top_level(label: str, known: Container[str]) -> str | None:
    """The top-level path label that ``label`` is, or is a member of, or None."""
    if label in known:
        return label
    pos = label.find(MEMBER)
    while pos >= 0:
        if label[:pos] in known:
            return label[:pos]
        pos = label.find(MEMBER, pos + 1)
    return None


def lead_jobs(
    paths: Sequence[Path], open_items: Sequence[tuple[int, FileResult]]
) -> tuple[list[LeadJob], list[int]]:
    """Jobs for ``open_items`` (item index, file) found under ``paths``, in walk order,
    and the item indexes no walked path accounts for any more."""
    tops = {
        path_label(f.path): f.path
        for f in iter_files(paths)
        if f.skip_reason is None and not f.missing
    }
    wanted: dict[str, list[tuple[int, str]]] = {}
    lost: list[int] = []
    for i, f in open_items:
        top = top_level(f.path, tops)
        if top is None:
            lost.append(i)
        else:
            wanted.setdefault(top, []).append((i, f.path))
    jobs: list[LeadJob] = []
    for t, w in wanted.items():
        step = MEMBERS_PER_JOB if len(w) > MEMBERS_PER_JOB and _indexed(tops[t]) else len(w)
        jobs.extend((str(tops[t]), tuple(w[k : k + step])) for k in range(0, len(w), step))
    return jobs, lost


MEMBERS_PER_JOB = 16
"""A zip's or plain tar's open members are read again in jobs of this many (each
worker walks the archive once, ``pipeline.archives.index``, then reads each member
directly), so the leads of a seizure packed as one archive are spread over the
workers. Any other archive stays one job here (each job would decompress it again up
to its members); the leads stage reads it once and spreads its members
(``scene_triage.STREAM_OVER``)."""


def _indexed(path: Path) -> bool:
    return archive_format(path) in INDEXED


__all__ = ["MEMBERS_PER_JOB", "lead_jobs", "top_level"]
