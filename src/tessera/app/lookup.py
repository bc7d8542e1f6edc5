"""Lookups from hashes alone: "has anyone seen this?" without the file.

The API's batch lookups, the HMA-compatible routes and ``tessera lookup`` all call
these use cases, so a hash gets the same answer whichever way it is asked. The
caller sends fingerprints it computed; the media never travels.

* ``lookup``: MD5, SHA-1, SHA-256 (exact, through the database's indexes) and PDQ
  (radius search, default distance <= 31 over stored hashes of quality >= 50), up
  to ``MAX_QUERIES`` per call; each answer lists the matched media items with
  distance (and the time in a video for frame hits) and the series they belong to.
* ``lookup_frames``: a video's sampled frame hashes (vPDQ), aligned against stored
  videos (start and end on both clocks) and stills found in it.
* ``lookup_audio``: a Chromaprint fingerprint against stored recordings.

``pdq`` is any ``PdqSearcher``: the CLI uses the App's writer index, a server
worker its live read-only index.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tessera.app import audit, coop, delivery, trust
from tessera.app.blind_matches import own_match
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.series import SeriesSummary
from tessera.app.visibility import Level, Visibility, require_role, transaction
from tessera.errors import InvalidFingerprint, InvalidInput
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.fingerprints.vpdq import FrameHash
from tessera.matching.av_match import audio_hits, video_hits
from tessera.matching.pdq_search import PdqSearcher
from tessera.pipeline.result import FileResult
from tessera.storage import repo, sharing
from tessera.storage.db import Session

HashType = Literal["md5", "sha1", "sha256", "pdq"]
HASH_TYPES: tuple[HashType, ...] = ("md5", "sha1", "sha256", "pdq")
HEX_LENGTH: dict[str, int] = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
HEX_EXACT = ("md5", "sha1", "sha256")
MAX_QUERIES = 10_000
"""Hashes (or video frames) per call: the network service's batch limit."""
MAX_RADIUS = 64
"""PDQ distance beyond which a "match" is noise (31 is PDQ's own threshold)."""

_HEX = re.compile(r"[0-9a-fA-F]+")


class HashQuery(Result):
    """One hash to look up: its type and its hex text."""

    type: HashType
    hash: str


class LookupMatch(Result):
    """One stored media item a hash matched."""

    media_id: int
    match: Literal["exact", "pdq"]
    distance: int
    """0 for exact matches; the Hamming distance for PDQ."""
    quality: int | None
    timestamp: float | None
    """For a hit on a video frame: seconds into the stored video."""
    series: tuple[int, ...]
    """Ids of the series (see ``LookupResult.series``) the media item belongs to."""
    contacts: tuple[str, ...] = ()
    """Owner contacts of series shared with the caller at ``hash`` only: "known to
    the network, ask them"."""
    quarantined: bool = False
    """The item's hash flooded (``tessera.app.trust``): treat the match with care."""
    verdicts: trust.VerdictCounts | None = None
    """Agencies' confirmations and disputes of the item (None: none yet)."""


class LookupAnswer(Result):
    """Everything one query hash matched."""

    index: int
    type: HashType
    hash: str
    matches: tuple[LookupMatch, ...]
    suppressed: str | None = None
    """The reason of the negative-list entry the hash is on; its matches are left
    out unless the caller asked to ``explain``."""


class LookupResult(Result):
    """Answers in query order, and each series they mention once."""

    results: tuple[LookupAnswer, ...]
    series: tuple[SeriesSummary, ...]
    matched: int
    """How many queries matched something."""


class FrameLookupHit(Result):
    media_id: int
    via: str
    """``vpdq-segment`` (aligned with a stored video) or ``pdq-frame`` (frames met)."""
    distance: int
    detail: dict[str, Any]
    series: tuple[int, ...]
    contacts: tuple[str, ...] = ()


class FrameLookupResult(Result):
    frames: int
    hits: tuple[FrameLookupHit, ...]
    series: tuple[SeriesSummary, ...]


class AudioLookupHit(Result):
    media_id: int
    detail: dict[str, Any]
    series: tuple[int, ...]
    contacts: tuple[str, ...] = ()


class AudioLookupResult(Result):
    hits: tuple[AudioLookupHit, ...]
    series: tuple[SeriesSummary, ...]


class ContentHashes(Result):
    """The fingerprints of content a caller uploaded (HMA's ``/h/hash``)."""

    kind: str | None
    md5: str | None
    sha1: str | None
    sha256: str | None
    pdq: str | None
    quality: int | None
    frames: tuple[str, ...] | None
    """Video frame hashes, ``hex,quality,seconds`` (vPDQ)."""
    audio: str | None
    """Chromaprint, text form."""


def hash_content(app: App, caller: Caller, data: bytes) -> ContentHashes:
    """Fingerprint bytes in memory, within the node's decode limits (reference PDQ).

    Reference mode (full-resolution decode) gives the hashes Meta's ``pdqhash``
    gives, which is what HMA clients compare against. ``MediaError`` when the
    content cannot be fingerprinted.
    """
    from tessera.errors import MediaError  # noqa: PLC0415
    from tessera.pipeline.fingerprint import hash_bytes  # noqa: PLC0415
    from tessera.pipeline.options import HashOptions  # noqa: PLC0415

    options = HashOptions(mode="reference", limits=app.settings.decode_limits)
    r = hash_bytes(data, "upload", options)
    if r.status != "ok":
        raise MediaError(r.message or "cannot fingerprint the content", reason=r.reason)
    return ContentHashes(
        kind=r.kind or ("image" if r.format else None),
        md5=r.md5,
        sha1=r.sha1,
        sha256=r.sha256,
        pdq=r.pdq,
        quality=r.quality,
        frames=None
        if r.frames is None
        else tuple(f"{f.hex},{f.quality},{f.timestamp:.3f}" for f in r.frames),
        audio=r.audio,
    )


def parse_hash(kind: str, text: str, where: str = "hash") -> bytes:
    """The raw bytes of a hex hash of ``kind``; ``InvalidFingerprint`` naming ``where``."""
    want = HEX_LENGTH.get(kind)
    if want is None:
        raise InvalidInput(f"{where}: unknown hash type {kind!r} (one of {', '.join(HEX_LENGTH)})")
    if len(text) != want or not _HEX.fullmatch(text):
        raise InvalidFingerprint(f"{where}: a {kind} hash is {want} hex digits")
    return bytes.fromhex(text)


def _check_radius(radius: int) -> None:
    if not 0 <= radius <= MAX_RADIUS:
        raise InvalidInput(f"radius must be 0..{MAX_RADIUS}, got {radius}")


SeriesOfMedia = dict[int, tuple[int, ...]]
STATUS_TTL = 2.0
"""Seconds a series' status (owner, identified flags, size) is reused between lookups."""


class _StatusCache:
    """Series statuses for a couple of seconds: a hit on a series of a million media
    would otherwise count its media again on every lookup. Caller-independent (the
    sharing level is applied after), bounded, per process.

    Stale while revalidating: a status older than ``ttl`` is still answered while one
    background thread per series computes it again (counting a 10M-media series
    takes seconds), so no lookup waits on a count except a series' very first. A
    series is recounted at most every ``ttl`` or ten times its last count's
    duration, whichever is longer (so recounting a huge series takes at most ~10%
    of a core): a change (identification, media added) shows within that plus one
    count.
    """

    def __init__(self, ttl: float = STATUS_TTL, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._items: dict[tuple[str, int], tuple[float, repo.SeriesStatus]] = {}
        self._refreshing: set[tuple[str, int]] = set()
        self._cost: dict[tuple[str, int], float] = {}  # seconds the last count took
        self._counting: dict[tuple[str, int], threading.Event] = {}  # first counts under way

    def get(
        self, app: App, s: Session, ids: list[int], caller: Caller | None = None
    ) -> dict[int, repo.SeriesStatus]:
        now = time.monotonic()
        url = app.settings.database_url
        out: dict[int, repo.SeriesStatus] = {}
        stale: list[int] = []
        with self._lock:
            for i in ids:
                hit = self._items.get((url, i))
                if hit is None:
                    continue
                out[i] = hit[1]
                due = max(self.ttl, 10 * self._cost.get((url, i), 0.0))
                if now - hit[0] >= due and (url, i) not in self._refreshing:
                    self._refreshing.add((url, i))
                    stale.append(i)
        missing = [i for i in ids if i not in out]
        if missing:
            out.update(self._first(s, url, missing))
        if stale:
            threading.Thread(
                target=self._refresh, args=(app, caller, url, stale), daemon=True
            ).start()
        return out

    def _first(self, s: Session, url: str, ids: list[int]) -> dict[int, repo.SeriesStatus]:
        """Statuses never counted yet, one count per series at a time in this process:
        lookups arriving while a big series is first counted wait for that count
        instead of each starting its own (16 concurrent counts of a 10M-media series
        held every request past 30 s)."""
        mine: list[int] = []
        events: dict[int, threading.Event] = {}
        with self._lock:
            for i in ids:
                ev = self._counting.get((url, i))
                if ev is None:
                    ev = self._counting[(url, i)] = threading.Event()
                    mine.append(i)
                events[i] = ev
        at = time.monotonic()
        counted: dict[int, repo.SeriesStatus] = {}
        try:
            if mine:
                counted = self._count(s, mine)
                self._store(url, at, counted)
        finally:
            with self._lock:
                for i in mine:
                    self._counting.pop((url, i)).set()
        for i in ids:
            if i not in mine:
                events[i].wait()
        out = dict(counted)
        with self._lock:
            for i in ids:
                hit = self._items.get((url, i))
                if hit is not None and i not in out:
                    out[i] = hit[1]
        again = [i for i in ids if i not in out and i not in mine]
        if again:  # the other count failed (or the cache was cleared): count here
            fresh = self._count(s, again)
            self._store(url, at, fresh)
            out.update(fresh)
        return out

    @staticmethod
    def _count(s: Session, ids: list[int]) -> dict[int, repo.SeriesStatus]:
        return {x.id: repo.series_status(s, x) for x in repo.series_by_ids(s, ids)}

    def _store(self, url: str, at: float, fresh: dict[int, repo.SeriesStatus]) -> None:
        with self._lock:
            if len(self._items) + len(fresh) > self.size:
                self._items.clear()
                self._cost.clear()
            self._items.update({(url, i): (at, st) for i, st in fresh.items()})

    def _refresh(self, app: App, caller: Caller | None, url: str, ids: list[int]) -> None:
        at = time.monotonic()
        try:
            if caller is None:
                with app.transaction() as s:
                    fresh = self._count(s, ids)
            else:  # under the same RLS identity as the lookup that found it stale
                with transaction(app, caller) as (s, _vis):
                    fresh = self._count(s, ids)
            gone = [i for i in ids if i not in fresh]
            self._store(url, at, fresh)
            took = (time.monotonic() - at) / max(1, len(ids))
            with self._lock:
                self._cost.update({(url, i): took for i in fresh})
                for i in gone:  # deleted meanwhile: asked again next time
                    self._items.pop((url, i), None)
        except Exception:  # the stale status stays; the next lookup retries
            pass
        finally:
            with self._lock:
                self._refreshing.difference_update((url, i) for i in ids)


_STATUS = _StatusCache()


@dataclass(frozen=True)
class _Seen:
    """What the caller may see of matched media: the sharing rules applied once."""

    media: set[int]
    """Matched media seen at ``hash`` or more (the rest do not exist for the caller)."""
    series: SeriesOfMedia
    """media id -> series seen at ``status`` or more."""
    contacts: dict[int, tuple[str, ...]]
    """media id -> owner contacts of series seen only at ``hash``."""
    summaries: tuple[SeriesSummary, ...]
    own: dict[int, sharing.BlindRecord] = field(default_factory=dict)
    """Matched media the caller sees only through its own blind-linked record: they
    match by what that record said only (``tessera.app.blind_matches``)."""

    def named(self, media_ids: Iterable[int]) -> tuple[SeriesSummary, ...]:
        """The summaries of the series the answer's ``media_ids`` belong to: a match
        left out does not show its series either."""
        ids = {x for m in media_ids for x in self.series.get(m, ())}
        return tuple(x for x in self.summaries if x.series_id in ids)

    def by_their_file(self, media_id: int) -> bool:
        """A hit the caller may be told of that came from the stored file's own
        fingerprints (video frames, audio): none for items in ``own``."""
        return media_id in self.media and media_id not in self.own


def _seen(app: App, caller: Caller, media_ids: set[int]) -> _Seen:
    """Apply the sharing rules to matched media in a transaction of their own."""
    if not media_ids:  # nothing matched: nothing to check
        return _Seen(set(), {}, {}, ())
    with transaction(app, caller) as (s, vis):
        return _seen_in(app, s, vis, caller, media_ids)


def _seen_in(app: App, s: Session, vis: Visibility, caller: Caller, media_ids: set[int]) -> _Seen:
    """Apply the sharing rules to matched media (``tessera.app.visibility``).

    ``none``: the media item is left out, as if never matched; ``hash``: "known to
    the network" plus the owner's contact; ``status`` and up: the series by name
    with its identification status.
    """
    if not media_ids:
        return _Seen(set(), {}, {}, ())
    levels = vis.media_levels(media_ids)
    media = {m for m, lv in levels.items() if lv >= Level.HASH}
    in_series, _ = vis.containers(media)  # read once with the levels above
    of_media = {m: sorted(ids) for m, ids in in_series.items()}
    series_levels = vis.series_levels({i for ids in of_media.values() for i in ids})
    # deleted series have no owner (``sharing.owners``): level none, never shown
    shown = [i for i, lv in series_levels.items() if lv >= Level.HASH]
    status = _STATUS.get(app, s, shown, caller)
    by_case = vis.case_contacts(media)
    summaries = tuple(
        SeriesSummary.of(status[i], series_levels[i])
        for i in sorted(status, key=lambda i: status[i].name)
        if series_levels[i] >= Level.STATUS
    )
    named = {x.series_id for x in summaries}
    per: SeriesOfMedia = {}
    contacts: dict[int, tuple[str, ...]] = {}
    for m, ids in of_media.items():
        per[m] = tuple(sorted(i for i in ids if i in named))
        hidden = {status[i].contact for i in ids if i in status and i not in named}
        contacts[m] = tuple(sorted(c for c in hidden if c))
    for m, found in by_case.items():  # media known from a case shared with the caller
        if not per.get(m):
            contacts[m] = tuple(sorted(set(contacts.get(m, ())) | found))
    return _Seen(media, per, contacts, summaries, vis.own_records(media))


@dataclass(frozen=True)
class _Settled:
    seen: _Seen
    held: set[int]
    """Matched items in quarantine (flood guard)."""
    verdicts: dict[int, trust.VerdictCounts]


def _settle(
    app: App,
    caller: Caller,
    matched: set[int],
    live: set[int],
    hits: set[tuple[int, str]],
) -> _Settled:
    """Everything a lookup that matched reads and writes, in one transaction: the
    sharing rules over ``matched`` (every item found), the flood guard over ``hits``
    ((media id, query key) of the matches not under a negative entry), verdict
    counts, and the blind-hit notices to the owners of the ``live`` items' series
    (whatever they share). Deliveries owed go out after the commit. A lookup that
    matched nothing opens no transaction.
    """
    if not matched:
        return _Settled(_Seen(set(), {}, {}, ()), set(), {})
    rule = trust.flood_rule(app) if hits else None  # cached per process (FLOOD_TTL)
    with transaction(app, caller) as (s, vis):
        seen = _seen_in(app, s, vis, caller, matched)
        held: set[int] = set()
        verdicts: dict[int, trust.VerdictCounts] = {}
        if rule is not None:
            held, verdicts = trust.guard_and_count_in(s, app, caller, hits, rule)
        unjudged = seen.media - live  # matched only under a negative entry (``explain``)
        if unjudged:
            verdicts.update(trust.counts(s, unjudged))
        # last: the notices read as the finder, then as each owner (RLS identity);
        # on SQLite from the memberships the sharing rules read (cached in ``vis``)
        in_series, _ = vis.containers(live)
        raised, queued = coop.notice_in(s, app, caller, live, via="lookup", in_series=in_series)
    if queued:
        delivery.dispatch(app, raised)
    return _Settled(seen, held, verdicts)


def _audit(app: App, caller: Caller, action: str, params: Any, count: int) -> None:
    """Network callers' lookups go into the audit trail (a digest of the hashes asked,
    never the hashes): into the service request's entry when served, else one of
    their own; the node's own command line reads are not logged."""
    audit.note_read(app, caller, action, params=params, result_count=count)


def lookup(
    app: App,
    caller: Caller,
    queries: Sequence[HashQuery],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    pdq: PdqSearcher | None = None,
    explain: bool = False,
    hide_disputed: bool = False,
) -> LookupResult:
    """Every stored media item each hash matches, in query order.

    A hash on a negative list answers ``suppressed`` without matches (with them when
    ``explain``); ``hide_disputed`` leaves out items an agency disputed.
    """
    if len(queries) > MAX_QUERIES:
        raise InvalidInput(f"at most {MAX_QUERIES} hashes per lookup, got {len(queries)}")
    _check_radius(radius)
    require_role(caller, Role.ANALYST)
    raw = [parse_hash(q.type, q.hash, f"queries[{i}]") for i, q in enumerate(queries)]
    found: dict[int, list[tuple[int, str, int, int | None, float | None]]] = {}
    exact = {kind: [i for i, q in enumerate(queries) if q.type == kind] for kind in HEX_EXACT}
    if any(exact.values()):  # PDQ-only lookups (most of a server's) skip this transaction
        # read like the PDQ index (hashes and ids of every item, tessera.index=on): items
        # the caller may not see are found too, for their owners' notices, and are
        # filtered out of the answer by ``_seen`` below
        with app.index_db.session() as s:
            for kind, wanted in exact.items():
                if not wanted:
                    continue
                media = repo.media_by_digest(s, kind, [raw[i] for i in wanted])
                for i in wanted:
                    m = media.get(raw[i])
                    if m is not None:
                        found.setdefault(i, []).append((m.id, "exact", 0, None, None))
    pdq_idx = [i for i, q in enumerate(queries) if q.type == "pdq"]
    if pdq_idx:
        searcher = pdq if pdq is not None else app.pdq_store()
        codes = np.frombuffer(b"".join(raw[i] for i in pdq_idx), dtype=np.uint8).reshape(-1, 32)
        for h in searcher.search(codes, radius=radius, min_quality=min_quality):
            found.setdefault(pdq_idx[h.query], []).append(
                (h.media_id, "pdq", h.distance, h.quality, h.timestamp)
            )
    suppressed = trust.suppressed(app, caller, [(q.type, raw[i]) for i, q in enumerate(queries)])
    if not explain:
        found = {i: ms for i, ms in found.items() if i not in suppressed}
    live = {i: ms for i, ms in found.items() if i not in suppressed}
    every = {m[0] for ms in live.values() for m in ms}
    settled = _settle(
        app,
        caller,
        every | {m[0] for ms in found.values() for m in ms},
        every,
        trust.hit_rows((m[0], queries[i].type, raw[i]) for i, ms in live.items() for m in ms),
    )
    seen, held, verdicts = settled.seen, settled.held, settled.verdicts
    answers = []
    for i, q in enumerate(queries):
        best: dict[int, LookupMatch] = {}
        rows = []
        for row in found.get(i, []):
            own = seen.own.get(row[0])
            if own is None:
                rows.append(row)
                continue
            # seen through a blind link only: by its own record (not the other
            # agency's distance, quality or video time)
            d = own_match(own, q.type, raw[i], radius)
            if d is not None:
                rows.append((row[0], row[1], d, None, None))
        for media_id, how, dist, quality, ts in sorted(rows, key=lambda t: t[2]):
            if media_id in seen.media and media_id not in best:  # nearest row per item
                best[media_id] = LookupMatch(
                    media_id=media_id,
                    match=how,  # type: ignore[arg-type]
                    distance=dist,
                    quality=quality,
                    timestamp=ts,
                    series=seen.series.get(media_id, ()),
                    contacts=seen.contacts.get(media_id, ()),
                    quarantined=media_id in held,
                    verdicts=verdicts.get(media_id),
                )
        kept = tuple(
            m for m in best.values() if not (hide_disputed and m.verdicts and m.verdicts.disputed)
        )
        answers.append(
            LookupAnswer(
                index=i,
                type=q.type,
                hash=q.hash.lower(),
                matches=kept,
                suppressed=suppressed.get(i),
            )
        )
    result = LookupResult(
        results=tuple(answers),
        series=seen.named(m.media_id for a in answers for m in a.matches),
        matched=sum(1 for a in answers if a.matches),
    )
    _audit(
        app,
        caller,
        "lookup",
        {
            "queries": [[q.type, q.hash.lower()] for q in queries],
            "radius": radius,
            "explain": explain,
            "hide_disputed": hide_disputed,
        },
        result.matched,
    )
    return result


def lookup_frames(
    app: App,
    caller: Caller,
    frames: Sequence[FrameHash],
    *,
    radius: int = MATCH_THRESHOLD,
    min_quality: int = QUALITY_THRESHOLD,
    pdq: PdqSearcher | None = None,
) -> FrameLookupResult:
    """Stored videos (and stills) a video's frame hashes match, aligned in time."""
    if len(frames) > MAX_QUERIES:
        raise InvalidInput(f"at most {MAX_QUERIES} frames per lookup, got {len(frames)}")
    _check_radius(radius)
    require_role(caller, Role.ANALYST)
    query = FileResult(path="query", status="ok", kind="video", frames=tuple(frames))
    searcher = pdq if pdq is not None else app.pdq_store()
    hits = video_hits(app.index_db, searcher, [query], radius=radius, min_quality=min_quality)
    found = hits.get(0, [])
    seen = _seen(app, caller, {h.media_id for h in found})
    shown = [h for h in found if seen.by_their_file(h.media_id)]
    coop.notice(app, caller, {h.media_id for h in found}, via="lookup")
    _audit(
        app,
        caller,
        "lookup.frames",
        {"frames": [[f.hex, f.quality, f.timestamp] for f in frames], "radius": radius},
        len(shown),
    )
    return FrameLookupResult(
        frames=len(frames),
        hits=tuple(
            FrameLookupHit(
                media_id=h.media_id,
                via=h.via,
                distance=h.distance,
                detail=h.detail,
                series=seen.series.get(h.media_id, ()),
                contacts=seen.contacts.get(h.media_id, ()),
            )
            for h in shown
        ),
        series=seen.named(h.media_id for h in shown),
    )


def lookup_audio(app: App, caller: Caller, fingerprint: str) -> AudioLookupResult:
    """Stored recordings sharing audio with a Chromaprint fingerprint (text form)."""
    from tessera.fingerprints.chromaprint import AudioFingerprint  # noqa: PLC0415

    AudioFingerprint.parse(fingerprint)  # InvalidFingerprint before any work
    require_role(caller, Role.ANALYST)
    query = FileResult(path="query", status="ok", kind="audio", audio=fingerprint)
    found = audio_hits(app.index_db, [query]).get(0, [])
    seen = _seen(app, caller, {h.media_id for h in found})
    shown = [h for h in found if seen.by_their_file(h.media_id)]
    coop.notice(app, caller, {h.media_id for h in found}, via="lookup")
    _audit(
        app,
        caller,
        "lookup.audio",
        {"fingerprint": fingerprint},
        len(shown),
    )
    return AudioLookupResult(
        hits=tuple(
            AudioLookupHit(
                media_id=h.media_id,
                detail=h.detail,
                series=seen.series.get(h.media_id, ()),
                contacts=seen.contacts.get(h.media_id, ()),
            )
            for h in shown
        ),
        series=seen.named(h.media_id for h in shown),
    )


__all__ = [
    "HASH_TYPES",
    "MAX_QUERIES",
    "AudioLookupResult",
    "ContentHashes",
    "FrameLookupResult",
    "HashQuery",
    "LookupAnswer",
    "LookupMatch",
    "LookupResult",
    "hash_content",
    "lookup",
    "lookup_audio",
    "lookup_frames",
    "parse_hash",
]
