"""Signed federation bundles: a node's delta to the hub, the hub's feed back to nodes.

They are Tessera exchange bundles (``tessera.exchange.bundle``: JSON lines, a
versioned header, parts, a manifest with the SHA-256 and count of each part) with
two parts, ``series`` (a series' sharing level, owner agency and status) and
``records`` (one media item of a series: its hashes), and one more line after the
manifest: a C2SP signed note by the sender's Ed25519 key (``tessera.audit.note``)
over the SHA-256 of the manifest line. The manifest commits to the header and to
every part line, so the signature covers every byte; a receiver checks the
signature first, then each part's count and digest, and rejects the whole bundle,
saying why, at the first thing that does not hold.

Records are keyed by (origin node, origin id) and versioned; a deleted record is
its key, version and ``"d": true`` only (a revocation carries no hash). In a delta
every record belongs to the signer (the header's origin); a feed names each
record's origin, as accepted by the hub.

**Not trusting the hub with the records.** A delta's manifest also lists a digest
of every record (``record_digests``: SHA-256 of the record as its origin wrote it,
truncated to 128 bits, which leaves a second preimage out of reach), so the
origin's signature covers each record on its own. The hub keeps that signed
manifest (its *attestation*) and forwards it, in the part ``attest``, with every
feed page holding records of that delta; a receiving node checks the origin's
signature and finds each record's digest in it (``attested``), so a hub that
altered, invented or re-attributed a record is caught even though the page itself
is signed by the hub. Each live record in a delta carries a salt (``n``, an HMAC of
its key and version under a secret only its origin can derive), covered by its
digest: the listed digests of records a node is not sent (a series shared with
other countries) cannot be used to confirm a guessed hash.

A series shared at ``full`` (by the network or some grant) also has records in the
part ``full`` (``tessera.exchange.fullrecord``): its linked victims, offenders and
locations, and per media item its metadata, OCR text and markers. They are records
like the others (keyed, versioned, digested, deleted when the level goes down), kept
apart so a hub forwards them only to nodes some grant gives ``full``.

Every record a node receives, deletions included, must be one its origin signed;
the only exception is a whole series the hub withholds from a node (``"h": true``
on the series record and on its records in the same page: the hub's operator
decides whom each node serves), see ``tessera.app.federation``.

A node's deltas also carry its cases (part ``cases``, to the hub only, never in a
feed): each case's owner agency, sharing grants, number (only when some grant gives
``status``) and *tokens* of its unclassified media (a domain-separated SHA-256 of
each SHA-256, cut to 128 bits), from which the hub finds overlaps between new
cases at different nodes (``tessera.app.federation.cases``).

Two more parts: ``notices`` (blind-hit notices between nodes, each signed by the
node that raised it, see ``tessera.app.federation``), and ``attest`` (feeds only).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tessera import jsontext
from tessera.audit.note import NoteError, Signer, Verifier, open_note, sign_note
from tessera.errors import InvalidInput
from tessera.exchange import fullrecord

try:
    import orjson
except ImportError:  # pragma: no cover - pyproject lists it; an old venv may lack it
    orjson = None  # type: ignore[assignment]

VERSION = 1
Kind = Literal["federation-delta", "federation-feed"]
KINDS: tuple[str, ...] = ("federation-delta", "federation-feed")
PARTS = ("series", "records", "full", "cases", "notices", "attest")
RECORD_PARTS = ("series", "records", "full", "cases")
SERIES, MEDIA, FULL, CASE = 0, 1, 2, 3
_PART_KIND = {"series": SERIES, "records": MEDIA, "full": FULL, "cases": CASE}
MAX_CASE_TOKENS = 100_000
CASE_OVERLAP = "case-overlap"
LEVELS = ("hash", "status", "full")
NOTE_TAG = "tessera-federation/1"
MAX_ID = 100
MAX_BUNDLE_BYTES = 256 << 20
_DIGESTS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
_HEX = re.compile(r"^[0-9a-f]+$")
_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,100}$")
_KINDS = ("image", "video", "audio", "other")
_OWNER = {"code": 32, "country": 2, "name": 200, "contact": 1000}
_SERIES_TEXT = {"name": 200, "category_profile": 32}
_SERIES_FLAGS = ("victim_identified", "offender_identified", "baseline")
NOTICE_TAG = "tessera-federation-notice/1"
VIAS = ("lookup", "triage", "ingest")
MAX_NOTICE_MEDIA = 10_000
DIGEST_HEX = 32
SALT_HEX = 32


class DeltaError(InvalidInput):
    """A federation bundle is malformed, altered, or not signed by whom it claims."""

    reason = "invalid-delta"


@dataclass(frozen=True)
class WireRecord:
    """One federated record as it travels."""

    origin: str
    origin_id: str
    kind: int
    """``SERIES`` (0), ``MEDIA`` (1) or ``FULL`` (2: what only ``full`` shows)."""
    series_key: str
    version: int
    deleted: bool = False
    payload: Mapping[str, Any] | None = None
    salt: str | None = field(default=None, compare=False)
    """The origin's salt of a live record (``n``): travels with it, covered by its digest."""
    hidden: bool = False
    """A deletion the hub made (``h``): this node is not in the series' audience."""
    arrived_as: str | None = field(default=None, compare=False)
    """In a feed: the record digest of the exact bytes it arrived as (its origin's
    signed digest when the hub forwarded them unchanged); ``record_digest`` is the
    canonical one, tried when this is not among the origin's."""

    def to_wire(self, *, with_origin: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.origin_id, "s": self.series_key, "v": self.version}
        if with_origin:
            out["o"] = self.origin
        if self.deleted:
            out["d"] = True
            if self.hidden:
                out["h"] = True
        elif self.payload:
            out.update(self.payload)
        if self.salt is not None and not self.deleted:
            out["n"] = self.salt
        return out

    def digest(self) -> str:
        """SHA-256 of what the record says (not its version): a change bumps the version."""
        body = {"d": self.deleted, "k": self.kind, "s": self.series_key, "p": self.payload}
        return hashlib.sha256(_dumps(body).encode()).hexdigest()


def record_digest(r: WireRecord) -> str:
    """What the origin signs of one record (``record_digests``): its wire form without
    the origin (a feed adds it), salt included, canonical JSON, SHA-256 truncated to
    128 bits."""
    return _digest_of(r.to_wire(with_origin=False))


def _digest_of(wire: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(wire)).hexdigest()[:DIGEST_HEX]


def _salter(signer: Signer) -> Callable[[WireRecord], str]:
    """Deterministic per-record salts: HMAC-SHA256 under a key derived from the
    signer's private key (an Ed25519 signature of a fixed text is deterministic)."""
    secret = hashlib.sha256(signer.sign(b"tessera-federation-record-salt/1")).digest()

    def salt(r: WireRecord) -> str:
        msg = f"{r.origin_id}\n{r.version}".encode()
        return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:SALT_HEX]

    return salt


@dataclass(frozen=True)
class Notice:
    """A blind-hit notice: ``body`` says what the sender's search hit of the
    recipient's records; ``signature`` is the sender's signed note over it."""

    id: str
    sender: str
    recipient: str
    body: Mapping[str, Any]
    signature: str

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "body": dict(self.body), "sig": self.signature}


def notice_text(body: Mapping[str, Any]) -> str:
    return f"{NOTICE_TAG}\n{hashlib.sha256(_dumps(dict(body)).encode()).hexdigest()}\n"


def sign_notice(body: Mapping[str, Any], signer: Signer) -> Notice:
    """The notice of ``body`` signed by ``signer`` (who must be its sender)."""
    check_notice_body(body, line=0)
    if body["from"] != signer.name:
        raise DeltaError(f"notice {body['id']} from {body['from']} signed by {signer.name}")
    note = sign_note(notice_text(body), signer)
    return Notice(str(body["id"]), signer.name, str(body["to"]), dict(body), note)


def verify_notice(n: Notice, verifier: Verifier) -> None:
    """``DeltaError`` unless the notice's sender signed exactly this body."""
    try:
        text = open_note(n.signature, verifier)
    except NoteError as exc:
        raise DeltaError(f"notice {n.id} of {n.sender}: signature: {exc.message}") from None
    if text != notice_text(n.body):
        raise DeltaError(f"notice {n.id} of {n.sender}: signature does not cover it (altered)")


@dataclass(frozen=True)
class Attest:
    """An origin's signed manifest of one of its deltas, as the hub forwards it."""

    origin: str
    manifest: str
    """The manifest line (JSON, without its line end)."""
    signature: str

    def to_wire(self) -> dict[str, Any]:
        return {"o": self.origin, "manifest": self.manifest, "signature": self.signature}

    def to_json(self) -> str:
        return _dumps(self.to_wire())


def attest_from_json(text: str) -> Attest:
    obj = json.loads(text)
    return Attest(str(obj["o"]), str(obj["manifest"]), str(obj["signature"]))


def attested(a: Attest, verifier: Verifier) -> frozenset[str]:
    """The record digests the origin signed in this manifest; ``DeltaError`` when the
    signature is not the origin's or does not cover this manifest."""
    mline = (a.manifest + "\n").encode()
    try:
        text = open_note(a.signature, verifier)
    except NoteError as exc:
        raise DeltaError(f"attestation of {a.origin}: signature: {exc.message}") from None
    if text != manifest_note_text("federation-delta", a.origin, mline):
        raise DeltaError(f"attestation of {a.origin}: signature does not cover its manifest")
    try:
        digests = json.loads(a.manifest)["manifest"]["record_digests"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise DeltaError(f"attestation of {a.origin}: manifest lists no record digests") from None
    if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
        raise DeltaError(f"attestation of {a.origin}: record digests are not a list of texts")
    return frozenset(digests)


@dataclass(frozen=True)
class SignedBundle:
    kind: str
    origin: str
    header: Mapping[str, Any]
    series: tuple[WireRecord, ...]
    records: tuple[WireRecord, ...]
    sha256: str
    """SHA-256 of the whole bundle's bytes (the hub's log leaf names it)."""
    signer: Verifier = field(compare=False)
    notices: tuple[Notice, ...] = ()
    attests: tuple[Attest, ...] = ()
    attest: Attest | None = None
    """A delta's own signed manifest (what the hub keeps and forwards)."""
    full: tuple[WireRecord, ...] = ()
    """Records of what ``full`` shows (``tessera.exchange.fullrecord``)."""
    cases: tuple[WireRecord, ...] = ()
    """A node's cases, for overlaps found by the hub (deltas only)."""

    @property
    def all_records(self) -> tuple[WireRecord, ...]:
        return self.series + self.records + self.full + self.cases

    @property
    def count(self) -> int:
        return len(self.all_records)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


_FLAT = frozenset((str, int, bool))


def canonical(wire: Mapping[str, Any]) -> bytes:
    """``_dumps(wire)`` as UTF-8: the canonical bytes of one record (what its digest
    and signature cover). A flat record (text, integer and boolean values: every
    media record) goes through orjson with sorted keys, which writes the same bytes
    when the result is printable ASCII with no escape (both then copy each text
    between quotes and sort keys by code point); anything else (an escape, a
    non-ASCII character, a float, an integer beyond 64 bits, nesting) through
    ``json``. A full pull writes one per record: json's encoder was a third of the
    hub's CPU per feed page."""
    if orjson is not None and _FLAT.issuperset(map(type, wire.values())):
        try:
            out = orjson.dumps(wire, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            out = b""
        if out and out.isascii() and b"\\" not in out:
            return out
    return _dumps(wire).encode()


@functools.lru_cache(maxsize=4096)
def _origin_prefix(origin: str) -> bytes:
    """How a feed's record line starts: ``{"o":ORIGIN,`` (once per origin: a page
    of 50,000 records names a handful)."""
    return b'{"o":' + _dumps(origin).encode() + b","


def manifest_note_text(kind: str, origin: str, manifest_line: bytes) -> str:
    return f"{NOTE_TAG}\n{kind}\n{origin}\n{hashlib.sha256(manifest_line).hexdigest()}\n"


def write(
    kind: Kind,
    signer: Signer,
    series: Iterable[WireRecord],
    records: Iterable[WireRecord],
    header: Mapping[str, Any] | None = None,
    *,
    notices: Iterable[Notice] = (),
    attests: Iterable[Attest] = (),
    full: Iterable[WireRecord] = (),
    cases: Iterable[WireRecord] = (),
) -> bytes:
    """The signed bundle's bytes (deterministic: the same input gives the same bytes)."""
    if kind not in KINDS:
        raise DeltaError(f"unknown bundle kind {kind!r}")
    with_origin = kind == "federation-feed"
    head = {**(header or {}), "tessera_bundle": VERSION, "kind": kind, "origin": signer.name}
    lines = [(_dumps(head) + "\n").encode()]
    manifest: dict[str, Any] = {"header_sha256": hashlib.sha256(lines[0]).hexdigest(), "parts": {}}
    digests: list[str] = []
    salt = None if with_origin else _salter(signer)
    parts = (("series", series), ("records", records), ("full", full), ("cases", cases))
    for part, items in parts:
        h, n = hashlib.sha256(), 0
        for r in items:
            if not with_origin and r.origin != signer.name:
                raise DeltaError(f"record {r.origin_id} of {r.origin} in a delta of {signer.name}")
            wire = r.to_wire(with_origin=False)
            if salt is not None and not r.deleted and "n" not in wire:
                wire["n"] = salt(r)
            inner = canonical(wire)
            if salt is not None:
                digests.append(hashlib.sha256(inner).hexdigest()[:DIGEST_HEX])
            # what _dumps({"part": part, "r": wire}) gives (keys sorted), built once; a
            # feed names each record's origin beside it ("o" sorts first), so the record
            # travels as the bytes its origin signed
            start = _origin_prefix(r.origin) if with_origin else b"{"
            line = start + b'"part":"' + part.encode() + b'","r":' + inner + b"}\n"
            h.update(line)
            lines.append(line)
            n += 1
        manifest["parts"][part] = {"count": n, "sha256": h.hexdigest()}
    others: tuple[tuple[str, str, Iterable[Any]], ...] = (
        ("notices", "n", notices),
        ("attest", "a", attests if with_origin else ()),
    )
    for part, key, things in others:
        h, n = hashlib.sha256(), 0
        for x in things:
            if part == "notices" and not with_origin and x.sender != signer.name:
                raise DeltaError(f"notice {x.id} of {x.sender} in a delta of {signer.name}")
            line = (_dumps({"part": part, key: x.to_wire()}) + "\n").encode()
            h.update(line)
            lines.append(line)
            n += 1
        manifest["parts"][part] = {"count": n, "sha256": h.hexdigest()}
    if not with_origin:
        manifest["record_digests"] = digests
    mline = (_dumps({"manifest": manifest}) + "\n").encode()
    lines.append(mline)
    note = sign_note(manifest_note_text(kind, signer.name, mline), signer)
    lines.append((_dumps({"signature": note}) + "\n").encode())
    return b"".join(lines)


def peek_header(data: bytes) -> dict[str, Any]:
    """The header line, unverified (for routing and progress only)."""
    first = data[: data.find(b"\n")] if b"\n" in data else data
    try:
        head = json.loads(first)
    except (ValueError, RecursionError):
        raise DeltaError("not a federation bundle (the first line is not JSON)") from None
    if not isinstance(head, dict):
        raise DeltaError("not a federation bundle")
    return head


def peek_origin(data: bytes) -> tuple[str, str]:
    """(kind, origin) from the header line, unverified: to pick the key to verify with."""
    first = data[: data.find(b"\n")] if b"\n" in data else data
    try:
        head = json.loads(first[:65536])
    except (ValueError, RecursionError):
        raise DeltaError("not a federation bundle (the first line is not JSON)") from None
    if not isinstance(head, dict) or head.get("tessera_bundle") is None:
        raise DeltaError("not a Tessera bundle (no tessera_bundle version line)")
    kind, origin = head.get("kind"), head.get("origin")
    if kind not in KINDS or not isinstance(origin, str) or not origin:
        raise DeltaError("not a federation bundle (no kind and origin in its header)")
    return kind, origin


def split_bundles(data: bytes) -> list[bytes]:
    """Bundles written one after another (an air-gapped file): each ends at its signature."""
    out: list[bytes] = []
    start = 0
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        if data.startswith(b'{"signature":', pos):
            out.append(data[start:end])
            start = end
        pos = end
    if data[start:].strip():
        out.append(data[start:])  # a truncated last bundle: read() says what is missing
    return out


def read(data: bytes, verifier_for: Callable[[str], Verifier | None]) -> SignedBundle:
    """Verify and parse one bundle; ``DeltaError`` naming the first problem."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise DeltaError(f"bundle over {MAX_BUNDLE_BYTES >> 20} MiB")
    kind, origin = peek_origin(data)
    verifier = verifier_for(origin)
    if verifier is None:
        raise DeltaError(f"bundle signed as {origin!r}: not a known peer")
    if not data.endswith(b"\n"):
        raise DeltaError("bundle is truncated (no final line end)")
    lines = data.split(b"\n")[:-1]
    if len(lines) < 3:
        raise DeltaError("bundle is truncated: no manifest and signature")
    try:
        sig = json.loads(lines[-1])
    except (ValueError, RecursionError):
        raise DeltaError("bundle is truncated: its last line is not the signature") from None
    if not isinstance(sig, dict) or not isinstance(sig.get("signature"), str):
        raise DeltaError("bundle is not signed (no signature line after the manifest)")
    mline = lines[-2] + b"\n"
    try:
        text = open_note(sig["signature"], verifier)
    except NoteError as exc:
        raise DeltaError(f"signature: {exc.message}") from None
    if text != manifest_note_text(kind, origin, mline):
        raise DeltaError("signature does not cover this manifest (the bundle was altered)")
    try:
        manifest = json.loads(mline)["manifest"]
        head = json.loads(lines[0])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise DeltaError("bundle manifest or header is not valid JSON") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("parts"), dict):
        raise DeltaError("bundle manifest lists no parts")
    if head.get("tessera_bundle") != VERSION:
        raise DeltaError(f"bundle version {head.get('tessera_bundle')!r} is not {VERSION}")
    if manifest.get("header_sha256") != hashlib.sha256(lines[0] + b"\n").hexdigest():
        raise DeltaError("bundle header differs from its manifest")
    hashers = {p: hashlib.sha256() for p in PARTS}
    counts = dict.fromkeys(PARTS, 0)
    out: dict[str, list[WireRecord]] = {p: [] for p in RECORD_PARTS}
    notices: list[Notice] = []
    attests: list[Attest] = []
    with_origin = kind == "federation-feed"
    prefixes: dict[tuple[str, str], bytes] = {}
    for number, raw in enumerate(lines[1:-2], 1):
        # media records (most lines) through orjson: every value of one is a text,
        # true, or a version its check requires below 2**62, so orjson's reading of
        # a larger integer as a float meets the same refusal; any other line (or one
        # orjson refuses) through json
        obj = jsontext.loads_native(raw)
        if not (isinstance(obj, dict) and obj.get("part") == "records"):
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                raise DeltaError(f"line {number + 1} is not JSON") from None
        part = obj.get("part") if isinstance(obj, dict) else None
        if part not in hashers:
            raise DeltaError(f"line {number + 1}: unknown part {part!r}")
        hasher = hashers[part]
        hasher.update(raw)
        hasher.update(b"\n")
        counts[part] += 1
        if part == "notices":
            notices.append(_notice(obj.get("n"), origin, with_origin, line=number + 1))
        elif part == "attest":
            if not with_origin:
                raise DeltaError(f"line {number + 1}: a delta carries no attestations")
            attests.append(_attest(obj.get("a"), line=number + 1))
        else:
            arrived = _arrival(raw, part, obj.get("o"), prefixes) if with_origin else None
            out[part].append(
                _record(
                    obj.get("r"), part, origin, with_origin, line=number + 1, outer=obj, at=arrived
                )
            )
    for p in PARTS:
        entry = manifest["parts"].get(p) or {}
        if p in ("full", "cases") and p not in manifest["parts"]:
            entry = {"count": 0, "sha256": hashlib.sha256().hexdigest()}  # written before it
        if not isinstance(entry, dict) or entry.get("count") != counts[p]:
            raise DeltaError(f"part {p}: {counts[p]} lines, manifest says {entry.get('count')!r}")
        if entry.get("sha256") != hashers[p].hexdigest():
            raise DeltaError(f"part {p}: SHA-256 differs from the manifest (checksum failed)")
    own: Attest | None = None
    if not with_origin:
        listed = manifest.get("record_digests")
        if listed != [record_digest(r) for p in RECORD_PARTS for r in out[p]]:
            raise DeltaError("record digests differ from the manifest's record_digests")
        own = Attest(origin, lines[-2].decode(), sig["signature"])
    return SignedBundle(
        kind=kind,
        origin=origin,
        header=head,
        series=tuple(out["series"]),
        records=tuple(out["records"]),
        sha256=hashlib.sha256(data).hexdigest(),
        signer=verifier,
        notices=tuple(notices),
        attests=tuple(attests),
        attest=own,
        full=tuple(out["full"]),
        cases=tuple(out["cases"]),
    )


def _arrival(
    raw: bytes, part: str, origin: Any, prefixes: dict[tuple[str, str], bytes]
) -> str | None:
    """The record digest of a feed record's bytes as they arrived, when its line is
    ``{"o":ORIGIN,"part":PART,"r":RECORD}`` exactly (RECORD's bytes are then what
    the line's ``r`` parses to)."""
    if type(origin) is not str:
        return None
    head = prefixes.get((origin, part))
    if head is None:
        head = prefixes[(origin, part)] = (
            _origin_prefix(origin) + b'"part":"' + part.encode() + b'","r":'
        )
    if not (raw.startswith(head) and raw.endswith(b"}")):
        return None
    return hashlib.sha256(raw[len(head) : -1]).hexdigest()[:DIGEST_HEX]


def _text(v: Any, limit: int, what: str, line: int) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) > limit or any(ord(c) < 0x20 for c in v):
        raise DeltaError(f"line {line}: {what} must be a text of at most {limit} characters")
    return v


def _record(
    r: Any,
    part: str,
    signer: str,
    with_origin: bool,
    *,
    line: int,
    outer: dict[str, Any] | None = None,
    at: str | None = None,
) -> WireRecord:
    """``outer``: the line's object; a feed names a record's origin there (``o``
    beside ``r``) or, as written before, in the record. ``at``: its ``arrived_as``."""
    if not isinstance(r, dict):
        raise DeltaError(f"line {line}: record must be an object")
    rid, skey, version = r.get("id"), r.get("s"), r.get("v")
    if type(rid) is not str or not _ID.match(rid):
        raise DeltaError(f"line {line}: record id {str(rid)[:40]!r} is not a valid id")
    if type(skey) is not str or not _ID.match(skey):
        raise DeltaError(f"line {line}: series key of {rid} is not a valid id")
    if type(version) is not int or not 0 < version < 2**62:
        raise DeltaError(f"line {line}: version of {rid} must be a positive integer")
    beside = outer is not None and "o" in outer
    if not with_origin and ("o" in r or beside):
        raise DeltaError(f"line {line}: record {rid} names an origin: only its signer may")
    if beside and "o" in r:
        raise DeltaError(f"line {line}: record {rid} names its origin twice")
    origin = (outer["o"] if beside and outer else r.get("o", signer)) if with_origin else signer
    if not isinstance(origin, str) or not origin or len(origin) > 200:
        raise DeltaError(f"line {line}: record {rid} has no valid origin")
    kind = _PART_KIND[part]
    if kind == CASE and with_origin:
        raise DeltaError(f"line {line}: a feed carries no cases")
    if r.get("d") is True:
        hidden = r.get("h") is True
        if hidden and not with_origin:
            raise DeltaError(f"line {line}: record {rid}: only a hub's feed hides records")
        if set(r) - _KNOWN - ({"h"} if hidden else set()):
            raise DeltaError(f"line {line}: deleted record {rid} carries more than its key")
        return WireRecord(
            origin, rid, kind, skey, version, True, None, hidden=hidden, arrived_as=at
        )
    # the line's own object (parsed for this record alone) becomes the payload
    payload = r
    for k in _KNOWN:
        payload.pop(k, None)
    salt = payload.pop("n", None)
    if kind == MEDIA:
        _media_payload(payload, rid, line)
    else:
        {SERIES: _series_payload, CASE: _case_payload}.get(kind, _full_payload)(payload, rid, line)
    if salt is not None and (type(salt) is not str or _SALT.fullmatch(salt) is None):
        raise DeltaError(f"line {line}: record {rid} salt must be {SALT_HEX} hex digits")
    return _received(origin, rid, kind, skey, version, payload=payload, salt=salt, arrived_as=at)


_SALT = re.compile(f"[0-9a-f]{{{SALT_HEX}}}")


def _received(
    origin: str,
    origin_id: str,
    kind: int,
    series_key: str,
    version: int,
    *,
    payload: dict[str, Any],
    salt: str | None,
    arrived_as: str | None,
) -> WireRecord:
    """``WireRecord(origin, origin_id, kind, series_key, version, False, payload,
    salt, arrived_as=arrived_as)`` with its fields set at once: a frozen dataclass's
    ``__init__`` sets each through ``object.__setattr__``, a twentieth of a node's
    CPU in a full pull (one live record a line). ``tests/exchange/test_delta.py``
    checks it against the constructor, field by field."""
    r = object.__new__(WireRecord)
    r.__dict__.update(
        origin=origin,
        origin_id=origin_id,
        kind=kind,
        series_key=series_key,
        version=version,
        deleted=False,
        payload=payload,
        salt=salt,
        hidden=False,
        arrived_as=arrived_as,
    )
    return r


def _case_payload(p: dict[str, Any], rid: str, line: int) -> None:
    if set(p) - {"level", "owner", "grants", "number", "tokens"}:
        raise DeltaError(f"line {line}: case {rid} has unknown fields")
    if not re.match(r"^c\d+$", rid):
        raise DeltaError(f"line {line}: case id {rid[:40]!r} must be c<number>")
    if p.get("level") not in _RANK:
        raise DeltaError(f"line {line}: case {rid} level must be none, hash, status or full")
    if "grants" in p:
        _grants(p["grants"], rid, line)
    owner = p.get("owner")
    if not isinstance(owner, dict) or set(owner) - set(_OWNER) or not owner.get("code"):
        raise DeltaError(f"line {line}: case {rid} must name its owner agency (code)")
    for k, limit in _OWNER.items():
        _text(owner.get(k), limit, f"owner {k}", line)
    _text(p.get("number"), 100, "case number", line)
    if "number" in p and _RANK[best_level(p)] < _RANK["status"]:
        raise DeltaError(f"line {line}: case {rid} names its number below status")
    tokens = p.get("tokens")
    if (
        not isinstance(tokens, list)
        or not 0 < len(tokens) <= MAX_CASE_TOKENS
        or not all(isinstance(x, str) and len(x) == DIGEST_HEX and _HEX.match(x) for x in tokens)
    ):
        raise DeltaError(f"line {line}: case {rid} tokens must be 1-{MAX_CASE_TOKENS} digests")


def _full_payload(p: dict[str, Any], rid: str, line: int) -> None:
    try:
        fullrecord.check(p, rid)
    except fullrecord.FullRecordError as exc:
        raise DeltaError(f"line {line}: {exc.message}") from None


def _attest(a: Any, *, line: int) -> Attest:
    if not isinstance(a, dict) or set(a) != {"o", "manifest", "signature"}:
        raise DeltaError(f"line {line}: attestation must be an object of o, manifest, signature")
    if not all(isinstance(v, str) and v for v in a.values()):
        raise DeltaError(f"line {line}: attestation fields must be texts")
    return Attest(a["o"], a["manifest"], a["signature"])


def check_notice_body(b: Any, *, line: int) -> None:
    """A notice body names only what the recipient already owns (its series key and
    media keys), how many files, how and when they were found, and the finder."""
    where = f"line {line}: " if line else ""
    if isinstance(b, dict) and b.get("kind") == CASE_OVERLAP:
        _check_case_overlap(b, where, line)
        return
    allowed = {"id", "from", "to", "series", "media", "files", "via", "at", "finder"}
    if not isinstance(b, dict) or set(b) - allowed:
        raise DeltaError(f"{where}notice must be an object of {', '.join(sorted(allowed))}")
    for k in ("id", "series"):
        if not isinstance(b.get(k), str) or not _ID.match(b[k]):
            raise DeltaError(f"{where}notice {k} is not a valid id")
    for k in ("from", "to"):
        if not isinstance(b.get(k), str) or not 0 < len(b[k]) <= 200:
            raise DeltaError(f"{where}notice {k} must name a node")
    media = b.get("media")
    if (
        not isinstance(media, list)
        or not 0 < len(media) <= MAX_NOTICE_MEDIA
        or not all(isinstance(m, str) and _ID.match(m) for m in media)
    ):
        raise DeltaError(f"{where}notice media must be 1-{MAX_NOTICE_MEDIA} record ids")
    files = b.get("files")
    if not isinstance(files, int) or isinstance(files, bool) or not 0 < files < 2**31:
        raise DeltaError(f"{where}notice files must be a positive integer")
    if b.get("via") not in VIAS:
        raise DeltaError(f"{where}notice via must be one of {', '.join(VIAS)}")
    _text(b.get("at"), 40, "notice at", line)
    finder = b.get("finder")
    if not isinstance(finder, dict) or set(finder) - {"code", "country"} or not finder.get("code"):
        raise DeltaError(f"{where}notice must name the finder agency (code, country)")
    _text(finder.get("code"), 32, "finder code", line)
    _text(finder.get("country"), 2, "finder country", line)


def _check_case_overlap(b: dict[str, Any], where: str, line: int) -> None:
    """A hub's notice that the recipient's case shares files with another node's case:
    the recipient's own case key, how many files, when, and what the other case's
    sharing level lets its owner be told (``other``)."""
    allowed = {"id", "kind", "from", "to", "case", "files", "at", "other"}
    if set(b) - allowed:
        raise DeltaError(f"{where}case-overlap notice must be an object of {sorted(allowed)}")
    for k in ("id", "case"):
        if not isinstance(b.get(k), str) or not _ID.match(b[k]):
            raise DeltaError(f"{where}notice {k} is not a valid id")
    for k in ("from", "to"):
        if not isinstance(b.get(k), str) or not 0 < len(b[k]) <= 200:
            raise DeltaError(f"{where}notice {k} must name a node")
    files = b.get("files")
    if not isinstance(files, int) or isinstance(files, bool) or not 0 < files < 2**31:
        raise DeltaError(f"{where}notice files must be a positive integer")
    _text(b.get("at"), 40, "notice at", line)
    other = b.get("other")
    limits = {"agency": 32, "country": 2, "case": 100, "contact": 1000, "node": 200}
    if not isinstance(other, dict) or set(other) - set(limits):
        raise DeltaError(f"{where}case-overlap notice: other must be an object of {sorted(limits)}")
    for k, limit in limits.items():
        _text(other.get(k), limit, f"other {k}", line)


def _notice(n: Any, signer: str, with_origin: bool, *, line: int) -> Notice:
    if not isinstance(n, dict) or set(n) != {"id", "body", "sig"}:
        raise DeltaError(f"line {line}: notice must be an object of id, body, sig")
    body, sig = n["body"], n["sig"]
    check_notice_body(body, line=line)
    if not isinstance(sig, str) or body["id"] != n["id"]:
        raise DeltaError(f"line {line}: notice {str(n['id'])[:40]!r} is not signed")
    if not with_origin and body["from"] != signer:
        raise DeltaError(
            f"line {line}: notice {body['id']} of {body['from']} in a delta of {signer}"
        )
    return Notice(body["id"], body["from"], body["to"], body, sig)


_RANK = {"none": 0, "hash": 1, "status": 2, "full": 3}


def best_level(p: Mapping[str, Any]) -> str:
    """The highest level a series payload gives anyone (network or a listed grantee)."""
    levels = [str(p.get("level", "none"))]
    for g in (p.get("grants") or {}).values():
        levels.extend(str(v) for v in g.values())
    return max(levels, key=lambda x: _RANK.get(x, 0))


def _grants(g: Any, rid: str, line: int) -> None:
    if not isinstance(g, dict) or set(g) - {"country", "agency"}:
        raise DeltaError(f"line {line}: series {rid} grants must map country / agency")
    for scope, to in g.items():
        limit = 2 if scope == "country" else 32
        if not isinstance(to, dict) or len(to) > 1000:
            raise DeltaError(f"line {line}: series {rid} {scope} grants must be a map")
        for who, level in to.items():
            if not isinstance(who, str) or not 0 < len(who) <= limit or level not in _RANK:
                raise DeltaError(f"line {line}: series {rid} has an invalid {scope} grant")


def _series_payload(p: dict[str, Any], rid: str, line: int) -> None:
    allowed = {"level", "owner", "grants", *_SERIES_TEXT, *_SERIES_FLAGS, "category"}
    if extra := set(p) - allowed:
        raise DeltaError(f"line {line}: series {rid} has unknown fields {sorted(extra)}")
    if "grants" in p:
        _grants(p["grants"], rid, line)
    if p.get("level") not in LEVELS and not (p.get("level") == "none" and "grants" in p):
        raise DeltaError(f"line {line}: series {rid} level must be one of {', '.join(LEVELS)}")
    if best_level(p) == "none":
        raise DeltaError(f"line {line}: series {rid} is shared with nobody (send a deletion)")
    owner = p.get("owner")
    if not isinstance(owner, dict) or set(owner) - set(_OWNER) or not owner.get("code"):
        raise DeltaError(f"line {line}: series {rid} must name its owner agency (code)")
    for k, limit in _OWNER.items():
        _text(owner.get(k), limit, f"owner {k}", line)
    for k, limit in _SERIES_TEXT.items():
        _text(p.get(k), limit, k, line)
    for k in _SERIES_FLAGS:
        if k in p and not isinstance(p[k], bool):
            raise DeltaError(f"line {line}: series {rid} {k} must be true or false")
    cat = p.get("category")
    if cat is not None and (not isinstance(cat, int) or isinstance(cat, bool)):
        raise DeltaError(f"line {line}: series {rid} category must be an integer")
    if best_level(p) == "hash" and set(p) - {"level", "owner", "grants"}:
        raise DeltaError(f"line {line}: series {rid} shared at hash carries status fields")


_KNOWN = frozenset({"id", "s", "v", "o", "d"})
_MEDIA_FIELDS = frozenset({*_DIGESTS, "kind"})
_HEX_OF = {k: re.compile(f"[0-9a-f]{{{n}}}") for k, n in _DIGESTS.items()}


def _media_payload(p: dict[str, Any], rid: str, line: int) -> None:
    # the hot path of a full pull (one call per media record): set and regex checks
    if not p.keys() <= _MEDIA_FIELDS:
        extra = set(p) - _MEDIA_FIELDS
        raise DeltaError(f"line {line}: record {rid} has unknown fields {sorted(extra)}")
    if not (p.get("sha256") or p.get("pdq") or p.get("md5") or p.get("sha1")):
        raise DeltaError(f"line {line}: record {rid} has no hash")
    for k, v in p.items():
        if k == "kind" or v is None:
            continue
        if type(v) is not str or _HEX_OF[k].fullmatch(v) is None:
            n = _DIGESTS[k]
            raise DeltaError(f"line {line}: record {rid} {k} must be {n} lower-case hex digits")
    if p.get("kind", "other") not in _KINDS:
        raise DeltaError(f"line {line}: record {rid} kind must be one of {', '.join(_KINDS)}")


__all__ = [
    "CASE",
    "CASE_OVERLAP",
    "FULL",
    "KINDS",
    "LEVELS",
    "MEDIA",
    "SERIES",
    "Attest",
    "DeltaError",
    "Notice",
    "SignedBundle",
    "WireRecord",
    "attest_from_json",
    "attested",
    "best_level",
    "check_notice_body",
    "notice_text",
    "peek_header",
    "peek_origin",
    "read",
    "record_digest",
    "sign_notice",
    "split_bundles",
    "verify_notice",
    "write",
]
