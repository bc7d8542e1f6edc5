"""Step 5 (verdicts): edited copies of low-texture pictures, by their colour layout.

Smooth gradients, blurred photos and plain scenes with one object have neither a
PDQ of enough quality nor the keypoints the copy check verifies, so a still that
the steps before left open is compared by its colour layout
(``tessera.fingerprints.layout``) with the stored layouts of known pictures that
have little detail (``Layout.decisive``): a cheap comparison without search ranks
them, and the best ``SHORTLIST`` within ``QUICK_MAX`` are searched for a crop,
small rotation, mirror image or quarter turn that places the file in them. A
verified placement is a ``copy`` (the file becomes ``near``), unless the file
verifies about as closely in another known picture that is not the same picture: then
the layout cannot tell which one it copies, or whether it copies either (another shot of
a place verifies in its other shots; ``AMBIGUOUS``), and the file is left to local
features.

Only files with moderate detail themselves (``QUERY_DETAIL_MAX``: overlays and
captions add some) are compared, so most busy pictures pay nothing but the descriptor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tessera.errors import InvalidInput
from tessera.fingerprints.layout import (
    ALGORITHM,
    GRID,
    K_COLOUR,
    K_LIGHT,
    KEEP,
    VERSION,
    Known,
    Layout,
    LayoutMatch,
    Query,
)
from tessera.matching.scene_triage import Related
from tessera.matching.triage import layout_prefilter as prefilter
from tessera.pipeline.result import FileResult
from tessera.storage.db import Database
from tessera.storage.repo import fingerprints_after

SHORTLIST = 3
"""Known pictures searched per file (the closest verified copy wins)."""
QUICK_MAX = 20.0
"""Largest distance without search (CIELAB, robust mean) of a known picture searched."""
QUERY_DETAIL_MAX = 0.15
"""Files with more detail pixels than this share are not compared: what they cost is
the comparison without search against every decisive layout. Measured (generated
sets): edited copies of low-texture pictures 0.018-0.07 with a caption, 0.085-0.138
with a text-and-emoji overlay; busy pictures 0.148-0.191."""
SAME_PICTURE = 0.5
"""Two known layouts this close without search (robust CIELAB distance, best mirror image
or turn) are one picture stored twice (re-encoded: JPEG at quality 75 0.07-0.15,
mirrored or turned: 0, letterboxed: 0)."""
AMBIGUOUS = 1.3
"""A file verified in two known pictures that are not one picture, the second within this
factor of the first's distance, is no layout copy (issue 16 item 3): another photograph
of a place verifies in the stored photographs of that place as a crop would, and the
layout cannot single out one of them (a 92 % crop of a frame of the ICL living room lies
1.99 CIELAB from its frame and 2.07 from another frame). The file is left to local
features. Measured (``bench_layout_same_place.py``, blurred same-place sets, layout
v3): of the 38 other shots the layout step called a copy, 31 verified in two or three
stored shots, 23 of them within 1.3 times the first distance; of 655 edited copies it
found, 28 had another shot within that factor. Leaving every file verified twice to
local features (283 copies) lost 23 copies: on pictures this blurred, local features
find 260 of 291 and take 16 for another shot, and call most other shots of a room a copy
too. With the factor: 28 copies of the 36 left found, 7 taken for another shot; 14 of
the 23 other shots left called a copy by local features. Edited copies of the generated
low-texture pictures (``low_texture.py``, seeds 0-31) the factor leaves: 3 of the 566
the layout step verified."""
_PAGE = 50_000


@dataclass
class LayoutIndex:
    """The decisive stored layouts (still pictures), prepared for comparisons: their
    coefficients and colour quantiles (``layout_prefilter``) in arrays, a ``Known``
    made only for a layout a file is compared with."""

    media_ids: list[int]
    light: np.ndarray  # n x K_LIGHT x K_LIGHT
    colour: np.ndarray  # n x 2 x K_COLOUR x K_COLOUR
    aspect: np.ndarray  # n
    detail: np.ndarray  # n
    stats: np.ndarray  # n x prefilter.STATS
    candidates: int = prefilter.CANDIDATES
    """Stored layouts per file given the comparison without search (the prefilter's
    nearest by colour quantiles); 0: every one (the unindexed step)."""

    @staticmethod
    def of(rows: Sequence[tuple[int, bytes]]) -> LayoutIndex:
        """From (media id, stored layout bytes); damaged and non-decisive ones left out."""
        ids: list[int] = []
        lays: list[Layout] = []
        for media_id, value in rows:
            try:
                lay = Layout.from_bytes(value)
            except InvalidInput:
                continue  # a damaged row decides nothing
            if lay.decisive:
                ids.append(media_id)
                lays.append(lay)
        light = np.array([x.light for x in lays], np.float32).reshape(-1, K_LIGHT, K_LIGHT)
        colour = np.array([x.colour for x in lays], np.float32).reshape(-1, 2, K_COLOUR, K_COLOUR)
        return LayoutIndex(
            ids,
            light,
            colour,
            np.array([x.aspect for x in lays], np.float64),
            np.array([x.detail for x in lays], np.float64),
            prefilter.stats(light, colour),
        )

    @staticmethod
    def load(db: Database) -> LayoutIndex:
        """Every still's stored layout of this version (soft-deleted media left out)."""
        rows: list[tuple[int, bytes]] = []
        last = 0
        while True:
            with db.session() as s:
                page = fingerprints_after(s, ALGORITHM, last, _PAGE, version=VERSION)
            if not page:
                break
            last = page[-1][0]
            rows.extend((media_id, value) for _, media_id, value, _ in page)
        return LayoutIndex.of(rows)

    def __len__(self) -> int:
        return len(self.media_ids)

    def known(self, i: int) -> Known:
        """The stored layout at position ``i``, prepared for a search."""
        return Known(
            Layout(self.light[i], self.colour[i], float(self.aspect[i]), float(self.detail[i]))
        )

    def shortlist(self, q: Query) -> list[tuple[float, int]]:
        """(distance without search, position) of the closest known pictures."""
        if not self.media_ids:
            return []
        if self.candidates:
            pos = prefilter.candidates(
                self.stats, prefilter.stats_of_grids(q.variants[0][1][None])[0], self.candidates
            )
        else:
            pos = np.arange(len(self.media_ids))
        grids = prefilter.grids(self.light[pos], self.colour[pos])
        n = max(1, round(KEEP * GRID * GRID))
        best = np.full(len(pos), np.inf, dtype=np.float32)
        for _, g in q.variants:
            d = np.linalg.norm(grids - g[None], axis=2)
            robust = np.partition(d, n - 1, axis=1)[:, :n].mean(axis=1)
            best = np.minimum(best, robust)
        order = np.lexsort((pos, best))[:SHORTLIST]
        return [(float(best[i]), int(pos[i])) for i in order if best[i] <= QUICK_MAX]

    def verified(self, layout: bytes) -> list[tuple[int, LayoutMatch]]:
        """(position, placement) of each shortlisted known picture a search verifies
        ``layout`` as a copy of, the closest first."""
        lay = Layout.from_bytes(layout)
        if lay.detail > QUERY_DETAIL_MAX:
            return []
        q = Query(lay)
        found: list[tuple[int, LayoutMatch]] = []
        for _, i in self.shortlist(q):
            m = q.compare(self.known(i))
            if m is not None and m.is_copy:
                found.append((i, m))
        return sorted(found, key=lambda x: (x[1].distance, x[0]))

    def same_picture(self, i: int, j: int) -> bool:
        """Whether the known layouts at positions ``i`` and ``j`` are one picture stored
        twice (``SAME_PICTURE``)."""
        q = Query(Layout(self.light[j], self.colour[j], float(self.aspect[j])))
        return q.quick(self.known(i)) <= SAME_PICTURE

    def ambiguous(self, found: Sequence[tuple[int, LayoutMatch]]) -> bool:
        """Whether ``verified``'s placements leave the closest known picture in doubt:
        another known picture, not the same picture, verified within ``AMBIGUOUS``
        times its distance."""
        if len(found) < 2:
            return False
        best, m = found[0]
        return any(
            o.distance <= AMBIGUOUS * m.distance and not self.same_picture(best, j)
            for j, o in found[1:]
        )

    def copy_of(self, layout: bytes) -> tuple[int, LayoutMatch] | None:
        """The known picture a search verifies ``layout`` as a copy of most closely;
        None when none does, or when that is in doubt (``ambiguous``)."""
        found = self.verified(layout)
        if not found or self.ambiguous(found):
            return None
        best, m = found[0]
        return self.media_ids[best], m


def describe(m: LayoutMatch) -> str:
    """The reason shown for a layout copy."""
    parts = ["same colour layout"]
    if m.variant:
        parts.append("mirrored or turned")
    if abs(m.angle) >= 1:
        parts.append(f"rotated {abs(m.angle):.0f} degrees")
    if m.scale < 0.97:
        parts.append(f"shows about {min(1.0, m.scale * m.scale) * 100:.0f}% of the known picture")
    return ", ".join(parts)


def layout_check(
    db: Database,
    files: Sequence[tuple[int, FileResult]],
    *,
    index: Callable[[], LayoutIndex] | None = None,
) -> dict[int, list[Related]]:
    """Copies found by colour layout per item index (files without a layout: skipped).
    ``index`` gives the stored layouts already read (triage reads them once for all
    its chunks); without it they are read from ``db``."""
    todo = [(i, f) for i, f in files if f.layout and not f.frames]
    if not todo:
        return {}
    stored = index() if index is not None else LayoutIndex.load(db)
    if not len(stored):
        return {}
    found: dict[int, list[Related]] = {}
    for i, f in todo:
        assert f.layout is not None
        try:
            hit = stored.copy_of(f.layout)
        except InvalidInput:
            continue
        if hit is None:
            continue
        media_id, m = hit
        detail = {
            "via": "colour-layout",
            "reason": describe(m),
            "stage": "verdicts",
            "layout_distance": round(m.distance, 2),
            "structure": round(m.structure, 2),
            "angle": round(m.angle, 1),
            "scale": round(m.scale, 3),
        }
        found[i] = [Related(media_id, "copy", detail)]
    return found


__all__ = [
    "AMBIGUOUS",
    "QUERY_DETAIL_MAX",
    "QUICK_MAX",
    "SAME_PICTURE",
    "SHORTLIST",
    "LayoutIndex",
    "describe",
    "layout_check",
]
