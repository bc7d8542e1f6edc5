"""Federation: received records become local: an agency standing for the owner (with
its contact), a series ``NAME @node`` owned by it with the network-wide grant at the
level the origin shared (so lookup and triage show it to local callers as that
level allows), and the media as hash-only media (or linked to the local media with
those digests).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tessera.app.federation import full as full_view
from tessera.app.federation.audience import for_this_node
from tessera.app.federation.read_ahead import ReadAhead
from tessera.app.federation.wire import incoming
from tessera.exchange.delta import SignedBundle
from tessera.storage import bulk_load
from tessera.storage.db import Session
from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_media as remote_media_store
from tessera.storage.federation import remote_series as remote_series_store


def apply_received(s: Session, bundle: SignedBundle) -> int:
    """Apply a verified feed page: series first, then their media (set-based), then
    what ``full`` shows (after removing what older versions of it wrote)."""
    cache: dict[tuple[str, str], Any] = {}
    series_items = records_store.newer(s, for_this_node(s, incoming(bundle.series)))
    full_items = records_store.newer(s, incoming(bundle.full))
    full_view.before(s, full_items, series_items)
    done: list[tuple[records_store.Newer, int | None]] = []
    for n in series_items:
        r = n.record
        agency = (
            remote_series_store.remote_agency(s, r.origin, r.payload["owner"], cache)
            if r.payload
            else None
        )
        done.append((n, remote_series_store.apply_remote_series(s, r, agency, n.old_local)))
    records_store.store_records(s, done, 0)
    ahead = bundle if isinstance(bundle, ReadAhead) else None
    media_items = (
        records_store.newer(s, ahead.media_in, ahead.media_latest)
        if ahead
        else records_store.newer(s, incoming(bundle.records))
    )
    keys_of: dict[str, set[str]] = {}  # origin -> the series keys its records name
    for n in media_items:
        r = n.record
        keys = keys_of.get(r.origin)
        if keys is None:
            keys = keys_of[r.origin] = set()
        keys.add(r.series_key)
    local_series: dict[tuple[str, str], int | None] = {}
    for origin, keys in keys_of.items():
        for key, local in remote_series_store.local_series_of(s, origin, keys).items():
            local_series[(origin, key)] = local
    by_series: dict[int, list[records_store.Newer]] = {}
    placed: list[tuple[records_store.Newer, int | None]] = []
    unlink: dict[int, list[int]] = {}
    for n in media_items:
        sid = local_series.get((n.record.origin, n.record.series_key))
        if n.record.deleted or sid is None:
            # its series is not shared (any more) with this node: nothing of it is kept
            placed.append((replace(n, record=replace(n.record, deleted=True, payload=None)), None))
            if n.old_local is not None and sid is not None:
                unlink.setdefault(sid, []).append(n.old_local)
        else:
            by_series.setdefault(sid, []).append(n)
    # one import per owner agency (all its series at once: large batches); the
    # series' owners and names in one query
    owners = remote_series_store.series_owners(s, by_series)
    by_agency: dict[
        int, tuple[list[tuple[str, records_store.Incoming]], list[int], list[records_store.Newer]]
    ]
    by_agency = {}
    for sid, group in by_series.items():
        agency_id, name = owners[sid]
        named, sids, items = by_agency.setdefault(agency_id, ([], [], []))
        named.extend([(name, n.record) for n in group])
        sids.extend([sid] * len(group))
        items.extend(group)
    # a fresh node's big pull (the indexes deferred): the series links of new media go
    # in with the link triggers dropped once for the page, not once per import batch
    # (each drop and create made SQLite prepare the import's statements again); they
    # are created again in this transaction, before anything else links media
    held = bulk_load.HeldLinkTriggers(s) if by_agency and bulk_load.missing(s) else None
    for agency_id, (named, sids, items) in by_agency.items():
        agency = remote_series_store.agency_row(s, agency_id)
        assert agency is not None
        ids = remote_media_store.apply_remote_media(
            s,
            agency,
            named,
            ahead.media_made if ahead else None,
            {owners[sid][1]: sid for sid in dict.fromkeys(sids)},
            held=held,
        )
        placed.extend(zip(items, ids, strict=True))
        for sid, n, mid in zip(sids, items, ids, strict=True):
            if n.old_local is not None and n.old_local != mid:  # its hashes changed
                unlink.setdefault(sid, []).append(n.old_local)
    if held is not None:
        held.restore()
    for sid, mids in unlink.items():
        remote_media_store.drop_series_media(s, sid, mids)
    records_store.store_records(s, placed, 0, media_payload=False)
    records_store.store_records(s, full_view.after(s, full_items), 0)
    return len(series_items) + len(media_items) + len(full_items)


__all__ = [
    "apply_received",
]
