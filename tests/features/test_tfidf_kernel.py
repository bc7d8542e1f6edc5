"""The compiled tf-idf scoring against the NumPy path it replaces (the oracle): the
same scores to the last bit on random inverted files, and the same rankings through
``SceneIndex.search`` with the kernel on and off."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidInput
from tessera.features import retrieval, tfidf_kernel
from tessera.features.local import LocalFeatures
from tessera.features.retrieval import SceneIndex, Vocabulary

pytestmark = pytest.mark.skipif(
    not tfidf_kernel.available() and os.environ.get("TESSERA_REQUIRE_KERNEL") != "1",
    reason="the compiled tf-idf scoring is not built here (no C compiler at install)",
)


def test_built_where_required() -> None:
    assert tfidf_kernel.available(), "TESSERA_REQUIRE_KERNEL=1 but _tfidf is not built"


def _numpy_scores(index: SceneIndex, words: np.ndarray, q: np.ndarray) -> np.ndarray | None:
    real = tfidf_kernel._LIB
    tfidf_kernel._LIB = None
    try:
        return index._scores(words, q)
    finally:
        tfidf_kernel._LIB = real


def _index(rng: np.random.Generator, n_docs: int, k: int) -> SceneIndex:
    index = SceneIndex(Vocabulary(rng.random((k, 8), dtype=np.float32)))
    for d in range(n_docs):
        # skewed word frequencies, as visual words are: some lists long, some empty
        n = int(rng.integers(0, 40))
        words = np.minimum(rng.zipf(1.3, n) - 1, k - 1).astype(np.int64)
        index.add_words(f"d{d}", words)
    index._build()
    return index


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_docs=st.integers(1, 300), k=st.integers(2, 64))
def test_scores_equal_numpys_bit_for_bit(seed: int, n_docs: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    index = _index(rng, n_docs, k)
    n_words = int(rng.integers(1, k + 1))
    words = rng.choice(k, n_words, replace=False).astype(np.int64)
    q = rng.random(n_words, dtype=np.float32)
    expect = _numpy_scores(index, words, q)
    got = index._scores(words, q)
    if expect is None:  # none of the query's words has a posting
        assert got is None
    else:
        assert got is not None and got.dtype == np.float64
        assert got.tobytes() == expect.tobytes()


def test_search_ranks_alike_with_and_without_the_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    k = 64
    centroids = rng.random((k, 128), dtype=np.float32)
    index = SceneIndex(Vocabulary(centroids))
    docs = []
    for d in range(500):
        desc = centroids[rng.integers(0, k, int(rng.integers(5, 60)))]
        desc = np.clip(desc + rng.normal(0, 0.02, desc.shape), 0, 1).astype(np.float32)
        feats = _features(desc)
        docs.append(feats)
        index.add(f"m{d}", feats)
    ranked = [[(c.media_id, c.score) for c in index.search(f, 20)] for f in docs[:40]]
    monkeypatch.setattr(tfidf_kernel, "_LIB", None)
    assert [[(c.media_id, c.score) for c in index.search(f, 20)] for f in docs[:40]] == ranked
    assert all(r[0][0] == f"m{i}" for i, r in enumerate(ranked))


def _features(desc: np.ndarray) -> LocalFeatures:
    n = desc.shape[0]
    q = np.clip(np.rint(desc * 512.0), 0, 255).astype(np.uint8)
    return LocalFeatures(
        np.zeros((n, 2), np.float32),
        q,
        np.ones(n, np.float16),
        np.zeros(n, np.float16),
        100,
        100,
    )


def test_a_word_outside_the_vocabulary_is_refused() -> None:
    index = _index(np.random.default_rng(1), 20, 8)
    assert index._inv is not None
    with pytest.raises(InvalidInput):
        tfidf_kernel.scores_c(index._inv, np.array([8], np.int64), np.ones(1, np.float32), 20)
    assert retrieval.tfidf_kernel is tfidf_kernel
