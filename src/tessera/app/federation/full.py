"""Federation at ``full``: a series shared at ``full`` with a node's country, agency or
the network carries what a local ``full`` series shows, and the receiving node
shows it to its callers exactly as it would a local one (its visibility rules:
only callers the origin's grants give ``full`` see it).

**What travels** (``tessera.exchange.fullrecord``): one record ``s<series>f`` with
the series' linked pseudonymous victims, offenders and locations, and one record
``s<series>m<media>f`` per media item holding any of its metadata, OCR text or the
series' markers. They are ordinary federated records (versioned, signed by their
origin through its manifest, deleted when they go), so the origin sends them while
some grantee gets ``full`` and deletions when the level goes down; their sent digest
includes the series' audience, so a node newly given ``full`` receives them.

**The hub** forwards them only to nodes some grant gives ``full``; the others get a
hidden deletion, which a node accepts only when the origin's signed series record
in the same page agrees (``tessera.app.federation.attestation.check_attested``).

**A receiving node** writes them only while the series as kept here (the grants
naming its own agencies and country) reaches ``full``, and removes what it wrote
(``tessera.storage.federation.full``) when a record is deleted or replaced, when
the series goes below ``full`` here, and when the series goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tessera.exchange import delta, fullrecord
from tessera.exchange.delta import FULL, WireRecord
from tessera.storage.db import Session
from tessera.storage.federation import full as fstore
from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_series as remote_series_store


def records(
    s: Session, origin: str, series_ids: Sequence[int], media: Sequence[tuple[int, int]]
) -> dict[str, WireRecord]:
    """The ``full`` records of this node's series shared at ``full`` (version 1)."""
    out: dict[str, WireRecord] = {}
    for sid, p in fstore.series_details(s, series_ids).items():
        key = f"s{sid}f"
        if kept := fullrecord.clip(p):
            out[key] = WireRecord(origin, key, FULL, f"s{sid}", 1, False, kept)
    for (sid, mid), p in fstore.media_details(s, media).items():
        key = f"s{sid}m{mid}f"
        if kept := fullrecord.clip(p):
            out[key] = WireRecord(origin, key, FULL, f"s{sid}", 1, False, kept)
    return out


def _is_full(payload: dict[str, Any] | None, deleted: bool) -> bool:
    return not deleted and payload is not None and delta.best_level(payload) == "full"


def _undo(s: Session, origin: str, items: Sequence[tuple[str, str, int]]) -> None:
    """Remove what ``full`` records (origin id, series key, local id) wrote here."""
    if not items:
        return
    series = fstore.series_states(s, origin, [sk for _, sk, _ in items])
    for oid, skey, local in items:
        if fullrecord.is_series_detail(oid):
            fstore.drop_series_detail(s, origin, local)
        else:
            sid = series.get(skey, (None, True, None))[0]
            if sid is not None:
                fstore.drop_media_detail(s, sid, local)
    fstore.forget_applied(s, origin, [oid for oid, _, _ in items])


def before(
    s: Session, full: Sequence[records_store.Newer], series: Sequence[records_store.Newer]
) -> None:
    """Before a page's series and media are applied: remove what the older versions
    of its ``full`` records wrote, and everything ``full`` of the series that fall
    below ``full`` here (or go)."""
    by_origin: dict[str, list[tuple[str, str, int]]] = {}
    for n in full:
        if n.old_local is not None:
            r = n.record
            by_origin.setdefault(r.origin, []).append((r.origin_id, r.series_key, n.old_local))
    for origin, items in by_origin.items():
        _undo(s, origin, items)
    down: dict[str, list[str]] = {}
    for n in series:
        if not _is_full(n.record.payload, n.record.deleted):
            down.setdefault(n.record.origin, []).append(n.record.origin_id)
    for origin, keys in down.items():
        _undo(s, origin, fstore.applied_full_of(s, origin, keys))


def after(
    s: Session, full: Sequence[records_store.Newer]
) -> list[tuple[records_store.Newer, int | None]]:
    """After the page's series and media: write the live ``full`` records whose series
    is at ``full`` here. Returns each record with what it was written onto (local
    series or media id; None: kept, not written)."""
    placed: list[tuple[records_store.Newer, int | None]] = []
    by_origin: dict[str, list[records_store.Newer]] = {}
    for n in full:
        if n.record.deleted:
            placed.append((n, None))
        else:
            by_origin.setdefault(n.record.origin, []).append(n)
    for origin, group in by_origin.items():
        series = fstore.series_states(s, origin, [n.record.series_key for n in group])
        media_ids = fstore.live_local_ids(
            s, origin, [n.record.origin_id[:-1] for n in group if n.record.origin_id[-1] == "f"]
        )
        for n in group:
            r = n.record
            local, deleted, payload = series.get(r.series_key, (None, True, None))
            if local is None or not _is_full(payload, deleted) or r.payload is None:
                placed.append((n, None))
                continue
            row = remote_series_store.series_row(s, local)
            if row is None:
                placed.append((n, None))
                continue
            p = dict(r.payload)
            if fullrecord.is_series_detail(r.origin_id):
                fstore.apply_series_detail(s, origin, local, p)
                placed.append((n, local))
                continue
            mid = media_ids.get(r.origin_id[:-1])
            if mid is None:
                placed.append((n, None))
                continue
            if p.get("markers"):
                p["markers"] = [
                    {**m, "features": fullrecord.marker_features(str(m["features"]))}
                    for m in p["markers"]
                ]
            fstore.apply_media_detail(s, row, mid, p)
            placed.append((n, mid))
    return placed


__all__ = ["after", "before", "records"]
