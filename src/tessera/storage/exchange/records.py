"""What storage needs of an exchange record (``tessera.exchange.model`` builds them;
storage does not import the layer above it), and how its hashes are kept: PDQ as
``fingerprint`` rows of version 1, hashes Tessera cannot compute as received text
(version 0), and a record's own hashes as a blind link keeps them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

OPAQUE_VERSION = 0
"""``fingerprint.version`` of hashes Tessera cannot compute (kept as received text)."""
PDQ_VERSION = 1


class OpaqueValue(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class StoredRecordFields(Protocol):
    """What storage needs of an exchange record (``tessera.exchange.model`` builds them;
    storage does not import the layer above it)."""

    @property
    def md5(self) -> str | None: ...
    @property
    def sha1(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def pdq(self) -> str | None: ...
    @property
    def photodna(self) -> str | None: ...
    @property
    def other_hashes(self) -> Sequence[OpaqueValue]: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def media_size(self) -> int | None: ...
    @property
    def source_id(self) -> str | None: ...
    @property
    def series(self) -> str | None: ...
    @property
    def category(self) -> int | None: ...
    @property
    def category_profile(self) -> str | None: ...
    @property
    def victim_identified(self) -> bool | None: ...
    @property
    def offender_identified(self) -> bool | None: ...
    @property
    def relative_path(self) -> str | None: ...
    @property
    def case_ref(self) -> str | None: ...
    @property
    def deleted(self) -> bool: ...
    def identity(self) -> list[tuple[str, str]]: ...
    def entry_data(self) -> dict[str, Any]: ...


def opaque_key(algorithm: str, value: str) -> bytes:
    return hashlib.sha256(f"{algorithm}\x00{value}".encode()).digest()


def own_hashes(r: StoredRecordFields) -> list[list[str]]:
    """A record's PDQ (lower-case hex) and opaque hashes as ``[algorithm, value]``
    pairs, as a blind link keeps them (``BlindLink.hashes``)."""
    out = [["pdq", bytes.fromhex(r.pdq).hex()]] if r.pdq else []
    if r.photodna:
        out.append(["photodna", r.photodna])
    out.extend([h.name, h.value] for h in r.other_hashes)
    return out


def recorded_fingerprints(hashes: Sequence[Sequence[str]]) -> tuple[tuple[str, int, bytes], ...]:
    """``own_hashes`` pairs as export reads fingerprints: (algorithm, version, value)."""
    return tuple(
        ("pdq", PDQ_VERSION, bytes.fromhex(v)) if a == "pdq" else (a, OPAQUE_VERSION, v.encode())
        for a, v in hashes
    )


__all__ = [
    "OPAQUE_VERSION",
    "PDQ_VERSION",
    "OpaqueValue",
    "StoredRecordFields",
    "opaque_key",
    "own_hashes",
    "recorded_fingerprints",
]
