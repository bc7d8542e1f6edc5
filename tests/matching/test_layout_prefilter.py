"""The colour layout step's prefilter keeps the true original among many stored layouts.

Known: generated gradients and walls (as ``tests/fingerprints/test_layout.py`` makes
them) among thousands of distractor layouts blended from other generated gradients
and walls, so their colours spread like the originals'. Truth is how the files were
generated here: each edit (crop, rotation, mirror image, quarter turn, caption,
letterbox, overlay) of original ``i`` must keep ``i`` among the prefilter's candidates,
and the step, prefiltered, must still find ``i``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tessera.fingerprints.layout import Layout, Query, grid_of, layout_rgb
from tessera.matching.triage import layout_prefilter as prefilter
from tessera.matching.triage.layouts import LayoutIndex
from tests.fingerprints.test_layout import EDITS, gradient, wall

KINDS = {"gradient": gradient, "wall": wall}
SEEDS = (1, 2)
DISTRACTORS = 5000


def _bytes(rgb: np.ndarray) -> bytes:
    lay = layout_rgb(rgb)
    assert lay is not None
    return lay.to_bytes()


@pytest.fixture(scope="module")
def index() -> tuple[LayoutIndex, dict[tuple[str, int], int]]:
    rng = np.random.default_rng(3)
    bases = [Layout.from_bytes(_bytes(KINDS[k](1000 + i))) for i in range(12) for k in KINDS]
    rows: list[tuple[int, bytes]] = []
    for n in range(DISTRACTORS):
        a, b = rng.choice(len(bases), 2, replace=False)
        t = float(rng.uniform(0.3, 0.7))
        light = (1 - t) * bases[a].light + t * bases[b].light + rng.normal(0, 2, (8, 8))
        colour = (1 - t) * bases[a].colour + t * bases[b].colour + rng.normal(0, 2, (2, 4, 4))
        lay = Layout(light.astype(np.float32), colour.astype(np.float32), 4 / 3, 0.0)
        rows.append((n, lay.to_bytes()))
    truth = {}
    for kind, make in KINDS.items():
        for seed in SEEDS:
            truth[kind, seed] = 100_000 + len(truth)
            rows.insert(len(rows) // (1 + len(truth)), (truth[kind, seed], _bytes(make(seed))))
    ix = LayoutIndex.of(rows)
    assert len(ix) == DISTRACTORS + len(truth) > 10 * ix.candidates
    return ix, truth


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_prefilter_keeps_the_true_original(
    index: tuple[LayoutIndex, dict[tuple[str, int], int]], edit: str
) -> None:
    ix, truth = index
    for (kind, seed), media_id in truth.items():
        q = Query(Layout.from_bytes(_bytes(EDITS[edit](KINDS[kind](seed)))))
        qs = prefilter.stats_of_grids(q.variants[0][1][None])[0]
        kept = {ix.media_ids[i] for i in prefilter.candidates(ix.stats, qs, ix.candidates)}
        assert media_id in kept, (kind, seed, edit)
        hit = ix.copy_of(_bytes(EDITS[edit](KINDS[kind](seed))))
        assert hit is not None and hit[0] == media_id, (kind, seed, edit, hit)


def test_quantiles_ignore_mirror_images_and_quarter_turns() -> None:
    q = Query(Layout.from_bytes(_bytes(wall(5))))
    s = prefilter.stats_of_grids(np.stack([g for _, g in q.variants]))
    assert np.allclose(s, s[0], atol=1e-3)


def test_grids_are_the_layouts_comparison_grids() -> None:
    lays = [Layout.from_bytes(_bytes(m(s))) for m in KINDS.values() for s in SEEDS]
    g = prefilter.grids(np.stack([x.light for x in lays]), np.stack([x.colour for x in lays]))
    for x, gx in zip(lays, g, strict=True):
        assert np.allclose(gx, grid_of(x), atol=1e-3)


def test_few_layouts_are_all_candidates() -> None:
    table = np.zeros((5, prefilter.STATS), np.float32)
    assert sorted(prefilter.candidates(table, table[0], keep=8)) == [0, 1, 2, 3, 4]
