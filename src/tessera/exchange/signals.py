"""python-threatexchange signal types <-> record fields, shared by hash lists and TE CSV.

A ThreatExchange signal is ``(signal_type, signal_str)``: ``pdq`` is 64 lower-case
hex, ``video_md5`` / ``md5`` an MD5. Types Tessera has a field for map to it; any
other well-formed type name is kept as an opaque hash, so it comes back unchanged.
"""

from __future__ import annotations

from typing import Any

from tessera.exchange.model import ExchangeRecord, OpaqueHash

_TO_FIELD = {
    "md5": "md5",
    "video_md5": "md5",
    "photo_md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
    "pdq": "pdq",
    "photodna": "photodna",
    "pdna": "photodna",
}
FIELD_SIGNALS = ("md5", "sha1", "sha256", "pdq", "photodna")


def signal_values(signal_type: str, signal: str) -> dict[str, Any]:
    """Record fields for one signal (validated later, with the record)."""
    name = signal_type.strip().lower()
    field = _TO_FIELD.get(name)
    if field is not None:
        return {field: signal}
    return {"other_hashes": (OpaqueHash(name=name, value=signal),)}


def record_signals(r: ExchangeRecord) -> list[tuple[str, str]]:
    """Every hash of a record as (signal_type, signal)."""
    out = [(f, getattr(r, f)) for f in FIELD_SIGNALS if getattr(r, f)]
    out.extend((h.name, h.value) for h in r.other_hashes)
    return out


def single(signal_type: str, signal: str) -> dict[str, Any]:
    """Fields of a record carrying exactly this one hash."""
    if signal_type in FIELD_SIGNALS:
        return {signal_type: signal}
    return {"other_hashes": (OpaqueHash(name=signal_type, value=signal),)}


__all__ = ["FIELD_SIGNALS", "record_signals", "signal_values", "single"]
