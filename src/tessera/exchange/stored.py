"""Stored media (``storage.exchange.export.StoredItem``) as exchange records, for export.

What an agency's file said (its exchange entry) comes back as it was imported;
what Tessera knows besides (digests from ingest, series membership and status,
computed PDQ) fills in the rest. A series marked identified in Tessera exports
as identified even where the imported record said otherwise: the newer fact wins.
"""

from __future__ import annotations

from typing import Any

from tessera.exchange.model import ExchangeRecord, OpaqueHash, trusted_record, trusted_values
from tessera.storage.exchange.export import StoredItem
from tessera.storage.exchange.records import OPAQUE_VERSION


def record_from_item(item: StoredItem) -> ExchangeRecord:
    # validated when imported (or computed by Tessera): no second validation on the way out
    return trusted_record(_given(item))


def values_from_item(item: StoredItem) -> dict[str, Any]:
    """``record_from_item(item).__dict__`` without the record."""
    return trusted_values(_given(item))


def given_from_item(item: StoredItem) -> dict[str, Any]:
    """Only the fields of ``record_from_item(item)`` that the item gives (the rest are
    their defaults), for ``vics.write_values``: no merge into every field's default
    per record (9 % of an export of everything). It may hold keys that are no field
    (an entry stored by an older version): the writer reads fields by name only."""
    return _given(item)


def _given(item: StoredItem) -> dict[str, Any]:
    """The record's fields that the item gives (the rest keep their defaults)."""
    values: dict[str, Any]
    if item.entry is not None:
        _fmt, source_id, profile, category, stored = item.entry
        values = dict(stored or {})
        values["source_id"] = source_id
        values["category_profile"], values["category"] = profile, category
    else:
        values = {} if item.byte_size is None else {"media_size": item.byte_size}
    if item.kind != "other":
        values["kind"] = item.kind
    values["md5"] = item.md5.hex() if item.md5 else None
    values["sha1"] = item.sha1.hex() if item.sha1 else None
    values["sha256"] = item.sha256.hex() if item.sha256 else None
    others: list[OpaqueHash] = []
    for alg, version, value in item.fingerprints:
        if alg == "pdq" and version != OPAQUE_VERSION:
            values.setdefault("pdq", value.hex())
        elif version == OPAQUE_VERSION and alg == "photodna":
            values["photodna"] = value.decode()
        elif version == OPAQUE_VERSION:
            others.append(OpaqueHash(name=alg, value=value.decode()))
    values["other_hashes"] = tuple(others)
    if item.series:
        name, victim, offender, baseline, profile, category = item.series[0]
        values["series"] = name
        for key, flag in (
            ("victim_identified", victim),
            ("offender_identified", offender),
            ("baseline", baseline),
        ):
            if flag:
                values[key] = True
        if values.get("category") is None and category is not None:
            values["category_profile"], values["category"] = profile, category
    if "tags" in values:
        values["tags"] = tuple(values["tags"])
    return values


__all__ = ["given_from_item", "record_from_item", "values_from_item"]
