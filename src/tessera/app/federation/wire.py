"""Federated records as they travel (``WireRecord``, ``tessera.exchange.delta``) and
as the federation store keeps them: the conversions both ways, shared by the hub
(which keeps each record's salt in its payload, to forward it) and the nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tessera.exchange.delta import WireRecord
from tessera.storage.federation import records as records_store


def incoming(
    records: Iterable[WireRecord], *, salted: bool = False
) -> list[records_store.Incoming]:
    """``salted``: keep each record's salt in its payload (the hub forwards it)."""

    def payload(r: WireRecord) -> dict[str, Any] | None:
        if r.payload is None:
            return None
        if not salted and isinstance(r.payload, dict):
            return r.payload  # read() made it for this record alone: no copy
        p = dict(r.payload)
        if salted and r.salt is not None:
            p["n"] = r.salt
        return p

    return [
        records_store.frozen(
            records_store.Incoming,
            origin=r.origin,
            origin_id=r.origin_id,
            kind=r.kind,
            series_key=r.series_key,
            version=r.version,
            deleted=r.deleted,
            payload=payload(r),
        )
        for r in records
    ]


def to_wire(rows: Sequence[records_store.StoredRecord]) -> list[WireRecord]:
    return [
        records_store.frozen(
            WireRecord,
            origin=r.origin,
            origin_id=r.origin_id,
            kind=r.kind,
            series_key=r.series_key,
            version=r.version,
            deleted=r.deleted,
            payload=r.payload,
            salt=None,
            hidden=r.hidden,
            arrived_as=None,
        )
        for r in rows
    ]


__all__ = [
    "incoming",
    "to_wire",
]
