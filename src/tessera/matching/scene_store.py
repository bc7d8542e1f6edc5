"""The same-scene index of the database's local features, kept in step with it.

Local features are ``fingerprint`` rows (algorithm ``rootsift``). The visual-word
vocabulary is trained on a sample of the stored descriptors, so it fits the
collection; it is retrained when the collection has grown well past what it was
trained on (four-fold) and on ``tessera index rebuild``. Between retrainings new
media are added incrementally, as ingest commits them.

The files (``HOME/scene-index``) carry the database's ``instance_id`` and the last
fingerprint row they hold, like the PDQ index: on open they are rebuilt when they
belong to another database, claim rows it lacks or were built from another feature
version (``FEATURES_VERSION``: migration 0011 re-coded the blobs), and caught up
when behind.

Small collections (under ``BRUTE_FORCE_MAX`` pictures, or too few descriptors for a
vocabulary) are searched by verifying every stored item: exact, and fast enough.

Documents are stills (key ``"<media id>"``) and video key frames (key
``"<media id>@<position>"``, position = 1 + milliseconds, as for frame PDQs); a
hit reports the media item and, for a video, the time of the matching frame.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tessera.errors import ConfigError
from tessera.features.local import LocalFeatures, keypoint_count
from tessera.features.retrieval import Candidate, SceneIndex, Vocabulary
from tessera.features.scene import SHORTLIST, SceneMatch, match_pair
from tessera.index.lock import folder_lock
from tessera.matching.pdq_store import instance_id
from tessera.storage.db import Database
from tessera.storage.repo import (
    FEATURES_ALGORITHM,
    FEATURES_VERSION,
    feature_blob,
    feature_blobs,
    features_after,
    max_fingerprint_id,
)

BRUTE_FORCE_MAX = 32
"""Collections this small (stills + video key frames) are verified exhaustively."""

MAX_WORDS = 2048
"""Vocabulary size for large collections (smaller ones get ~1 word per 40 descriptors);
2,048 measured better than 4,096 or 16,384 on bench_scenes (recall@10 0.908 vs 0.866)."""

TRAIN_SAMPLE = 400_000
"""Descriptors sampled from the database to train the vocabulary."""

MIN_TRAIN = 2_000
"""Fewer stored descriptors than this: no vocabulary, exhaustive search."""

_PAGE = 500  # feature blobs are <= 16 KiB each: page through them in batches


@dataclass(frozen=True)
class SceneHit:
    """A stored media item showing the same scene, object or picture as the query."""

    media_id: int
    match: SceneMatch
    position: int = 0
    """0 for a still; for a video key frame, 1 + its time in milliseconds."""

    @property
    def timestamp(self) -> float | None:
        return (self.position - 1) / 1000 if self.position > 0 else None


def doc_key(media_id: int, position: int) -> str:
    return str(media_id) if position == 0 else f"{media_id}@{position}"


def parse_key(key: str) -> tuple[int, int]:
    media, _, position = key.partition("@")
    return int(media), int(position or 0)


class SceneStore:
    """Open (or build) the scene index of ``db`` under ``folder``; see the module doc."""

    def __init__(self, db: Database, folder: Path, *, read_only: bool = False) -> None:
        self.db = db
        self.folder = folder
        self.read_only = read_only
        """Never write the files (triage workers): stale files are caught up in memory."""
        self.instance = instance_id(db)
        self.last_id = 0
        self.trained_on = 0
        self.index: SceneIndex | None = None
        self._pending: list[str] = []  # document keys with features but no index yet
        self._open()

    # -- opening, building, catching up ------------------------------------------------

    def _db_max(self) -> int:
        with self.db.session() as s:
            return max_fingerprint_id(s, FEATURES_ALGORITHM)

    def _open(self) -> None:
        state_file = self.folder / "state.json"
        state: dict[str, Any] | None = None
        index: SceneIndex | None = None
        with folder_lock(self.folder):
            if state_file.exists():
                try:
                    state = json.loads(state_file.read_text(encoding="utf-8"))
                    index = (
                        SceneIndex.load(self.folder)
                        if (self.folder / "manifest.json").exists()
                        else None
                    )
                except (OSError, ValueError, ConfigError):
                    state, index = None, None
        if state is not None and (
            state.get("instance") == self.instance
            and state.get("features", 1) == FEATURES_VERSION
            and int(state.get("last_id", -1)) <= self._db_max()
        ):
            self.last_id = int(state["last_id"])
            self.trained_on = int(state.get("trained_on", 0))
            self._pending = [str(m) for m in state.get("pending", [])]
            self.index = index
            self.catch_up()
            return
        self.rebuild()

    def _iter_rows(self, after: int) -> list[tuple[int, int, bytes, int]]:
        with self.db.session() as s:
            return features_after(s, after, _PAGE)

    def _count(self) -> int:
        return len(self.index) + len(self._pending) if self.index else len(self._pending)

    def _train(self) -> Vocabulary | None:
        """A vocabulary from a sample of every stored item's descriptors, or None.

        Two passes over the rows: the blobs' headers first (how many descriptors in
        all, hence the sampling rate), then each blob decoded and sampled at once, so
        memory holds the sample, not every descriptor (100k pictures of ~900 keypoints
        would be ~11 GiB of them).
        """
        rows_seen = total = upto = 0
        while rows := self._iter_rows(upto):
            total += sum(keypoint_count(blob) for _, _, blob, _ in rows)
            rows_seen += len(rows)
            upto = rows[-1][0]
        self.trained_on = rows_seen
        if total < MIN_TRAIN or rows_seen <= BRUTE_FORCE_MAX:
            return None
        rng = np.random.default_rng(0)
        keep = min(1.0, TRAIN_SAMPLE / total)
        parts: list[NDArray[np.uint8]] = []
        last = 0
        while last < upto and (rows := self._iter_rows(last)):
            for fid, _, blob, _ in rows:
                if fid > upto:  # committed after the count: not in this sample
                    break
                d = LocalFeatures.from_bytes(blob).desc
                if len(d):
                    parts.append(d[rng.random(len(d)) < keep])
            last = rows[-1][0]
        sample = np.concatenate(parts).astype(np.float32) / np.float32(512.0)
        k = int(min(MAX_WORDS, max(64, len(sample) // 40)))
        return Vocabulary.train(sample, k)

    def rebuild(self) -> int:
        """Retrain the vocabulary and re-index every stored item; returns the count."""
        vocab = self._train()
        self.index = SceneIndex(vocab) if vocab is not None else None
        self._pending = []
        self.last_id = 0
        self._add_from_db()
        self.save(force=True)
        return self._count()

    def refresh(self) -> int:
        """Index (in memory) every feature row committed since ``last_id``, by this
        process or another; returns how many."""
        return self._add_from_db()

    def _add_from_db(self) -> int:
        added = 0
        while rows := self._iter_rows(self.last_id):
            self.add(rows)
            added += len(rows)
        return added

    def catch_up(self) -> int:
        """Index features committed after the files were saved; returns how many."""
        added = self._add_from_db()
        n = self._count()
        if n > BRUTE_FORCE_MAX and n >= 4 * max(1, self.trained_on):
            self.rebuild()  # grown well past the vocabulary: retrain
        elif added:
            self.save()
        return added

    def add(self, rows: list[tuple[int, int, bytes, int]]) -> None:
        """Index committed ``(fingerprint id, media id, blob, position)`` rows, in id order."""
        for fid, media_id, blob, position in rows:
            if fid <= self.last_id:
                continue
            key = doc_key(media_id, position)
            if self.index is not None:
                if key not in self.index.media_ids_set():
                    self.index.add(key, LocalFeatures.from_bytes(blob))
            else:
                self._pending.append(key)
            self.last_id = fid

    def save(self, *, force: bool = False) -> None:
        """Write the files (under the folder's lock), unless another process saved a
        newer state meanwhile; ``force`` writes them anyway (a rebuild)."""
        if self.read_only:
            return
        with folder_lock(self.folder):
            if force or self._saved_last_id() < self.last_id:
                self._write()

    def _saved_last_id(self) -> int:
        try:
            state = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
            return int(state["last_id"]) if state.get("instance") == self.instance else -1
        except (OSError, ValueError, KeyError, TypeError):
            return -1

    def _write(self) -> None:
        tmp = self.folder.with_name(self.folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.index is not None:
            self.index.save(tmp)
        state = {
            "format": "tessera-scene-store",
            "instance": self.instance,
            "features": FEATURES_VERSION,
            "last_id": self.last_id,
            "trained_on": self.trained_on,
            "pending": self._pending,
        }
        (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
        old = self.folder.with_name(self.folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.folder.exists():
            self.folder.rename(old)
        tmp.rename(self.folder)
        shutil.rmtree(old, ignore_errors=True)

    def status(self) -> dict[str, int | str]:
        return {
            "media": self._count(),
            "mode": "index" if self.index is not None else "exhaustive",
            "vocabulary": self.index.vocabulary.size if self.index is not None else 0,
            "last_row": self.last_id,
        }

    # -- search --------------------------------------------------------------------------

    def _features(self, key: str) -> LocalFeatures | None:
        media_id, position = parse_key(key)
        with self.db.session() as s:
            blob = feature_blob(s, media_id, position)
        return LocalFeatures.from_bytes(blob) if blob else None

    def features_of(self, media_id: int, position: int = 0) -> LocalFeatures | None:
        """The stored local features of a picture (or a video key frame), if any."""
        return self._features(doc_key(media_id, position))

    def blobs_of(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored features of several pictures or frames, undecoded, in one query:
        (media id, position) -> blob, for the keys that have one."""
        if not keys:
            return {}
        with self.db.session() as s:
            return feature_blobs(s, keys)

    def candidates(self, q: LocalFeatures, shortlist: int) -> list[Candidate]:
        """Retrieval's shortlist for ``q`` (every document in a small collection),
        best first, unverified."""
        return self._candidates(q, shortlist)

    def frame_of(self, media_id: int, position: int = 0) -> tuple[int, int]:
        """Width and height of a stored picture or frame (from its features' header)."""
        f = self._features(doc_key(media_id, position))
        return (f.width, f.height) if f is not None else (0, 0)

    def _candidates(self, q: LocalFeatures, shortlist: int) -> list[Candidate]:
        exhaustive = list(self._pending)
        if self.index is None or len(self.index) <= BRUTE_FORCE_MAX:
            if self.index is not None:
                exhaustive += self.index.media_ids
            return [Candidate(m, 0.0, r) for r, m in enumerate(exhaustive)]
        found = self.index.search(q, shortlist)
        rank = len(found)
        return found + [Candidate(m, 0.0, rank + i) for i, m in enumerate(exhaustive)]

    def similar(
        self,
        queries: list[LocalFeatures],
        *,
        k: int = 10,
        shortlist: int = SHORTLIST,
        exclude: int | None = None,
    ) -> list[SceneHit]:
        """Verified hits for one query (given as several feature sets, e.g. + mirror)."""
        best: dict[int, tuple[SceneMatch, int]] = {}
        cache: dict[str, LocalFeatures | None] = {}
        for q in queries:
            if len(q) == 0:
                continue
            for cand in self._candidates(q, shortlist):
                media_id, position = parse_key(cand.media_id)
                if media_id == exclude:
                    continue
                if cand.media_id not in cache:
                    cache[cand.media_id] = self._features(cand.media_id)
                feats = cache[cand.media_id]
                if feats is None:
                    continue
                m = match_pair(q, feats, cand.media_id, cand)
                if not m.verification.accepted:
                    continue
                prev = best.get(media_id)
                if prev is None or m.inliers > prev[0].inliers:
                    best[media_id] = (m, position)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0].inliers, kv[0]))
        return [SceneHit(mid, m, pos) for mid, (m, pos) in ranked[:k]]


__all__ = ["BRUTE_FORCE_MAX", "SceneHit", "SceneStore", "doc_key", "parse_key"]
