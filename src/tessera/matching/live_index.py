"""The PDQ index inside a server: many reader processes, one writer, always fresh.

HMA's matchers download and unpickle the whole index every 30 s and swap it; its
users report memory growing with every reload, lock-ups during backfills and all
pods reloading at once. Here a server worker never copies the index and never
waits for it:

* **Base**: the index files the single writer (``PdqStore``: ingest, or the
  server's index keeper) saves beside the database, opened *memory-mapped*, so
  every worker on the machine shares one copy in the page cache and opening costs
  no parse step.
* **Delta**: every PDQ fingerprint committed after the base, read from the
  database by a poll every ``poll_interval`` seconds (default 0.2 s, so a hash
  committed by any process is found by every worker well within 1 s) and scanned
  by brute force beside the base.
* **Swap, never wait**: when the writer saves a new base generation (an atomic
  manifest replace), a background thread maps it and replaces the immutable
  snapshot in one assignment; requests in flight finish on the snapshot they
  started with, and the old mapping is released when they drop it, so memory
  does not grow with reloads.
* **Late commits**: ids are not committed in id order on PostgreSQL, so holes in
  the id sequence are asked for again until they appear or ``gap_ttl`` passes
  (``tessera.storage.fingerprint_feed``).

``status()`` reports freshness (``GET /status``, ``GET /m/index/status``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tessera.errors import IndexCorrupt
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.index import PdqIndex
from tessera.index.codes import (
    HASH_WORDS,
    Words,
    check_radius,
    codes_from_words,
    words_from_codes,
)
from tessera.index.scan import scan
from tessera.matching.pdq_store import PdqHit, instance_id
from tessera.storage import fingerprint_feed as feed
from tessera.storage.db import Database

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2
GAP_TTL = 60.0
FRESH_WITHIN = 2.0
"""``status().fresh`` is False when the last successful poll is older than this."""
_PAGE = 50_000
_SMALL_BATCH = 64
"""Batches below this size search on one thread (no pool overhead)."""


def _empty_words() -> Words:
    return np.zeros((0, HASH_WORDS), dtype=np.uint64)


@dataclass(frozen=True)
class _Snapshot:
    """What a search reads: replaced whole, never mutated."""

    base: PdqIndex | None = None
    base_generation: str = ""
    base_last_id: int = 0
    delta_words: Words = field(default_factory=_empty_words)
    delta_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def size(self) -> int:
        return (len(self.base) if self.base is not None else 0) + int(self.delta_ids.shape[0])


@dataclass(frozen=True)
class LiveIndexStatus:
    """Freshness of one worker's view of the PDQ index."""

    size: int
    base_size: int
    delta_size: int
    base_generation: str
    indexed_through: int
    """Highest fingerprint id this worker has read from the database."""
    pending_gaps: int
    """Ids below ``indexed_through`` whose transactions had not committed yet."""
    last_poll_age: float | None
    """Seconds since the last successful poll of the database (None: never)."""
    last_poll_unix: float | None
    reloads: int
    fresh: bool
    error: str | None


class LivePdqIndex:
    """A read-only, self-refreshing PDQ index for one server process."""

    def __init__(
        self,
        db: Database,
        folder: Path,
        *,
        poll_interval: float = POLL_INTERVAL,
        gap_ttl: float = GAP_TTL,
    ) -> None:
        self.db = db
        self.folder = folder
        self.poll_interval = poll_interval
        self.gap_ttl = gap_ttl
        self.instance = instance_id(db)
        self._snap = _Snapshot()
        self._cursor = 0
        self._gaps: dict[int, float] = {}
        self._late: set[int] = set()
        """Delta rows that arrived below the cursor (late commits)."""
        self._manifest_key: tuple[int, int, int] | None = None
        self._last_poll: float | None = None
        self._last_poll_unix: float | None = None
        self._reloads = 0
        self._error: str | None = None
        self._lock = threading.Lock()  # one refresher at a time; searches never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        """First refresh now (so the first request sees the data), then poll in the background."""
        self.refresh()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pdq-live-index", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last snapshot; report it in status
                self._error = f"{type(exc).__name__}: {exc}"
                log.warning("PDQ index refresh failed: %s", self._error)

    # -- refreshing --------------------------------------------------------------------

    def refresh(self) -> int:
        """Pick up a new base generation and newly committed rows; returns rows added."""
        with self._lock:
            self._maybe_reload()
            added = self._poll()
            self._last_poll = time.monotonic()
            self._last_poll_unix = time.time()
            self._error = None
            return added

    def _manifest(self) -> tuple[str, int] | None:
        """(generation, last fingerprint id) of the saved index, if it is this database's."""
        path = self.folder / "manifest.json"
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._manifest_key:
            return None
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        state = str(meta.get("state", ""))
        inst, _, last = state.partition(":")
        generation = str(meta.get("generation", ""))
        self._manifest_key = key
        if inst != self.instance or not last.isdigit() or not generation:
            return None
        if generation == self._snap.base_generation:
            return None
        return generation, int(last)

    def _maybe_reload(self) -> None:
        found = self._manifest()
        if found is None:
            return
        generation, base_last = found
        try:
            base = PdqIndex.load(self.folder, mmap=True, verify=False)
        except IndexCorrupt as exc:  # replaced while we read it: try again next poll
            self._manifest_key = None
            log.info("PDQ index reload deferred: %s", exc)
            return
        if base.state.partition(":")[0] != self.instance:
            return
        old = self._snap
        dw, di = old.delta_words, old.delta_ids
        keep = di > base_last
        # A row committed late (below ids already read) may be missing from the saved
        # base too: the writer reads in id order like we do. Only those rows are
        # checked against the new base (a few), never the whole delta.
        late = np.flatnonzero(~keep & np.isin(di, np.fromiter(self._late, np.int64)))
        if late.shape[0]:
            res = base.search(codes_from_words(dw[late]), radius=0, threads=1)
            in_base = {(int(q), int(i)) for q, i in zip(res.query, res.id, strict=True)}
            for j, row in enumerate(late):
                if (j, int(di[row])) not in in_base:
                    keep[row] = True
        self._snap = _Snapshot(base, generation, base_last, dw[keep], di[keep])
        self._late = {int(i) for i in di[keep]} & self._late
        self._cursor = max(self._cursor, base_last)
        self._reloads += 1

    def _poll(self) -> int:
        now = time.monotonic()
        rows: list[feed.PdqRow] = []
        with self.db.session() as s:
            if self._gaps:
                present, late = feed.rows_by_id(s, self._gaps)
                for i in present:
                    self._gaps.pop(i, None)
                rows.extend(late)
                self._late.update(r[0] for r in late)
                self._gaps = {i: t for i, t in self._gaps.items() if now - t < self.gap_ttl}
            while True:
                ids = feed.ids_after(s, self._cursor, _PAGE)
                if not ids:
                    break
                expect = self._cursor + 1
                for i, _algorithm in ids:
                    for missing in range(expect, i):
                        self._gaps[missing] = now
                    expect = i + 1
                pdq_ids = [i for i, a in ids if a == "pdq"]
                if pdq_ids:
                    _, found = feed.rows_by_id(s, pdq_ids)
                    rows.extend(found)
                self._cursor = ids[-1][0]
                if len(ids) < _PAGE:
                    break
        if not rows:
            return 0
        snap = self._snap
        rows.sort()
        new_ids = np.array([r[0] for r in rows], dtype=np.int64)
        fresh = ~np.isin(new_ids, snap.delta_ids)
        new_ids = new_ids[fresh]
        if not new_ids.shape[0]:
            return 0
        codes = np.frombuffer(
            b"".join(r[2] for r, f in zip(rows, fresh, strict=True) if f), np.uint8
        )
        words = words_from_codes(codes.reshape(-1, 32))
        self._snap = _Snapshot(
            snap.base,
            snap.base_generation,
            snap.base_last_id,
            np.concatenate([snap.delta_words, words]),
            np.concatenate([snap.delta_ids, new_ids]),
        )
        return int(new_ids.shape[0])

    # -- searching ---------------------------------------------------------------------

    def __len__(self) -> int:
        return self._snap.size

    def search(
        self,
        codes: NDArray[np.uint8],
        *,
        radius: int = MATCH_THRESHOLD,
        min_quality: int = QUALITY_THRESHOLD,
    ) -> list[PdqHit]:
        """Stored fingerprints within ``radius`` of each query, like ``PdqStore.search``."""
        r = check_radius(radius)
        qwords = words_from_codes(codes, "queries")
        if qwords.shape[0] == 0:
            return []
        snap = self._snap  # one snapshot for the whole search
        threads = 1 if qwords.shape[0] < _SMALL_BATCH else None
        found: dict[tuple[int, int], int] = {}
        if snap.base is not None and len(snap.base):
            res = snap.base.search(codes, radius=r, threads=threads)
            for q, i, d in zip(res.query, res.id, res.distance, strict=True):
                found[(int(q), int(i))] = int(d)
        if snap.delta_ids.shape[0]:
            qi, rows, dist = scan(qwords, snap.delta_words, r)
            for q, row, d in zip(qi, rows, dist, strict=True):
                found[(int(q), int(snap.delta_ids[row]))] = int(d)
        if not found:
            return []
        with self.db.reader() as c:  # a read alone: no ORM session (~110 us less)
            info = feed.pdq_hit_info(c, {fid for _, fid in found})
        hits = []
        for (q, fid), d in sorted(found.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1])):
            got = info.get(fid)
            if got is None:  # deleted since indexed
                continue
            media_id, quality, position = got
            if quality is not None and quality < min_quality:
                continue
            hits.append(PdqHit(q, fid, media_id, d, quality, position))
        return hits

    def status(self) -> LiveIndexStatus:
        snap = self._snap
        age = None if self._last_poll is None else time.monotonic() - self._last_poll
        return LiveIndexStatus(
            size=snap.size,
            base_size=len(snap.base) if snap.base is not None else 0,
            delta_size=int(snap.delta_ids.shape[0]),
            base_generation=snap.base_generation,
            indexed_through=self._cursor,
            pending_gaps=len(self._gaps),
            last_poll_age=age,
            last_poll_unix=self._last_poll_unix,
            reloads=self._reloads,
            fresh=age is not None and age <= max(FRESH_WITHIN, 4 * self.poll_interval),
            error=self._error,
        )


__all__ = ["LiveIndexStatus", "LivePdqIndex"]
