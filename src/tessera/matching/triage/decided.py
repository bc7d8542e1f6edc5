"""What the verdict steps found for one file, kept beside the file as they left it.

A triage run that resumes after a kill (``tessera.matching.triage.journal``) feeds
these back in the files' walk-order places instead of reading, decoding and
hashing the files again: they hold everything the verdicts, matches, series and
new-media groups are made from, so the report equals an uninterrupted run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tessera.matching.av_match import AvHit
from tessera.matching.pdq_store import PdqHit
from tessera.matching.scene_triage import Related
from tessera.pipeline.result import FileResult


@dataclass(frozen=True)
class Decided:
    """One file after the verdict steps: the file without its colour layout and
    copy-check keypoints, and each step's findings for it (empty when it found
    nothing): the exact hit (media id, digest), the PDQ bests (media id -> distance,
    variant) and every PDQ hit, the video and audio hits, and the colour-layout and
    copy-check results."""

    file: FileResult
    exact: tuple[int, str] | None = None
    near: Mapping[int, tuple[int, str]] = field(default_factory=dict)
    pdq_hits: tuple[PdqHit, ...] = ()
    av: tuple[AvHit, ...] = ()
    related: tuple[Related, ...] = ()


__all__ = ["Decided"]
