"""One audit entry and its canonical bytes, the Merkle leaf that commits to it.

The leaf is the canonical JSON (sorted keys, no spaces, UTF-8) of every stored
field *including its sequence number*, so editing any column, renumbering,
swapping two rows or moving a row changes the recomputed leaf hash. Parameters are
kept only as a SHA-256 digest: the log proves *that* a caller searched for given
hashes without becoming a second copy of what they searched for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tessera.audit.merkle import leaf_hash

FORMAT_VERSION = 1


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def params_digest(params: Any) -> str:
    """Hex SHA-256 of the canonical JSON of a call's parameters."""
    return hashlib.sha256(canonical_json(params)).hexdigest()


def as_utc(at: datetime) -> datetime:
    """Stored times come back naive from SQLite: they were written in UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class AuditRecord:
    """Who did what, when, to what, with which parameters, and how much came back."""

    seq: int
    """1-based position in the log (leaf index + 1)."""
    at: datetime
    user: str
    """The account's e-mail, or ``local:<os user>`` for the node's command line."""
    agency: str | None
    role: str
    action: str
    target: str | None
    series: str | None
    params_digest: str
    result_count: int | None
    request_id: str

    def leaf_bytes(self) -> bytes:
        at = as_utc(self.at)
        return canonical_json(
            {
                "v": FORMAT_VERSION,
                "seq": self.seq,
                "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "user": self.user,
                "agency": self.agency,
                "role": self.role,
                "action": self.action,
                "target": self.target,
                "series": self.series,
                "params": self.params_digest,
                "results": self.result_count,
                "request": self.request_id,
            }
        )

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf_bytes())


__all__ = ["AuditRecord", "as_utc", "canonical_json", "params_digest"]
