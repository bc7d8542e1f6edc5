"""Federation, the hub's side: its log of accepted deltas and the feed pages it serves.

**The hub** (``tessera serve --hub``) verifies each delta (signature by the node's
registered key, counts and checksums, numbering without gaps) and rejects a bad one
whole, saying why; it appends one leaf per accepted delta to its RFC 9162 log
(``tessera.audit.merkle``), signs a C2SP checkpoint of the new tree with its key
(``tessera.audit.checkpoint``) and stores the records at their newest version, a
revocation keeping only the record's key.

A pulling node reads feed pages: the records changed in whole log entries after its
cursor, up to a checkpoint, each page signed by the hub, with what of each series
that node may receive (``tessera.app.federation.audience``).
"""

from __future__ import annotations

from typing import Any

from tessera import gcpause
from tessera.app.context import App
from tessera.app.federation import cases, notices
from tessera.app.federation.audience import audience_of
from tessera.app.federation.peers import peer_verifier, signer_of
from tessera.app.federation.wire import incoming, to_wire
from tessera.app.results import Result
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import canonical_json
from tessera.audit.merkle import consistency_proof, inclusion_proof, leaf_hash, root_of
from tessera.audit.note import Verifier
from tessera.errors import InvalidInput, NotFound
from tessera.exchange import delta
from tessera.exchange.delta import CASE_OVERLAP, FULL, MEDIA, DeltaError, attest_from_json
from tessera.storage.db import Session
from tessera.storage.federation import feed as feed_store
from tessera.storage.federation import log as log_store
from tessera.storage.federation import peers as peers_store
from tessera.storage.federation import records as records_store
from tessera.storage.models import FedLogEntry

FEED_PAGE_RECORDS = 50_000


LOG_SUFFIX = "/federation"


def leaf_bytes(seq: int, origin: str, delta_no: int, sha256: str, records: int) -> bytes:
    return canonical_json(
        {
            "v": 1,
            "seq": seq,
            "origin": origin,
            "delta": delta_no,
            "sha256": sha256,
            "records": records,
        }
    )


class DeltaAccepted(Result):
    """The hub's answer to a delta: where its log holds it, and proofs of that."""

    status: str
    """``accepted``, or ``duplicate`` when this exact delta was accepted before."""
    origin: str
    delta_no: int
    sha256: str
    records: int
    seq: int
    checkpoint: str
    """The hub's signed checkpoint of its log now."""
    inclusion: tuple[str, ...]
    """Hex RFC 9162 inclusion proof of the delta's leaf in that checkpoint's tree."""
    consistency: tuple[str, ...] = ()
    """Hex consistency proof from the size the node said it holds."""


def _verifier_for(s: Session, kind: str) -> Any:
    def find(origin: str) -> Verifier | None:
        p = peers_store.peer_by_origin(s, origin)
        return peer_verifier(p) if p is not None else None

    return find


def _proofs(s: Session, seq: int, size: int, since: int) -> tuple[list[bytes], list[bytes]]:
    leaves = log_store.log_leaves(s)[:size]
    inc = inclusion_proof(leaves, seq - 1) if seq else []
    con = consistency_proof(leaves, since) if 0 < since < size else []
    return inc, con


def _latest(s: Session) -> FedLogEntry:
    last = log_store.last_log_entry(s)
    if last is None:
        raise NotFound("the hub's log is empty")
    return last


def accept_delta(app: App, data: bytes, *, since: int = 0) -> DeltaAccepted:
    """Hub: verify a node's delta and append it to the log (all or nothing)."""
    with gcpause.paused():
        return _accept_delta(app, data, since=since)


def _accept_delta(app: App, data: bytes, *, since: int) -> DeltaAccepted:
    hub = signer_of(app)
    with app.db.write_session() as s:
        bundle = delta.read(data, _verifier_for(s, "delta"))
        if bundle.kind != "federation-delta":
            raise DeltaError(f"a hub accepts deltas, not a {bundle.kind}")
        no = bundle.header.get("delta_no")
        if not isinstance(no, int) or isinstance(no, bool) or no < 1:
            raise DeltaError("delta has no valid delta_no in its header")
        seen = log_store.log_entry(s, bundle.origin, no)
        if seen is not None:
            if seen.sha256 != bundle.sha256:
                raise DeltaError(
                    f"delta {no} of {bundle.origin} was accepted before with other content"
                )
            last = _latest(s)
            inc, con = _proofs(s, int(seen.seq), int(last.seq), since)
            return _answer("duplicate", seen, last, inc, con)
        expected = log_store.last_delta_of(s, bundle.origin) + 1
        if no != expected:
            raise DeltaError(f"delta {no} of {bundle.origin} out of order: expected {expected}")
        leaves = log_store.log_leaves(s)
        seq = len(leaves) + 1
        leaf = leaf_hash(leaf_bytes(seq, bundle.origin, no, bundle.sha256, bundle.count))
        leaves.append(leaf)
        root = root_of(leaves)
        note = Checkpoint(hub.name + LOG_SUFFIX, seq, root).sign(hub)
        entry = FedLogEntry(
            seq=seq,
            origin=bundle.origin,
            delta_no=no,
            sha256=bundle.sha256,
            records=bundle.count,
            leaf_hash=leaf,
            root=root,
            note=note,
            attest=bundle.attest.to_json() if bundle.attest else None,
        )
        log_store.append_log(s, entry)
        if any(n.body.get("kind") == CASE_OVERLAP for n in bundle.notices):
            raise DeltaError(f"delta {no} of {bundle.origin}: only a hub raises case overlaps")
        records_store.upsert_records(s, incoming(bundle.all_records, salted=True), seq)
        from tessera.storage.models import utcnow  # noqa: PLC0415

        found = cases.match(s, hub, bundle.origin, bundle.cases, utcnow())
        notices.keep_on_hub(s, [*bundle.notices, *found], seq)
        node = peers_store.peer_by_origin(s, bundle.origin)
        told = bundle.header.get("feed_after")
        if node is not None and isinstance(told, int) and told > int(node.feed_after or 0):
            node.feed_after = min(told, seq)  # air-gapped: what the node holds of our feed
        inc = inclusion_proof(leaves, seq - 1)
        con = consistency_proof(leaves, since) if 0 < since < seq else []
        return _answer("accepted", entry, entry, inc, con)


def _answer(
    status_: str, entry: FedLogEntry, last: FedLogEntry, inc: list[bytes], con: list[bytes]
) -> DeltaAccepted:
    return DeltaAccepted(
        status=status_,
        origin=entry.origin,
        delta_no=int(entry.delta_no),
        sha256=entry.sha256,
        records=int(entry.records),
        seq=int(entry.seq),
        checkpoint=last.note,
        inclusion=tuple(h.hex() for h in inc),
        consistency=tuple(h.hex() for h in con),
    )


class HubCheckpoint(Result):
    checkpoint: str | None
    size: int
    consistency: tuple[str, ...]
    last_delta: int
    """The last delta of the asking node the hub accepted."""


def hub_checkpoint(app: App, origin: str, since: int) -> HubCheckpoint:
    with app.transaction() as s:
        last = log_store.last_log_entry(s)
        size = int(last.seq) if last else 0
        if since > size:
            raise InvalidInput(f"the log has {size} entries, not {since}")
        con: list[bytes] = []
        if last is not None and 0 < since < size:
            con = consistency_proof(log_store.log_leaves(s), since)
        return HubCheckpoint(
            checkpoint=last.note if last else None,
            size=size,
            consistency=tuple(h.hex() for h in con),
            last_delta=log_store.last_delta_of(s, origin),
        )


def feed_page(
    app: App,
    origin: str,
    after: int,
    upto: int,
    *,
    limit: int = FEED_PAGE_RECORDS,
    with_log: bool = False,
) -> bytes:
    """Hub: one signed page of the records changed in log entries after ``after``."""
    with gcpause.paused():
        return _feed_page(app, origin, after, upto, limit=limit, with_log=with_log)


def _feed_page(
    app: App, origin: str, after: int, upto: int, *, limit: int, with_log: bool
) -> bytes:
    hub = signer_of(app)
    with app.transaction() as s:
        last = log_store.last_log_entry(s)
        size = int(last.seq) if last else 0
        if not 0 <= after <= upto <= size:
            raise InvalidInput(f"feed range {after}..{upto} outside the log (size {size})")
        end = feed_store.feed_pages(s, after, upto, limit)
        series, media = feed_store.feed_records(s, after, end, origin)
        series, media = audience_of(peers_store.peer_by_origin(s, origin), series, media)
        told = notices.for_node(s, origin, after, end)
        # the origins' signed manifests of every record here, and their keys
        attests = [
            attest_from_json(a)
            for a in log_store.attests_of(s, {r.log_seq for r in series + media})
        ]
        senders = {r.origin for r in series + media} | {n.sender for n in told}
        header: dict[str, Any] = {
            "for": origin,
            "after": after,
            "end": end,
            "upto": upto,
            "last_delta": log_store.last_delta_of(s, origin),
            "records": len(series) + len(media),
            "keys": peers_store.origin_keys(s, senders),
        }
        if with_log and upto:
            entry = log_store.log_entry_at(s, upto)
            assert entry is not None
            header["checkpoint"] = entry.note
            header["log"] = [h.hex() for h in log_store.log_leaves(s)[:upto]]
        return delta.write(
            "federation-feed",
            hub,
            to_wire(series),
            to_wire([r for r in media if r.kind == MEDIA]),
            header=header,
            notices=told,
            attests=attests,
            full=to_wire([r for r in media if r.kind == FULL]),
        )


def checkpoint_note_of(app: App) -> str | None:
    with app.transaction() as s:
        last = log_store.last_log_entry(s)
        return last.note if last else None


__all__ = [
    "FEED_PAGE_RECORDS",
    "LOG_SUFFIX",
    "DeltaAccepted",
    "HubCheckpoint",
    "accept_delta",
    "checkpoint_note_of",
    "feed_page",
    "hub_checkpoint",
    "leaf_bytes",
]
