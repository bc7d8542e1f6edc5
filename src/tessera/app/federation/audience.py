"""Federation: whom a series reaches. **Grants to listed countries and agencies
travel.** A series record carries its network level and its grants to countries /
agencies (``grants``); a series shared with nobody on the network is not sent (a
deletion when it was). The hub forwards a series and its media only to nodes whose
country / agencies (``tessera peer add ... --country CC --agency CODE`` on the hub:
the hub's operator says whom a node serves, not the node) some grant names, and
sends the others a deletion (key and version only); each node enforces it again,
keeping only the grants that name its own agencies' countries and codes, and its
visibility rules then show the series to each local caller at the most specific
level. When a series' audience changes its media are sent again (their sent digest
includes the audience), so a node newly named receives them. Limits: a node in the
audience stores the status fields (name, flags) when any grantee gets ``status``,
even if its own callers see only ``hash`` (its rules never show them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tessera.exchange import delta
from tessera.exchange.delta import FULL, SERIES
from tessera.storage.db import Session
from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_series as remote_series_store
from tessera.storage.models import FedPeer


def for_audience(
    p: dict[str, Any], countries: set[str], agencies: set[str]
) -> dict[str, Any] | None:
    """A series payload with only the grants naming these countries / agencies (and
    the network level); None when that leaves it shared with none of them."""
    grants = p.get("grants") or {}
    kept = {
        "country": {c: v for c, v in (grants.get("country") or {}).items() if c in countries},
        "agency": {a: v for a, v in (grants.get("agency") or {}).items() if a in agencies},
    }
    out = {k: v for k, v in p.items() if k != "grants"}
    kept = {k: v for k, v in kept.items() if v}
    if kept:
        out["grants"] = kept
    return None if delta.best_level(out) == "none" else out


def audience_of(
    node: FedPeer | None,
    series: list[records_store.StoredRecord],
    media: list[records_store.StoredRecord],
) -> tuple[list[records_store.StoredRecord], list[records_store.StoredRecord]]:
    """Hub: what of a page this node may receive. A series shared with none of the
    node's country / agencies (as its peer entry lists them) and its records go as
    hidden deletions (a key and version, nothing else: what a hub could always
    withhold); the ``full`` records of a series the node gets below ``full`` too.
    The node checks the latter against the origin's signed series record."""
    countries = {node.country} if node is not None and node.country else set()
    agencies = set(node.agencies or []) if node is not None else set()
    gone: set[tuple[str, str]] = set()
    below_full: set[tuple[str, str]] = set()
    for r in series:
        if r.deleted:
            continue
        kept = None if r.payload is None else for_audience(r.payload, countries, agencies)
        if kept is None:
            gone.add((r.origin, r.origin_id))
        elif delta.best_level(kept) != "full":
            below_full.add((r.origin, r.origin_id))
    if not gone and not below_full:
        return series, media

    def hide(r: records_store.StoredRecord) -> records_store.StoredRecord:
        return replace(r, deleted=True, payload=None, hidden=True)

    def hidden(r: records_store.StoredRecord) -> bool:
        key = (r.origin, r.series_key)
        return not r.deleted and (key in gone or (r.kind == FULL and key in below_full))

    return (
        [hide(r) if (r.origin, r.origin_id) in gone else r for r in series],
        [hide(r) if hidden(r) else r for r in media],
    )


def for_this_node(
    s: Session, records: list[records_store.Incoming]
) -> list[records_store.Incoming]:
    """Nodes enforce the audience again: a series keeps the grants naming this node's
    own countries / agencies; one left shared with none of them is not kept."""
    codes, countries = remote_series_store.own_agencies(s)
    out = []
    for r in records:
        if r.kind == SERIES and not r.deleted and r.payload is not None:
            p = for_audience(r.payload, countries, codes)
            out.append(replace(r, payload=p, deleted=p is None))
        else:
            out.append(r)
    return out


__all__ = [
    "audience_of",
    "for_audience",
    "for_this_node",
]
