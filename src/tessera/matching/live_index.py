"""The PDQ index inside a server: many reader processes, one writer, always fresh.

HMA's matchers download and unpickle the whole index every 30 s and swap it; its
users report memory growing with every reload, lock-ups during backfills and all
pods reloading at once. Here a server worker never waits for the index:

* **Base**: the index files the single writer (``PdqStore``: ingest, or the
  server's index keeper) saves beside the database, opened *memory-mapped*, so
  opening costs no parse step and the first request is served at once.
* **Resident base**: then a background thread copies the mapped base into the
  worker's own memory (``PdqIndex.resident``, ~1 s a GB) and swaps it in. Mapped
  file pages are 4 KiB; the copy gets 2 MiB pages, and a 10M index's random reads
  then cost 0-40 % less CPU, depending on the page cache (``PdqIndex.resident``).
  The price is the
  index's size per worker (1.6 GB at 12.5M hashes); ``resident=False``
  (``TESSERA_INDEX_RESIDENT=0``) keeps the shared mapping instead.
* **Delta**: every PDQ fingerprint committed after the base, read from the
  database by a poll every ``poll_interval`` seconds (default 0.2 s, so a hash
  committed by any process is found by every worker well within 1 s) and scanned
  by brute force beside the base.
* **Indexed delta**: a scan costs ~5 ns per row and query, so during a bulk import,
  while the writer is still saving a 10M generation, a delta of 500k rows would
  add ~2.5 ms to every lookup. Once the unindexed tail of the delta reaches
  ``index_delta_at`` rows (and an eighth of the delta), a background thread of
  the worker builds a small in-memory index over the whole delta (~0.5 s CPU for
  500k rows, at low CPU priority) and swaps it in; only the tail is scanned.
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

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
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
from tessera.index.scan import scan_columns
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
SEARCH_THREADS = 1
"""Threads one batch's search runs on. A server's requests already run side by side
(its workers, each worker's thread pool), so splitting one search across threads
only adds work: batches of 1,000 at 10M over HTTP (``bench_api.py --only batch``,
two clients, load ~14, alternated) cost 0.247 and 0.260 ms of server CPU a hash on
one thread against 0.299 and 0.276 on two. A lone batch on an idle server takes
longer (one core instead of two)."""
INDEX_DELTA_AT = 32_768
"""Unindexed delta rows (at least) before the delta is indexed in the background."""
_INDEXER_NICE = 10


def _empty_columns() -> Words:
    return np.zeros((HASH_WORDS, 0), dtype=np.uint64)


@dataclass(frozen=True)
class _Snapshot:
    """What a search reads: replaced whole, never mutated."""

    base: PdqIndex | None = None
    base_generation: str = ""
    base_last_id: int = 0
    delta_columns: Words = field(default_factory=_empty_columns)
    """The delta's hashes as ``(4, rows)``: scanned without a transposing copy."""
    delta_ids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    delta_index: PdqIndex | None = None
    """An index over the first ``indexed_rows`` rows of the delta (ids: fingerprint ids)."""
    indexed_rows: int = 0
    base_resident: bool = False
    """``base`` is a private copy, not the mapped files."""

    @property
    def tail_rows(self) -> int:
        """Delta rows only the scan finds."""
        return int(self.delta_ids.shape[0]) - self.indexed_rows

    @property
    def size(self) -> int:
        return (len(self.base) if self.base is not None else 0) + int(self.delta_ids.shape[0])


@dataclass(frozen=True)
class LiveIndexStatus:
    """Freshness of one worker's view of the PDQ index."""

    size: int
    base_size: int
    delta_size: int
    delta_indexed: int
    """Delta rows held by the worker's in-memory delta index (the rest are scanned)."""
    base_resident: bool
    """The base is searched from the worker's own memory (else from the mapped files)."""
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
        index_delta_at: int = INDEX_DELTA_AT,
        resident: bool = True,
        search_threads: int | None = SEARCH_THREADS,
    ) -> None:
        """``search_threads``: threads a batch's search may use (None: every core)."""
        self.db = db
        self.resident = resident
        self.search_threads = search_threads
        self.folder = folder
        self.poll_interval = poll_interval
        self.gap_ttl = gap_ttl
        self.index_delta_at = max(1, int(index_delta_at))
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
        self._indexer: threading.Thread | None = None
        self._index_due = threading.Event()

    # -- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        """First refresh now (so the first request sees the data), then poll in the background."""
        self.refresh()
        self._index_due.set()  # the base's resident copy, if any
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="pdq-live-index", daemon=True)
            self._thread.start()
        if self._indexer is None:
            self._indexer = threading.Thread(
                target=self._run_indexer, name="pdq-live-delta-index", daemon=True
            )
            self._indexer.start()

    def stop(self) -> None:
        self._stop.set()
        self._index_due.set()
        for thread in (self._thread, self._indexer):
            if thread is not None:
                thread.join(timeout=5)
        self._thread = self._indexer = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception as exc:  # keep serving the last snapshot; report it in status
                self._error = f"{type(exc).__name__}: {exc}"
                log.warning("PDQ index refresh failed: %s", self._error)

    def _run_indexer(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # this thread only: lookups win
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _INDEXER_NICE)
        while not self._stop.is_set():
            self._index_due.wait()
            self._index_due.clear()
            if self._stop.is_set():
                return
            try:
                self.make_resident()
            except Exception:  # the mapped base still answers; try again at the next reload
                log.exception("PDQ index: copying the base into memory failed")
            try:
                self.index_delta()
            except Exception:  # the scan still finds every row; try again when due
                log.exception("PDQ delta indexing failed")

    def _delta_due(self, snap: _Snapshot) -> bool:
        tail = snap.tail_rows
        return tail >= self.index_delta_at and tail * 8 >= int(snap.delta_ids.shape[0])

    def make_resident(self) -> bool:
        """Swap the mapped base for a private copy now; True when one was swapped in.

        Copied outside the lock; dropped if a reload replaced the base meanwhile.
        """
        snap = self._snap
        base = snap.base
        if not self.resident or base is None or snap.base_resident:
            return False
        copy = base.resident()
        with self._lock:
            now = self._snap
            if now.base is not base:
                return False
            self._snap = replace(now, base=copy, base_resident=True)
        return True

    def index_delta(self) -> bool:
        """Index the whole delta now if its tail is due; True when a new index was swapped in.

        Built outside the lock from one snapshot; swapped in only if the delta it
        covers is still the head of the current one (a base reload in between
        filters the delta, and the work is dropped).
        """
        snap = self._snap
        if not self._delta_due(snap):
            return False
        rows = int(snap.delta_ids.shape[0])
        built = PdqIndex.build(codes_from_words(snap.delta_columns.T), snap.delta_ids, threads=1)
        with self._lock:
            now = self._snap
            if now.base_generation != snap.base_generation or now.delta_ids.shape[0] < rows:
                return False
            if not np.array_equal(now.delta_ids[:rows], snap.delta_ids):
                return False
            self._snap = replace(now, delta_index=built, indexed_rows=rows)
        return True

    # -- refreshing --------------------------------------------------------------------

    def refresh(self) -> int:
        """Pick up a new base generation and newly committed rows; returns rows added."""
        with self._lock:
            self._maybe_reload()
            added = self._poll()
            if self._delta_due(self._snap):
                self._index_due.set()
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
        dc, di = old.delta_columns, old.delta_ids
        keep = di > base_last
        # A row committed late (below ids already read) may be missing from the saved
        # base too: the writer reads in id order like we do. Only those rows are
        # checked against the new base (a few), never the whole delta.
        late = np.flatnonzero(~keep & np.isin(di, np.fromiter(self._late, np.int64)))
        if late.shape[0]:
            res = base.search(codes_from_words(dc[:, late].T), radius=0, threads=1)
            in_base = {(int(q), int(i)) for q, i in zip(res.query, res.id, strict=True)}
            for j, row in enumerate(late):
                if (j, int(di[row])) not in in_base:
                    keep[row] = True
        self._snap = _Snapshot(base, generation, base_last, dc[:, keep], di[keep])
        self._late = {int(i) for i in di[keep]} & self._late
        self._cursor = max(self._cursor, base_last)
        self._reloads += 1
        if self.resident:
            self._index_due.set()

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
        fresh = np.ones(new_ids.shape[0], dtype=np.bool_)
        if snap.delta_ids.shape[0]:  # only ids below the delta's last can be held already
            low = new_ids <= snap.delta_ids.max()
            fresh[low] = ~np.isin(new_ids[low], snap.delta_ids)
        new_ids = new_ids[fresh]
        if not new_ids.shape[0]:
            return 0
        codes = np.frombuffer(
            b"".join(r[2] for r, f in zip(rows, fresh, strict=True) if f), np.uint8
        )
        words = words_from_codes(codes.reshape(-1, 32))
        self._snap = replace(
            snap,
            delta_columns=np.concatenate([snap.delta_columns, words.T], axis=1),
            delta_ids=np.concatenate([snap.delta_ids, new_ids]),
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
        threads = 1 if qwords.shape[0] < _SMALL_BATCH else self.search_threads
        found: dict[tuple[int, int], int] = {}
        if snap.base is not None and len(snap.base):
            res = snap.base.search(codes, radius=r, threads=threads)
            for q, i, d in zip(res.query, res.id, res.distance, strict=True):
                found[(int(q), int(i))] = int(d)
        if snap.delta_index is not None:
            res = snap.delta_index.search(codes, radius=r, threads=threads)
            for q, i, d in zip(res.query, res.id, res.distance, strict=True):
                found[(int(q), int(i))] = int(d)
        if snap.tail_rows:
            lo = snap.indexed_rows
            qi, rows, dist = scan_columns(qwords, snap.delta_columns[:, lo:], r)
            for q, row, d in zip(qi, rows, dist, strict=True):
                found[(int(q), int(snap.delta_ids[lo + row]))] = int(d)
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
            delta_indexed=snap.indexed_rows,
            base_resident=snap.base_resident,
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
