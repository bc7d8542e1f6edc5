"""Trusting matches across the network: verdicts, negative lists and the flood guard.

* **Confirmations and disputes**: each agency holds one verdict per media item it
  can see (``status`` or more): ``confirm``, or ``dispute`` with a reason (not
  abuse material, adult, wrong series, duplicate, other) and a note. A lookup match
  then says "confirmed by N agencies in M countries" / "disputed by ..."; callers
  may hide disputed matches. A dispute of an item of a Baseline series notifies the
  series' owner to review it (Baseline needs confirmations from two countries).
* **Negative lists**: hashes that must never match (logos, stock photos, blank
  frames...), the network's (operator) and each agency's own (curators), each with
  a reason and who added it. A query on one (exact, or PDQ within the match radius)
  is answered ``suppressed`` with no matches, unless the caller asks to ``explain``.
* **Flood guard**: a stored item that suddenly matches unusually many distinct
  query hashes (default: more than 100 from 3 or more agencies within 24 h, or
  more than 5 % of one triage's files; the deployment sets its own in
  ``Settings.flood``, the network's operator overrides them) is quarantined: its
  matches are reported ``quarantined``, the owner agency of its series is notified
  (the node's operator sees every notification), and a curator releases it or
  negative-lists it. A triage's files count like lookups' hashes (one per file).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

from tessera.app import audit, coop
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.hit_queue import FLUSH_INTERVAL as HIT_FLUSH_INTERVAL
from tessera.app.hit_queue import HitQueue, Row
from tessera.app.results import Result
from tessera.app.retry import retried
from tessera.app.settings import FloodRule
from tessera.app.visibility import Level, require_role, transaction
from tessera.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
from tessera.fingerprints.pdq import MATCH_THRESHOLD
from tessera.storage import coop as coop_store
from tessera.storage import repo, sharing
from tessera.storage import trust as store
from tessera.storage.db import Session, on_commit

DISPUTE_REASONS = ("not-abuse", "adult", "wrong-series", "duplicate", "other")
NEGATIVE_KINDS = {"md5": 16, "sha1": 20, "sha256": 32, "pdq": 32}


DEFAULT_FLOOD = FloodRule()
"""The issue's defaults; a deployment's are ``Settings.flood``, the network's
operator overrides them (``set_flood_rule``), ``flood_rule`` resolves the three."""
FLOOD_KEYS = ("files", "agencies", "window_hours", "triage_share", "triage_min")
_FLOOD_PREFIX = "flood."


class FloodSettings(Result):
    files: int
    agencies: int
    window_hours: float
    triage_share: float
    triage_min: int
    overridden: tuple[str, ...]
    """Which values the network's operator set (the rest come from the deployment)."""


class VerdictCounts(Result):
    confirmed_agencies: int
    confirmed_countries: int
    disputed_agencies: int
    disputed_countries: int
    dispute_reasons: tuple[str, ...]

    @property
    def disputed(self) -> bool:
        return self.disputed_agencies > 0


class VerdictView(Result):
    media_id: int
    verdict: Literal["confirm", "dispute"]
    reason: str | None
    note: str | None
    counts: VerdictCounts


class NegativeEntry(Result):
    id: int
    scope: Literal["network", "agency"]
    agency: str | None
    kind: str
    hash: str
    reason: str
    added_by: str
    added_at: datetime


class QuarantineView(Result):
    media_id: int
    reason: str
    since: datetime


# -- verdicts --------------------------------------------------------------------------


def counts(s: Session, media_ids: Iterable[int]) -> dict[int, VerdictCounts]:
    """media id -> its confirmations and disputes (items with none left out)."""
    out = {}
    for m, rows in store.verdicts_of(s, media_ids).items():
        conf = [c for v, c, _ in rows if v == "confirm"]
        disp = [(c, r) for v, c, r in rows if v == "dispute"]
        out[m] = VerdictCounts(
            confirmed_agencies=len(conf),
            confirmed_countries=len(set(conf)),
            disputed_agencies=len(disp),
            disputed_countries=len({c for c, _ in disp}),
            dispute_reasons=tuple(sorted({r for _, r in disp if r})),
        )
    return out


def judge(
    app: App,
    caller: Caller,
    media_id: int,
    verdict: Literal["confirm", "dispute"],
    *,
    reason: str | None = None,
    note: str | None = None,
) -> VerdictView:
    """The caller's agency confirms or disputes a media item it sees (analyst or more)."""
    if verdict == "dispute" and reason not in DISPUTE_REASONS:
        raise InvalidInput(f"a dispute needs a reason: one of {', '.join(DISPUTE_REASONS)}")
    if verdict == "confirm" and reason is not None:
        raise InvalidInput("a confirmation takes no reason")
    if note is not None and len(note) > 4000:
        raise InvalidInput("note: at most 4000 characters")
    require_role(caller, Role.ANALYST)
    c = _judge(app, caller, media_id, verdict, reason=reason, note=note)
    if verdict == "dispute":
        _flag_baseline(app, caller, media_id, reason or "")
    return VerdictView(media_id=media_id, verdict=verdict, reason=reason, note=note, counts=c)


@retried  # run again alone: a dispute's Baseline flag is a transaction of its own
def _judge(
    app: App,
    caller: Caller,
    media_id: int,
    verdict: Literal["confirm", "dispute"],
    *,
    reason: str | None,
    note: str | None,
) -> VerdictCounts:
    with transaction(app, caller) as (s, vis):
        vis.require_media(media_id, Level.STATUS)
        if vis.agency_id is None:
            raise PermissionDenied("only an agency's account confirms or disputes")
        store.set_verdict(
            s,
            media_id,
            vis.agency_id,
            verdict=verdict,
            reason=reason,
            note=note,
            by=audit.actor(caller),
            at=datetime.now(UTC),
        )
        audit.record_in(
            s,
            app,
            caller,
            f"media.{verdict}",
            target=f"media:{media_id}",
            params={"reason": reason, "note": note},
        )
        return counts(s, [media_id])[media_id]


BASELINE_COUNTRIES = 2
"""Interpol's rule: Baseline needs confirmations from at least this many countries."""


class BaselineReviewView(Result):
    id: int
    series: str
    media_id: int | None
    reason: str
    raised_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


def require_baseline_rule(s: Session, caller: Caller, series_id: int | None) -> dict[str, object]:
    """Refuse to make a series Baseline unless its items were confirmed by agencies of
    at least two countries. The node's local operator (loading Interpol's own list,
    say) may override; the override is returned for the audit entry."""
    countries = store.confirmed_countries_of_series(s, series_id) if series_id else set()
    if len(countries) >= BASELINE_COUNTRIES:
        return {"baseline_countries": sorted(countries)}
    if caller.is_local_operator:
        return {"baseline_countries": sorted(countries), "baseline_override": True}
    raise InvalidInput(
        f"Baseline needs confirmations from at least {BASELINE_COUNTRIES} countries; "
        f"this series has {len(countries)} ({', '.join(sorted(countries)) or 'none'})"
    )


@retried
def _flag_baseline(app: App, caller: Caller, media_id: int, reason: str) -> None:
    """A disputed item of a Baseline series: flagged for review, its owner told."""
    now = datetime.now(UTC)
    with app.transaction() as s:
        hits = coop_store.series_hits(s, [media_id])  # ids only, across agencies
        owners = coop_store.agencies(s, {o for o, _ in hits.values()})
        for sid, (owner, _) in sorted(hits.items()):
            sharing.set_rls_caller(s, owners[owner].code)  # the owner reads its series
            row = coop_store.series(s, [sid]).get(sid)
            if row is None or not row.baseline:
                continue
            review = store.add_review(s, sid, media_id, f"disputed: {reason}", now)
            coop.notify_curators(
                s,
                owner,
                "baseline-review",
                {
                    "review": review.id,
                    "media_id": media_id,
                    "series": row.name,
                    "disputed_by": caller.agency_code,
                    "reason": reason,
                },
            )
            audit.record_in(
                s, app, caller, "baseline.review", target=f"media:{media_id}", result_count=1
            )


def _review_view(s: Session, r: object) -> BaselineReviewView:
    from tessera.storage.models import BaselineReview  # noqa: PLC0415

    assert isinstance(r, BaselineReview)
    name = coop_store.series(s, [r.series_id])[r.series_id].name
    return BaselineReviewView(
        id=r.id,
        series=name,
        media_id=r.media_id,
        reason=r.reason,
        raised_at=r.raised_at,
        resolved_at=r.resolved_at,
        resolved_by=r.resolved_by,
    )


def list_reviews(app: App, caller: Caller, *, open_only: bool = True) -> list[BaselineReviewView]:
    """Baseline items flagged for review, of the caller's agency's series."""
    with transaction(app, caller) as (s, vis):
        if not vis.everything and vis.agency_id is None:
            return []
        rows = store.reviews(s, None if vis.everything else vis.agency_id, open_only=open_only)
        return [_review_view(s, r) for r in rows]


@retried
def resolve_review(
    app: App, caller: Caller, review_id: int, *, drop_baseline: bool = False
) -> BaselineReviewView:
    """The owner's curator closes a review; ``drop_baseline`` also takes the series off
    Baseline. Audited."""
    require_role(caller, Role.CURATOR)
    if not 0 < review_id < 2**31:
        raise NotFound(f"no Baseline review {review_id}")
    with transaction(app, caller) as (s, vis):
        r = store.get_review(s, review_id)
        series = coop_store.series(s, [r.series_id]).get(r.series_id) if r else None
        if r is None or series is None or not (vis.everything or vis.agency_id == series.agency_id):
            raise NotFound(f"no Baseline review {review_id}")
        if r.resolved_at is None:
            r.resolved_at, r.resolved_by = datetime.now(UTC), audit.actor(caller)
        if drop_baseline:
            series.baseline = False
        s.flush()
        audit.record_in(
            s,
            app,
            caller,
            "baseline.resolve",
            target=f"baseline-review:{review_id}",
            series=series.name,
            params={"drop_baseline": drop_baseline},
        )
        return _review_view(s, r)


# -- negative lists ----------------------------------------------------------------------


def _parse(kind: str, value: str) -> bytes:
    want = NEGATIVE_KINDS.get(kind)
    if want is None:
        raise InvalidInput(f"hash type must be one of {', '.join(NEGATIVE_KINDS)}")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != want:
        raise InvalidInput(f"a {kind} hash is {want * 2} hex digits")
    return raw


def _entry(s: Session, row: object) -> NegativeEntry:
    from tessera.storage.models import NegativeHash  # noqa: PLC0415

    assert isinstance(row, NegativeHash)
    code = None
    if row.agency_id is not None:
        code = coop_store.agencies(s, [row.agency_id])[row.agency_id].code
    return NegativeEntry(
        id=row.id,
        scope="agency" if code else "network",
        agency=code,
        kind=row.kind,
        hash=row.value.hex(),
        reason=row.reason,
        added_by=row.added_by,
        added_at=row.added_at,
    )


@retried
def add_negative(
    app: App, caller: Caller, kind: str, value: str, reason: str, *, network: bool = False
) -> NegativeEntry:
    """Add a hash to the network's list (operator) or the caller's agency's (curator)."""
    raw = _parse(kind, value.strip().lower())
    if not reason.strip() or len(reason) > 1000:
        raise InvalidInput("a negative-list entry needs a reason (at most 1000 characters)")
    with transaction(app, caller) as (s, vis):
        if network:
            require_role(caller, Role.OPERATOR)
            agency_id = None
        else:
            require_role(caller, Role.CURATOR)
            if vis.agency_id is None:
                raise InvalidInput("the node's operator adds to the network list (--network)")
            agency_id = vis.agency_id
        row = store.add_negative(
            s, agency_id, kind=kind, value=raw, reason=reason.strip(), by=audit.actor(caller)
        )
        audit.record_in(
            s,
            app,
            caller,
            "negative.add",
            target=f"negative:{row.id}",
            params={"kind": kind, "hash": value, "reason": reason},
        )
        entry = _entry(s, row)
    _forget_negatives()
    return entry


@retried
def remove_negative(app: App, caller: Caller, entry_id: int) -> NegativeEntry:
    if not 0 < entry_id < 2**31:
        raise NotFound(f"no negative-list entry {entry_id}")
    with transaction(app, caller) as (s, vis):
        row = store.get_negative(s, entry_id)
        mine = row is not None and (vis.everything or row.agency_id in (None, vis.agency_id))
        if row is None or not mine:
            raise NotFound(f"no negative-list entry {entry_id}")
        require_role(caller, Role.OPERATOR if row.agency_id is None else Role.CURATOR)
        view = _entry(s, row)
        store.remove_negative(s, row)
        audit.record_in(s, app, caller, "negative.remove", target=f"negative:{entry_id}")
    _forget_negatives()
    return view


def list_negatives(app: App, caller: Caller) -> list[NegativeEntry]:
    """The network's list and the caller's agency's (every list for the node's operator)."""
    with transaction(app, caller) as (s, vis):
        rows = store.negatives(s, vis.agency_id, all_agencies=vis.everything)
        return [_entry(s, r) for r in rows]


NEGATIVES_TTL = 2.0
"""Seconds the negative lists are reused between lookups in one process: an entry
added or removed here applies at once, one added through another process of the
node within this bound."""
_negatives: dict[tuple[str, str | None], tuple[float, list[tuple[str, bytes, str]]]] = {}
_negatives_lock = threading.Lock()


def _forget_negatives() -> None:
    with _negatives_lock:
        _negatives.clear()


def _negatives_of(app: App, caller: Caller) -> list[tuple[str, bytes, str]]:
    """(kind, value, reason) of the network's list and the caller's agency's."""
    key = (app.settings.database_url, None if caller.is_local_operator else caller.agency_code)
    now = time.monotonic()
    with _negatives_lock:
        hit = _negatives.get(key)
    if hit is not None and now - hit[0] < NEGATIVES_TTL:
        return hit[1]
    with transaction(app, caller) as (s, vis):
        rows = store.negatives(s, vis.agency_id)
        entries = [(r.kind, bytes(r.value), r.reason) for r in rows]
    with _negatives_lock:
        if len(_negatives) > 1024:
            _negatives.clear()
        _negatives[key] = (now, entries)
    return entries


def suppressed(
    app: App, caller: Caller, queries: Sequence[tuple[str, bytes]], radius: int = MATCH_THRESHOLD
) -> dict[int, str]:
    """query index -> the reason of the negative-list entry it hits (network or caller's)."""
    entries = _negatives_of(app, caller)
    if not entries:
        return {}
    out: dict[int, str] = {}
    pdq = [(np.frombuffer(v, dtype=np.uint8), why) for k, v, why in entries if k == "pdq"]
    exact = {(k, v): why for k, v, why in entries if k != "pdq"}
    for i, (kind, raw) in enumerate(queries):
        if kind == "pdq":
            q = np.frombuffer(raw, dtype=np.uint8)
            for v, why in pdq:
                if int(np.unpackbits(q ^ v).sum()) <= radius:
                    out[i] = why
                    break
        elif (kind, raw) in exact:
            out[i] = exact[(kind, raw)]
    return out


# -- flood guard -------------------------------------------------------------------------


def _overrides(s: Session) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in store.network_settings(s, _FLOOD_PREFIX).items():
        name = key[len(_FLOOD_PREFIX) :]
        if name in FLOOD_KEYS:
            out[name] = float(value)
    return out


def _apply(base: FloodRule, values: dict[str, float]) -> FloodRule:
    changes: dict[str, object] = {}
    for name, v in values.items():
        if name == "window_hours":
            changes["window"] = timedelta(hours=v)
        elif name == "triage_share":
            changes["triage_share"] = v
        else:
            if v != int(v):
                raise InvalidInput(f"flood {name} must be a whole number, not {v}")
            changes[name] = int(v)
    try:
        return replace(base, **changes)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise InvalidInput(exc.message) from None


def _flood_view(rule: FloodRule, overridden: Iterable[str]) -> FloodSettings:
    return FloodSettings(
        files=rule.files,
        agencies=rule.agencies,
        window_hours=rule.window.total_seconds() / 3600,
        triage_share=rule.triage_share,
        triage_min=rule.triage_min,
        overridden=tuple(sorted(overridden)),
    )


FLOOD_TTL = 2.0
"""Seconds the operator's flood thresholds are reused between lookups in one process
(every hit checks them): a change made here applies at once, one made through another
process of the node within this bound."""
_flood: dict[str, tuple[float, dict[str, float]]] = {}
_flood_lock = threading.Lock()


def _forget_flood() -> None:
    with _flood_lock:
        _flood.clear()


def _cached_overrides(app: App) -> dict[str, float]:
    key = app.settings.database_url
    now = time.monotonic()
    with _flood_lock:
        hit = _flood.get(key)
    if hit is not None and now - hit[0] < FLOOD_TTL:
        return dict(hit[1])
    with app.transaction() as s:
        values = _overrides(s)
    with _flood_lock:
        if len(_flood) > 64:
            _flood.clear()
        _flood[key] = (now, values)
    return dict(values)


def flood_rule(app: App) -> FloodRule:
    """The flood rule in force: the deployment's (``Settings.flood``), with the values
    the network's operator set over it."""
    return _apply(app.settings.flood, _cached_overrides(app))


def get_flood_rule(app: App, caller: Caller) -> FloodSettings:
    """The flood thresholds in force (any caller of an agency may know them)."""
    with app.transaction() as s:
        values = _overrides(s)
    return _flood_view(_apply(app.settings.flood, values), values)


@retried
def set_flood_rule(app: App, caller: Caller, values: dict[str, float | None]) -> FloodSettings:
    """The network's operator sets flood thresholds for the whole network; a value of
    None returns that one to the deployment's setting. Audited."""
    require_role(caller, Role.OPERATOR)
    unknown = sorted(set(values) - set(FLOOD_KEYS))
    if unknown:
        raise InvalidInput(f"unknown flood setting {unknown[0]!r}: one of {', '.join(FLOOD_KEYS)}")
    with app.transaction() as s:
        current = _overrides(s)
        current.update({k: float(v) for k, v in values.items() if v is not None})
        for k, v in values.items():
            if v is None:
                current.pop(k, None)
        rule = _apply(app.settings.flood, current)  # InvalidInput before anything is written
        now = datetime.now(UTC)
        for k in FLOOD_KEYS:
            store.set_network_setting(
                s,
                _FLOOD_PREFIX + k,
                repr(current[k]) if k in current else None,
                audit.actor(caller),
                now,
            )
        audit.record_in(s, app, caller, "flood.set", target="network:flood", params=values)
    _forget_flood()
    return _flood_view(rule, current)


def guard(
    app: App,
    caller: Caller,
    hits: Iterable[tuple[int, str, bytes]],
    rule: FloodRule | None = None,
) -> set[int]:
    """Log (media id, query type, query hash) hits, quarantine items that flood.

    Returns every matched item now quarantined (new or old). Local operator lookups
    are not counted (no agency).
    """
    return guard_and_count(app, caller, hits, rule)[0]


def guard_and_count(
    app: App,
    caller: Caller,
    hits: Iterable[tuple[int, str, bytes]],
    rule: FloodRule | None = None,
) -> tuple[set[int], dict[int, VerdictCounts]]:
    """``guard``, and the verdict counts (``counts``) of the hit items read in the same
    transaction: a lookup that matched pays one transaction for both, not two."""
    rows = hit_rows(hits)
    if not rows:  # nothing matched: no rule to read, nothing to log
        return set(), {}
    rule = rule or flood_rule(app)
    with app.transaction() as s:
        return guard_and_count_in(s, app, caller, rows, rule)


def hit_rows(hits: Iterable[tuple[int, str, bytes]]) -> set[tuple[int, str]]:
    """(media id, query key) of (media id, query type, query hash) hits: the query
    hash travels into the hit log only as a digest."""
    return {(m, hashlib.sha256(k.encode() + b":" + h).hexdigest()) for m, k, h in hits}


def guard_and_count_in(
    s: Session,
    app: App,
    caller: Caller,
    rows: set[tuple[int, str]],
    rule: FloodRule,
) -> tuple[set[int], dict[int, VerdictCounts]]:
    """``guard_and_count`` inside the caller's transaction ``s`` (a lookup's one
    transaction: visibility, flood guard, verdicts and hit notices together).

    ``rows``: (media id, query key) pairs (``hit_rows``). The tables read and written here (hit log,
    quarantine, verdicts, notifications) carry no row-level policy, so the session's
    RLS caller does not change what they hold. The hit rows are inserted after the
    reads, so a SQLite write lock is held only for the insert, the flood count and
    the commit.

    In a server process (``app.hit_queue``) the rows join the process's queue when
    the transaction commits, unless the database's counts plus the queued rows plus
    these could pass the rule: then the queue is written out first and the rows are
    logged and counted here, exactly as without a queue.
    """
    if not rows:
        return set(), {}
    now = datetime.now(UTC)
    since = now - rule.window
    media = {m for m, _ in rows}
    held, released = store.quarantine_states(s, media)
    verdicts = counts(s, media)
    agency = sharing.agency_facts(s, caller.agency_code) if caller.agency_code else None
    # the node's own operator's lookups are not counted
    hits = [(m, key, agency.id) for m, key in sorted(rows)] if agency is not None else []
    queue = app.hit_queue
    if queue is not None and hits:
        if not _may_flood(s, queue, hits, media - held, since, released, rule):
            on_commit(s, lambda: queue.add(hits, now))
            return held, verdicts
        queue.flush()  # the queued rows first: the database's counts are then exact
    if hits:
        store.log_hits(s, hits, now)
    near = _beyond_files(s, media - held, rule)
    after = {m: at for m, at in released.items() if m in near}
    counts_ = store.flood_counts(s, near, since, after) if near else {}
    for m, (files, agencies) in sorted(counts_.items()):
        if files > rule.files and agencies >= rule.agencies:
            why = f"{files} distinct hashes from {agencies} agencies within {rule.window}"
            if store.quarantine(s, m, why, now):
                held.add(m)
                owners = {o for o, _ in coop_store.series_hits(s, [m]).values()}
                for o in owners:
                    coop.notify_curators(s, o, "quarantine", {"media_id": m, "reason": why})
                audit.record_in(
                    s, app, caller, "quarantine", target=f"media:{m}", result_count=files
                )
    return held, verdicts


def _may_flood(  # noqa: PLR0917 (a private helper of one caller)
    s: Session,
    queue: HitQueue,
    hits: list[Row],
    media: set[int],
    since: datetime,
    released: dict[int, datetime],
    rule: FloodRule,
) -> bool:
    """Whether the database's hit counts of ``media`` plus the queue's rows plus
    ``hits`` could pass ``rule`` (an upper bound: a row both written and queued counts
    twice)."""
    if not media:
        return False
    # the queue first: a batch it writes meanwhile is then counted in one or both
    queued = queue.pending(media, since, released)
    of_media: dict[int, set[tuple[str, int]]] = {}  # one pass: a batch has 10,000 hits
    for x, k, a in hits:
        of_media.setdefault(x, set()).add((k, a))
    more: dict[int, tuple[int, int]] = {}  # the queue's and these hits' keys, agencies
    for m in media:
        keys, by = queued.get(m, (set(), set()))
        mine = of_media.get(m, set())
        more[m] = (len(keys | {k for k, _ in mine}), len(by | {a for _, a in mine}))
    # the database's rows at any time bound its counts in the window (index only):
    # the exact counts are read for the items that bound does not clear
    rows = store.hit_row_counts(s, media)
    near = {m for m in media if rows.get(m, 0) + more[m][0] > rule.files}
    after = {m: at for m, at in released.items() if m in near}
    written = store.flood_counts(s, near, since, after) if near else {}
    for m in near:
        files, agencies = written.get(m, (0, 0))
        files += more[m][0]
        agencies += more[m][1]
        if files > rule.files and agencies >= rule.agencies:
            return True
    return False


def _beyond_files(s: Session, media: set[int], rule: FloodRule) -> set[int]:
    """The items whose hit-log rows (at any time, an index-only count) exceed the
    rule's files: no other item can have more distinct hashes in the window."""
    if not media:
        return set()
    rows = store.hit_row_counts(s, media)
    return {m for m in media if rows.get(m, 0) > rule.files}


def start_hit_queue(app: App, interval: float = HIT_FLUSH_INTERVAL) -> HitQueue:
    """Give ``app`` (a server process's) a running batched hit log; ``stop()`` it at
    shutdown, which appends what is still queued."""

    def write(batch: list[tuple[Row, datetime]]) -> None:
        with app.db.session() as s:
            store.log_hits_at(s, batch)

    queue = HitQueue(write, interval=interval)
    queue.start()
    app.hit_queue = queue
    return queue


def guard_triage(
    app: App,
    caller: Caller,
    files_per_item: dict[int, int],
    total_files: int,
    rule: FloodRule | None = None,
) -> set[int]:
    """The triage rule: quarantine an item matched by more than ``triage_share`` of one
    triage's files (and at least ``triage_min``); returns the items quarantined now."""
    rule = rule or flood_rule(app)
    now = datetime.now(UTC)
    flooded = {
        m: n
        for m, n in files_per_item.items()
        if n >= rule.triage_min and n > rule.triage_share * total_files
    }
    done: set[int] = set()
    if not flooded:
        return done
    with app.transaction() as s:
        for m, n in sorted(flooded.items()):
            why = f"{n} of {total_files} files of one triage matched it"
            if store.quarantine(s, m, why, now):
                done.add(m)
                for o in {o for o, _ in coop_store.series_hits(s, [m]).values()}:
                    coop.notify_curators(s, o, "quarantine", {"media_id": m, "reason": why})
                audit.record_in(s, app, caller, "quarantine", target=f"media:{m}", result_count=n)
    return done


@retried
def release(
    app: App, caller: Caller, media_id: int, *, negative_reason: str | None = None
) -> QuarantineView:
    """A curator of the item's series' owner (or the operator) releases it; with
    ``negative_reason`` its hashes also go on the agency's negative list instead."""
    require_role(caller, Role.CURATOR)
    with transaction(app, caller) as (s, vis):
        row = store.get_quarantine(s, media_id)
        owners = {o for o, _ in coop_store.series_hits(s, [media_id]).values()}
        if (
            row is None
            or row.released_at is not None
            or not (vis.everything or vis.agency_id in owners)
        ):
            raise NotFound(f"no quarantined media item {media_id}")
        view = QuarantineView(media_id=media_id, reason=row.reason, since=row.since)
        row.released_at, row.released_by = datetime.now(UTC), audit.actor(caller)
        if negative_reason:
            m = repo.media_by_id(s, media_id)
            if m.sha256 is not None:
                store.add_negative(
                    s,
                    vis.agency_id,
                    kind="sha256",
                    value=bytes(m.sha256),
                    reason=negative_reason,
                    by=audit.actor(caller),
                )
        audit.record_in(
            s,
            app,
            caller,
            "quarantine.release",
            target=f"media:{media_id}",
            params={"negative": negative_reason},
        )
        return view


def list_quarantine(app: App, caller: Caller) -> list[QuarantineView]:
    with transaction(app, caller) as (s, vis):
        rows = store.list_quarantine(s)
        ids = vis.seen_media([r.media_id for r in rows], Level.HASH)
        return [
            QuarantineView(media_id=r.media_id, reason=r.reason, since=r.since)
            for r in rows
            if r.media_id in ids
        ]


__all__ = [
    "BASELINE_COUNTRIES",
    "DEFAULT_FLOOD",
    "DISPUTE_REASONS",
    "FLOOD_KEYS",
    "BaselineReviewView",
    "FloodRule",
    "FloodSettings",
    "NegativeEntry",
    "QuarantineView",
    "VerdictCounts",
    "VerdictView",
    "add_negative",
    "counts",
    "flood_rule",
    "get_flood_rule",
    "guard",
    "guard_and_count",
    "guard_and_count_in",
    "guard_triage",
    "hit_rows",
    "judge",
    "list_negatives",
    "list_quarantine",
    "list_reviews",
    "release",
    "remove_negative",
    "require_baseline_rule",
    "resolve_review",
    "set_flood_rule",
    "start_hit_queue",
    "suppressed",
]
