"""Tessera's own exchange bundle: JSON lines, versioned, with a manifest of SHA-256s.

The bundle is what one node hands another (federation signs and ships it): a header
line, then the lines of each part, then a manifest line::

    {"tessera_bundle": 1, "level": "full", "agency": "NL-NPU", "created_at": "..."}
    {"part": "records", "record": {...ExchangeRecord...}}
    ...
    {"manifest": {"header_sha256": "...", "parts": {"records": {"count": N, "sha256": "..."}}}}

Each part's SHA-256 is over the exact bytes of its lines (UTF-8, ``\\n`` ended), so
a signature over the manifest line covers everything. JSON lines stream both ways;
the reader checks counts and digests at the end, so an importer must apply the
records in one transaction and commit only after the reader finished (Tessera's
import does). ``level`` says what a sharing level allowed into the bundle:
``hashes`` (hashes and media kind only) or ``full`` (hashes and metadata).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal, TextIO

from tessera.errors import InvalidInput
from tessera.exchange.model import ExchangeRecord, RecordError, build_record
from tessera.exchange.textio import text_lines

VERSION = 1
Level = Literal["hashes", "full"]
LEVELS: tuple[Level, ...] = ("hashes", "full")
PARTS = ("records",)
HASH_FIELDS = ("md5", "sha1", "sha256", "pdq", "photodna", "other_hashes", "kind")


def share(r: ExchangeRecord, level: Level) -> ExchangeRecord:
    """What a sharing level lets leave the node of a record."""
    if level == "full":
        return r
    return ExchangeRecord(**{f: getattr(r, f) for f in HASH_FIELDS})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def write(
    records: Iterable[ExchangeRecord],
    out: TextIO,
    *,
    level: Level = "full",
    agency: str | None = None,
    created_at: datetime | None = None,
) -> int:
    if level not in LEVELS:
        raise InvalidInput(f"sharing level {level!r} not one of {', '.join(LEVELS)}")
    header = {
        "tessera_bundle": VERSION,
        "level": level,
        "agency": agency,
        "created_at": (created_at or datetime.now(UTC)).isoformat(),
    }
    line = _dumps(header) + "\n"
    out.write(line)
    header_sha = hashlib.sha256(line.encode()).hexdigest()
    h = hashlib.sha256()
    n = 0
    for r in records:
        body = share(r, level).model_dump(mode="json", exclude_defaults=True)
        line = _dumps({"part": "records", "record": body}) + "\n"
        h.update(line.encode())
        out.write(line)
        n += 1
    manifest = {
        "manifest": {
            "header_sha256": header_sha,
            "parts": {"records": {"count": n, "sha256": h.hexdigest()}},
        }
    }
    out.write(_dumps(manifest) + "\n")
    return n


def read(stream: BinaryIO) -> Iterator[ExchangeRecord]:
    """Records of a bundle; raises at the end if counts or digests disagree."""
    header: dict[str, Any] | None = None
    header_sha = ""
    hashers = {p: hashlib.sha256() for p in PARTS}
    counts = dict.fromkeys(PARTS, 0)
    manifest: dict[str, Any] | None = None
    number = 0
    for line_no, text in text_lines(stream):
        raw = (text + "\n").encode()
        if manifest is not None:
            if text.strip():
                raise RecordError("data after the manifest", record=None, line=line_no)
            continue
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"not JSON ({exc})", record=number + 1, line=line_no) from None
        if not isinstance(obj, dict):
            raise RecordError("a bundle line must be a JSON object", record=None, line=line_no)
        if header is None:
            version = obj.get("tessera_bundle")
            if not isinstance(version, int) or isinstance(version, bool):
                raise InvalidInput("not a Tessera bundle (no tessera_bundle version line)")
            if version > VERSION:
                raise InvalidInput(
                    f"bundle version {version} is newer than this Tessera reads ({VERSION})"
                )
            if obj.get("level") not in LEVELS:
                raise InvalidInput(f"bundle level {obj.get('level')!r} unknown")
            header, header_sha = obj, hashlib.sha256(raw).hexdigest()
            continue
        if "manifest" in obj:
            manifest = obj["manifest"]
            continue
        part = obj.get("part")
        if part not in hashers:
            raise RecordError(f"unknown part {part!r}", record=None, line=line_no)
        hashers[part].update(raw)
        counts[part] += 1
        number += 1
        body = obj.get("record")
        if not isinstance(body, dict):
            raise RecordError("record must be an object", record=number, line=line_no)
        yield build_record(body, record=number, line=line_no, names={})
    if header is None:
        raise InvalidInput("empty bundle")
    _verify(manifest, header_sha, hashers, counts)


def _verify(
    manifest: Any, header_sha: str, hashers: dict[str, Any], counts: dict[str, int]
) -> None:
    if not isinstance(manifest, dict):
        raise InvalidInput("bundle has no manifest: it is truncated")
    if manifest.get("header_sha256") != header_sha:
        raise InvalidInput("bundle manifest does not match its header line")
    parts = manifest.get("parts")
    if not isinstance(parts, dict):
        raise InvalidInput("bundle manifest lists no parts")
    for name, hasher in hashers.items():
        entry = parts.get(name) or {"count": 0, "sha256": hashlib.sha256().hexdigest()}
        if not isinstance(entry, dict) or entry.get("count") != counts[name]:
            raise InvalidInput(
                f"bundle part {name}: {counts[name]} lines, manifest says {entry.get('count')}"
            )
        if entry.get("sha256") != hasher.hexdigest():
            raise InvalidInput(f"bundle part {name}: SHA-256 differs from the manifest")


def carried(r: ExchangeRecord, *, level: Level = "full") -> ExchangeRecord:
    return share(r, level)


__all__ = ["LEVELS", "VERSION", "Level", "carried", "read", "share", "write"]
