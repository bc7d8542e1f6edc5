"""Federation: national nodes share with a hub what their sharing rules allow, and
receive what the others share, without trusting the hub blindly.

**A node** computes what changed in what it shares with the network (each series
of its own agencies at its network-wide level, ``status`` by default; ``none``
shares nothing) since what it last sent, as versioned records keyed by (this
node, origin id): a series (level, owner agency and contact, status when shared at
``status`` or more) and each of its media (hashes only). A series set back to
``none``, or a media item unlinked, travels as a deletion. The changes are written
as signed deltas (``tessera.exchange.delta``) into an outbox *in the same
transaction* that records them as sent, then sent byte for byte until the hub
acknowledges them: a kill at any point resends the same delta, which the hub
recognises (same origin, number and SHA-256) and does not apply twice.

**The hub** (``tessera serve --hub``) verifies each delta (signature by the node's
registered key, counts and checksums, numbering without gaps) and rejects a bad one
whole, saying why; it appends one leaf per accepted delta to its RFC 9162 log
(``tessera.audit.merkle``), signs a C2SP checkpoint of the new tree with its key
(``tessera.audit.checkpoint``) and stores the records at their newest version, a
revocation keeping only the record's key.

**Pulling**, a node first takes the hub's newest checkpoint with a consistency
proof from the last one it accepted, and refuses a hub whose log is not an
extension of it (rewritten or truncated history). It then reads feed pages (the
records changed in whole log entries after its cursor, up to that checkpoint),
each signed by the hub, and applies each page and its cursor in one transaction:
a kill then a resync continues where the last committed page ended, and versions
make a re-applied record a no-op.

Received records become local: an agency standing for the owner (with its
contact), a series ``NAME @node`` owned by it with the network-wide grant at the
level the origin shared (so lookup and triage show it to local callers as that
level allows), and the media as hash-only media (or linked to the local media with
those digests).

**Grants to listed countries and agencies travel.** A series record carries its
network level and its grants to countries / agencies (``grants``); a series shared
with nobody on the network is not sent (a deletion when it was). The hub forwards a
series and its media only to nodes whose country / agencies (``tessera peer add
... --country CC --agency CODE`` on the hub: the hub's operator says whom a node
serves, not the node) some grant names, and sends the others a deletion (key and
version only); each node enforces it again, keeping only the grants that name its
own agencies' countries and codes, and its visibility rules then show the series
to each local caller at the most specific level. When a series' audience changes its
media are sent again (their sent digest includes the audience), so a node newly
named receives them. Limits: a node in the audience stores the status fields
(name, flags) when any grantee gets ``status``, even if its own callers see only
``hash`` (its rules never show them).

**At ``full``** a series also carries what a local ``full`` series shows (victims,
offenders, locations, metadata, OCR text, markers) in records of their own, which
the hub forwards only to nodes some grant gives ``full``
(``tessera.app.federation_full``).

**Not trusting the hub with the records.** Every live record must be one its
origin signed (``tessera.exchange.delta``: the origin's signed manifest lists each
record's digest and is forwarded with it), checked with the origin's key as this
node registered it or first saw it (pinned; another key later is refused).
Deletions too: a hub cannot delete or downgrade another node's record. What a hub
says alone is only that a whole series is not for this node (whom a node serves
is its operator's call, and a hub can always withhold); hiding part of a series
the origin's signed record gives this node is refused (``_check_attested``).

Air-gapped, ``tessera sync --export`` writes the same signed bundles to a file and
``--import`` applies them: a hub accepts the deltas in it, a node the feed pages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tessera import gcpause
from tessera.app import audit, delivery
from tessera.app import federation_cases as cases
from tessera.app import federation_full as full_view
from tessera.app import federation_notices as notices
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import require_role
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import canonical_json
from tessera.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tessera.audit.note import NoteError, Signer, Verifier, open_note, parse_note, sign_note
from tessera.errors import ConfigError, InvalidInput, NotFound, Unauthenticated
from tessera.exchange import delta
from tessera.exchange.delta import (
    CASE,
    CASE_OVERLAP,
    FULL,
    MEDIA,
    SERIES,
    DeltaError,
    SignedBundle,
    WireRecord,
    attest_from_json,
)
from tessera.storage import bulk_load
from tessera.storage import federation as store
from tessera.storage.db import Session
from tessera.storage.models import FedLogEntry, FedPeer

MAX_DELTA_RECORDS = 20_000
"""Records per delta: a delta is held in memory and posted whole."""
FEED_PAGE_RECORDS = 50_000
REQUEST_SKEW_S = 300
_PEER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_RECORD_ID = re.compile(r"^(s\d+)(m\d+)?(f)?$")
LOG_SUFFIX = "/federation"


class HubRefused(InvalidInput):
    """The hub's log is not an extension of the one we accepted, or its answer does
    not verify: nothing it sent is applied."""

    reason = "hub-refused"


# -- identity and peers -----------------------------------------------------------------------


def signer_of(app: App) -> Signer:
    signer = audit.node_signer(app)
    if signer is None:
        raise ConfigError("this node has no key yet: run `tessera init` first")
    return signer


class PeerInfo(Result):
    name: str
    url: str | None
    key: str
    origin: str
    checkpoint_size: int
    """Size of the newest log checkpoint of this peer we verified and accepted."""
    feed_after: int
    """Our feed cursor in its log (log entries applied)."""
    last_delta: int
    """The last of our deltas it accepted (as hub: the last it sent us)."""
    synced_at: Timestamp | None
    country: str | None = None
    """On a hub: the country this node serves (series shared with it reach it)."""
    agencies: tuple[str, ...] = ()
    """On a hub: the agency codes this node serves."""


def _info(p: FedPeer) -> PeerInfo:
    return PeerInfo(
        name=p.name,
        url=p.url,
        key=p.verifier,
        origin=p.origin,
        checkpoint_size=int(p.checkpoint_size or 0),
        feed_after=int(p.feed_after or 0),
        last_delta=int(p.last_delta or 0),
        synced_at=p.synced_at,
        country=p.country,
        agencies=tuple(p.agencies or ()),
    )


def _require_admin(caller: Caller) -> None:
    if not caller.is_local_operator:
        require_role(caller, Role.ADMIN)


@retried
def add_peer(
    app: App,
    caller: Caller,
    name: str,
    url: str | None,
    key: str,
    *,
    country: str | None = None,
    agencies: Iterable[str] = (),
) -> PeerInfo:
    """Register a hub or node by name, URL and Ed25519 verifier key; on a hub, the
    country and agencies a node serves (what series shared with them it receives)."""
    _require_admin(caller)
    if not _PEER_NAME.match(name):
        raise InvalidInput(f"peer name {name!r} must be 1-64 letters, digits, '.', '_', '-'")
    if country is not None and not re.match(r"^[A-Z]{2}$", country.upper()):
        raise InvalidInput(f"country {country!r} must be a two-letter ISO code")
    codes = sorted({a.strip() for a in agencies if a.strip()})
    if any(len(a) > 32 for a in codes):
        raise InvalidInput("agency codes are at most 32 characters")
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        raise InvalidInput(f"peer URL {url!r} must start with http:// or https://")
    verifier = Verifier.parse(key)
    with app.transaction() as s:
        me = audit.node_signer(app)
        if me is not None and me.verifier.text() == verifier.text():
            raise InvalidInput("that key is this node's own key")
        peer = store.add_peer(
            s, name, url.rstrip("/") if url else None, verifier.text(), verifier.name
        )
        peer.country = country.upper() if country else None
        peer.agencies = codes or None
        audit.record_in(
            s,
            app,
            caller,
            "federation.peer.add",
            target=f"peer:{name}",
            params={"url": url, "key": verifier.text(), "country": country, "agencies": codes},
        )
        return _info(peer)


def list_peers(app: App, caller: Caller) -> tuple[PeerInfo, ...]:
    _require_admin(caller)
    with app.transaction() as s:
        return tuple(_info(p) for p in store.list_peers(s))


@retried
def remove_peer(app: App, caller: Caller, name: str) -> PeerInfo:
    _require_admin(caller)
    with app.transaction() as s:
        info = _info(store.get_peer(s, name))
        store.remove_peer(s, name)
        audit.record_in(s, app, caller, "federation.peer.remove", target=f"peer:{name}")
        return info


class FederationStatus(Result):
    node: str
    """This node's key name: the origin of what it shares."""
    key: str
    """This node's verifier key (give it to the hub: ``tessera peer add``)."""
    peers: tuple[PeerInfo, ...]
    pending_deltas: int
    """Signed deltas prepared but not yet accepted by the hub."""
    pending_records: int
    unsent_changes: int
    """Changes to what this node shares not yet prepared as deltas (next sync sends them)."""
    unsent_notices: int = 0
    """Blind-hit notices to other nodes not yet carried by a delta (next sync sends them)."""
    shared_records: int
    """Own records last sent as live (series and media)."""
    received_records: dict[str, int]
    """Live records of other nodes held here, per origin."""
    hub_log_size: int
    """As a hub: entries (accepted deltas) in its log."""
    hub_checkpoint: str | None


def status(app: App, caller: Caller) -> FederationStatus:
    _require_admin(caller)
    me = signer_of(app)
    with app.transaction() as s:
        deltas, records = store.outbox_summary(s)
        sent = store.sent_state(s)
        last = store.last_log_entry(s)
        received = store.count_records(s)
        unsent, _ = _changes(s, me.name, sent)
        return FederationStatus(
            node=me.name,
            key=me.verifier.text(),
            peers=tuple(_info(p) for p in store.list_peers(s)),
            pending_deltas=deltas,
            pending_records=records,
            unsent_changes=len(unsent),
            unsent_notices=len(notices.pending(s, me.name)),
            shared_records=sum(1 for _, _, d in sent.values() if not d),
            received_records={o: n for o, n in received.items() if o != me.name},
            hub_log_size=int(last.seq) if last else 0,
            hub_checkpoint=last.note if last else None,
        )


def _peer_verifier(p: FedPeer) -> Verifier:
    return Verifier.parse(p.verifier)


# -- a node: what it shares --------------------------------------------------------------------


def _series_payload(se: store.SharedSeries) -> dict[str, Any]:
    owner = {"code": se.code, "country": se.country, "name": se.agency_name[:200]}
    if se.contact:
        owner["contact"] = se.contact[:1000]
    p: dict[str, Any] = {"level": se.level, "owner": owner}
    grants = {scope: dict(sorted(g.items())) for scope, g in sorted(se.grants.items()) if g}
    if grants:
        p["grants"] = grants
    if _RANK[delta.best_level(p)] >= _RANK["status"]:
        p["name"] = se.name
        for k in ("victim_identified", "offender_identified", "baseline"):
            if getattr(se, k):
                p[k] = True
        if se.category is not None:
            p["category"] = se.category
            if se.category_profile:
                p["category_profile"] = se.category_profile
    return p


_RANK = {"none": 0, "hash": 1, "status": 2, "full": 3}


def current_records(s: Session, origin: str) -> dict[str, WireRecord]:
    """Every series record this node shares with the network now, version 1 (renumbered
    by ``_changes``); its case records are ``cases.records``."""
    out: dict[str, WireRecord] = {}
    shared: list[int] = []
    full: list[int] = []
    for se in store.own_series(s):
        payload = _series_payload(se)
        best = delta.best_level(payload)
        if best == "none":
            continue
        key = f"s{se.id}"
        shared.append(se.id)
        if best == "full":
            full.append(se.id)
        out[key] = WireRecord(origin, key, SERIES, key, 1, False, payload)
    full_media: list[tuple[int, int]] = []
    wanted = set(full)
    for sid, mid, hashes in store.series_media_hashes(s, shared):
        key = f"s{sid}m{mid}"
        out[key] = WireRecord(origin, key, MEDIA, f"s{sid}", 1, False, hashes)
        if sid in wanted:
            full_media.append((sid, mid))
    out.update(full_view.records(s, origin, full, full_media))
    return out


def _audience(r: WireRecord | None) -> str:
    """Who a series reaches (network level and listed grantees): when it changes, its
    media are sent again, so a node newly in the audience receives them (the hub
    forwards a series' media only to nodes that may see the series)."""
    if r is None or r.payload is None:
        return ""
    p = r.payload
    return canonical_json({"level": p.get("level"), "grants": p.get("grants")}).decode()


def _changes(
    s: Session, origin: str, sent: dict[str, tuple[int, str, bool]]
) -> tuple[list[WireRecord], list[tuple[str, int, str, bool]]]:
    """What changed since the last send: new versions, and deletions of what is gone."""
    now = current_records(s, origin)
    changes: list[WireRecord] = []
    rows: list[tuple[str, int, str, bool]] = []
    for key, r in now.items():
        digest = r.digest()
        if r.kind in (MEDIA, FULL):
            who = _audience(now.get(r.series_key))
            digest = hashlib.sha256(f"{digest}:{who}".encode()).hexdigest()
        old = sent.get(key)
        if old is not None and old[1] == digest and not old[2]:
            continue
        v = old[0] + 1 if old else 1
        changes.append(replace(r, version=v))
        rows.append((key, v, digest, False))
    # case records: tokens are computed only for a case whose fingerprint changed
    case_now = cases.records(s, origin, sent)
    for key, (mark, case) in case_now.items():
        if case is None:
            continue
        old = sent.get(key)
        v = old[0] + 1 if old else 1
        changes.append(replace(case, version=v))
        rows.append((key, v, mark, False))
    for key, (v, _, deleted) in sent.items():
        if deleted or key in now or key in case_now:
            continue
        m = _RECORD_ID.match(key)
        skey = m.group(1) if m else key
        kind = SERIES if not m else FULL if m.group(3) else MEDIA if m.group(2) else SERIES
        if key.startswith("c"):
            kind = CASE
        gone = WireRecord(origin, key, kind, skey, v + 1, True, None)
        changes.append(gone)
        rows.append((key, v + 1, gone.digest(), True))
    return changes, rows


class Prepared(Result):
    deltas: int
    """Signed deltas now waiting for the hub (new and earlier ones)."""
    records: int
    new_deltas: int
    new_records: int


def prepare(app: App, caller: Caller, *, max_records: int = MAX_DELTA_RECORDS) -> Prepared:
    """Write what changed since the last send as signed deltas into the outbox."""
    _require_admin(caller)
    me = signer_of(app)
    with app.db.write_session() as s:
        sent = store.sent_state(s)
        changes, rows = _changes(s, me.name, sent)
        # series before their media; deletions of media before their series' deletion
        changes.sort(key=lambda r: (r.kind if not r.deleted else 1 - r.kind, r.origin_id))
        peers = store.list_peers(s)
        accepted = max((int(p.last_delta or 0) for p in peers), default=0)
        feed_after = max((int(p.feed_after or 0) for p in peers), default=0)
        new_deltas = 0
        told = notices.pending(s, me.name)
        chunks = [changes[i : i + max_records] for i in range(0, len(changes), max_records)]
        if told and not chunks:
            chunks = [[]]  # notices alone travel in a delta of their own
        for i, chunk in enumerate(chunks):
            no = store.next_delta_no(s, accepted)
            carry = told if i == 0 else []
            body = delta.write(
                "federation-delta",
                me,
                [r for r in chunk if r.kind == SERIES],
                [r for r in chunk if r.kind == MEDIA],
                header={"delta_no": no, "feed_after": feed_after},
                notices=carry,
                full=[r for r in chunk if r.kind == FULL],
                cases=[r for r in chunk if r.kind == CASE],
            )
            store.add_outbox(s, no, hashlib.sha256(body).hexdigest(), len(chunk), body)
            notices.carried(s, me.name, carry, no)
            accepted = no  # the next delta follows this one
            new_deltas += 1
        store.record_sent(s, rows, set(sent))
        deltas, records = store.outbox_summary(s)
        if changes:
            audit.record_in(
                s,
                app,
                caller,
                "federation.prepare",
                target=f"deltas:{new_deltas}",
                params={"max_records": max_records},
                result_count=len(changes),
            )
    return Prepared(deltas=deltas, records=records, new_deltas=new_deltas, new_records=len(changes))


def outbox(app: App) -> list[tuple[int, bytes]]:
    with app.transaction() as s:
        return [(int(o.delta_no), bytes(o.body)) for o in store.outbox(s)]


def _leaf_bytes(seq: int, origin: str, delta_no: int, sha256: str, records: int) -> bytes:
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


# -- the hub ---------------------------------------------------------------------------------


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
        p = store.peer_by_origin(s, origin)
        return _peer_verifier(p) if p is not None else None

    return find


def _proofs(s: Session, seq: int, size: int, since: int) -> tuple[list[bytes], list[bytes]]:
    leaves = store.log_leaves(s)[:size]
    inc = inclusion_proof(leaves, seq - 1) if seq else []
    con = consistency_proof(leaves, since) if 0 < since < size else []
    return inc, con


def _latest(s: Session) -> FedLogEntry:
    last = store.last_log_entry(s)
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
        seen = store.log_entry(s, bundle.origin, no)
        if seen is not None:
            if seen.sha256 != bundle.sha256:
                raise DeltaError(
                    f"delta {no} of {bundle.origin} was accepted before with other content"
                )
            last = _latest(s)
            inc, con = _proofs(s, int(seen.seq), int(last.seq), since)
            return _answer("duplicate", seen, last, inc, con)
        expected = store.last_delta_of(s, bundle.origin) + 1
        if no != expected:
            raise DeltaError(f"delta {no} of {bundle.origin} out of order: expected {expected}")
        leaves = store.log_leaves(s)
        seq = len(leaves) + 1
        leaf = leaf_hash(_leaf_bytes(seq, bundle.origin, no, bundle.sha256, bundle.count))
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
        store.append_log(s, entry)
        if any(n.body.get("kind") == CASE_OVERLAP for n in bundle.notices):
            raise DeltaError(f"delta {no} of {bundle.origin}: only a hub raises case overlaps")
        store.upsert_records(s, _incoming(bundle.all_records, salted=True), seq)
        from tessera.storage.models import utcnow  # noqa: PLC0415

        found = cases.match(s, hub, bundle.origin, bundle.cases, utcnow())
        notices.keep_on_hub(s, [*bundle.notices, *found], seq)
        node = store.peer_by_origin(s, bundle.origin)
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


def _incoming(records: Iterable[WireRecord], *, salted: bool = False) -> list[store.Incoming]:
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
        store.frozen(
            store.Incoming,
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


class HubCheckpoint(Result):
    checkpoint: str | None
    size: int
    consistency: tuple[str, ...]
    last_delta: int
    """The last delta of the asking node the hub accepted."""


def hub_checkpoint(app: App, origin: str, since: int) -> HubCheckpoint:
    with app.transaction() as s:
        last = store.last_log_entry(s)
        size = int(last.seq) if last else 0
        if since > size:
            raise InvalidInput(f"the log has {size} entries, not {since}")
        con: list[bytes] = []
        if last is not None and 0 < since < size:
            con = consistency_proof(store.log_leaves(s), since)
        return HubCheckpoint(
            checkpoint=last.note if last else None,
            size=size,
            consistency=tuple(h.hex() for h in con),
            last_delta=store.last_delta_of(s, origin),
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
        last = store.last_log_entry(s)
        size = int(last.seq) if last else 0
        if not 0 <= after <= upto <= size:
            raise InvalidInput(f"feed range {after}..{upto} outside the log (size {size})")
        end = store.feed_pages(s, after, upto, limit)
        series, media = store.feed_records(s, after, end, origin)
        series, media = _audience_of(store.peer_by_origin(s, origin), series, media)
        told = notices.for_node(s, origin, after, end)
        # the origins' signed manifests of every record here, and their keys
        attests = [
            attest_from_json(a) for a in store.attests_of(s, {r.log_seq for r in series + media})
        ]
        senders = {r.origin for r in series + media} | {n.sender for n in told}
        header: dict[str, Any] = {
            "for": origin,
            "after": after,
            "end": end,
            "upto": upto,
            "last_delta": store.last_delta_of(s, origin),
            "records": len(series) + len(media),
            "keys": store.origin_keys(s, senders),
        }
        if with_log and upto:
            entry = store.log_entry_at(s, upto)
            assert entry is not None
            header["checkpoint"] = entry.note
            header["log"] = [h.hex() for h in store.log_leaves(s)[:upto]]
        return delta.write(
            "federation-feed",
            hub,
            _wire(series),
            _wire([r for r in media if r.kind == MEDIA]),
            header=header,
            notices=told,
            attests=attests,
            full=_wire([r for r in media if r.kind == FULL]),
        )


def _audience_of(
    node: FedPeer | None,
    series: list[store.StoredRecord],
    media: list[store.StoredRecord],
) -> tuple[list[store.StoredRecord], list[store.StoredRecord]]:
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

    def hide(r: store.StoredRecord) -> store.StoredRecord:
        return replace(r, deleted=True, payload=None, hidden=True)

    def hidden(r: store.StoredRecord) -> bool:
        key = (r.origin, r.series_key)
        return not r.deleted and (key in gone or (r.kind == FULL and key in below_full))

    return (
        [hide(r) if (r.origin, r.origin_id) in gone else r for r in series],
        [hide(r) if hidden(r) else r for r in media],
    )


def _wire(rows: Sequence[store.StoredRecord]) -> list[WireRecord]:
    return [
        store.frozen(
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


# -- request signatures (node -> hub over HTTP) ------------------------------------------------


def request_text(origin: str, method: str, target: str, body: bytes, at: int) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"tessera-federation-request/1\n{origin}\n{method.upper()} {target}\n{digest}\n{at}\n"


def sign_request(app: App, method: str, target: str, body: bytes) -> str:
    """The ``X-Tessera-Signature`` header value: a signed note, newlines escaped."""
    me = signer_of(app)
    note = sign_note(request_text(me.name, method, target, body, int(time.time())), me)
    return note.encode().hex()


def authenticate_request(
    app: App, header: str | None, method: str, target: str, body: bytes
) -> str:
    """The origin of a signed request from a registered node, or ``Unauthenticated``."""
    if not header:
        raise Unauthenticated("federation requests must be signed by a registered node")
    try:
        note = bytes.fromhex(header).decode()
        text, _ = parse_note(note)
    except (ValueError, UnicodeDecodeError, NoteError):
        raise Unauthenticated("malformed request signature") from None
    lines = text.split("\n")
    if len(lines) != 6 or lines[0] != "tessera-federation-request/1":
        raise Unauthenticated("malformed request signature")
    origin = lines[1]
    with app.transaction() as s:
        peer = store.peer_by_origin(s, origin)
        if peer is None:
            raise Unauthenticated("request signed by an unknown node")
        verifier = _peer_verifier(peer)
    try:
        open_note(note, verifier)
    except NoteError:
        raise Unauthenticated("request signature does not verify") from None
    try:
        at = int(lines[4])
    except ValueError:
        raise Unauthenticated("malformed request signature") from None
    if abs(time.time() - at) > REQUEST_SKEW_S:
        raise Unauthenticated("request signature expired (clocks more than 5 minutes apart?)")
    if text != request_text(origin, method, target, body, at):
        raise Unauthenticated("request signature does not cover this request")
    return origin


# -- a node: checking the hub, applying what it sends ------------------------------------------


def _hub(s: Session, name: str | None) -> FedPeer:
    if name is not None:
        return store.get_peer(s, name)
    hubs = [p for p in store.list_peers(s) if p.url]
    if len(hubs) != 1:
        raise InvalidInput(
            "name the hub with --peer" if hubs else "no hub: tessera peer add NAME URL --key KEY"
        )
    return hubs[0]


def hub_peer(app: App, name: str | None) -> PeerInfo:
    with app.transaction() as s:
        return _info(_hub(s, name))


def accept_checkpoint(app: App, peer_name: str, note: str | None, proof: Sequence[str]) -> int:
    """Verify the hub's newest checkpoint against the last one accepted; store it.
    ``HubRefused`` (nothing stored) when the hub's log does not extend ours."""
    with app.db.write_session() as s:
        peer = store.get_peer(s, peer_name)
        return _accept_checkpoint(peer, note, proof)


def _accept_checkpoint(peer: FedPeer, note: str | None, proof: Sequence[str]) -> int:
    old_size = int(peer.checkpoint_size or 0)
    old_root = bytes(peer.checkpoint_root) if peer.checkpoint_root else EMPTY_ROOT
    if note is None:
        if old_size:
            raise HubRefused(f"hub {peer.name} says its log is empty; we hold {old_size} entries")
        return 0
    try:
        cp = Checkpoint.open(note, _peer_verifier(peer))
    except NoteError as exc:
        raise HubRefused(f"hub {peer.name}: checkpoint signature: {exc.message}") from None
    if cp.origin != peer.origin + LOG_SUFFIX:
        raise HubRefused(f"hub {peer.name}: checkpoint of another log ({cp.origin})")
    if cp.size < old_size:
        raise HubRefused(
            f"hub {peer.name} rewrote history: its log has {cp.size} entries, "
            f"it had {old_size} at the checkpoint we accepted"
        )
    try:
        verify_consistency(old_size, cp.size, old_root, cp.root, [bytes.fromhex(h) for h in proof])
    except (ProofError, ValueError) as exc:
        raise HubRefused(
            f"hub {peer.name} rewrote history: its log of {cp.size} entries is not an "
            f"extension of the {old_size} we accepted ({exc})"
        ) from None
    peer.checkpoint_size, peer.checkpoint_root, peer.checkpoint_note = cp.size, cp.root, note
    return cp.size


def _accept_logged_checkpoint(peer: FedPeer, note: str, log: list[Any]) -> None:
    """An air-gapped feed carries the log's leaf hashes: check them against the signed
    checkpoint and ours, as a consistency proof would."""
    try:
        leaves = [bytes.fromhex(str(h)) for h in log]
    except ValueError:
        raise HubRefused(f"hub {peer.name}: feed log hashes are not hex") from None
    old = int(peer.checkpoint_size or 0)
    if old > len(leaves):
        raise HubRefused(
            f"hub {peer.name} rewrote history: its log has {len(leaves)} entries, "
            f"it had {old} at the checkpoint we accepted"
        )
    if old and root_of(leaves[:old]) != bytes(peer.checkpoint_root or b""):
        raise HubRefused(
            f"hub {peer.name} rewrote history: its first {old} log entries are not the "
            "ones of the checkpoint we accepted"
        )
    try:
        cp = Checkpoint.open(note, _peer_verifier(peer))
    except NoteError as exc:
        raise HubRefused(f"hub {peer.name}: checkpoint signature: {exc.message}") from None
    if cp.size != len(leaves) or cp.root != root_of(leaves):
        raise HubRefused(f"hub {peer.name}: the feed's log does not give its signed checkpoint")
    proof = consistency_proof(leaves, old) if 0 < old < len(leaves) else []
    _accept_checkpoint(peer, note, [h.hex() for h in proof])


def delta_acknowledged(app: App, peer_name: str, body: bytes, answer: DeltaAccepted) -> None:
    """Node: check the hub's answer (checkpoint extends ours, our delta is in it) and
    drop the delta from the outbox."""
    with app.db.write_session() as s:
        peer = store.get_peer(s, peer_name)
        me = signer_of(app)
        sha = hashlib.sha256(body).hexdigest()
        _kind, origin = delta.peek_origin(body)
        if origin != me.name or answer.sha256 != sha or answer.origin != me.name:
            raise HubRefused(f"hub {peer.name} acknowledged another delta than the one sent")
        size = _accept_checkpoint(peer, answer.checkpoint, answer.consistency)
        leaf = leaf_hash(_leaf_bytes(answer.seq, me.name, answer.delta_no, sha, answer.records))
        try:
            verify_inclusion(
                answer.seq - 1,
                size,
                leaf,
                [bytes.fromhex(h) for h in answer.inclusion],
                bytes(peer.checkpoint_root or b""),
            )
        except (ProofError, ValueError) as exc:
            raise HubRefused(f"hub {peer.name}: our delta is not in its log ({exc})") from None
        peer.last_delta = max(int(peer.last_delta or 0), answer.delta_no)
        store.drop_outbox(s, answer.delta_no)


def delta_already_accepted(app: App, peer_name: str, last_delta: int) -> int:
    """Node: the hub says it holds our deltas up to ``last_delta`` (we were killed
    before recording that): drop them from the outbox. Returns how many."""
    with app.db.write_session() as s:
        peer = store.get_peer(s, peer_name)
        peer.last_delta = max(int(peer.last_delta or 0), last_delta)
        return store.drop_outbox(s, last_delta)


class FeedApplied(Result):
    after: int
    end: int
    upto: int
    series: int
    records: int
    """Records in the page (series and media) newer than what this node held."""
    applied: int
    done: bool
    notices: int = 0
    """Blind-hit notices from other nodes this page told this node's agencies of."""


def feed_position(app: App, peer_name: str) -> tuple[int, int]:
    """(feed cursor, accepted checkpoint size) for this hub."""
    with app.transaction() as s:
        p = store.get_peer(s, peer_name)
        return int(p.feed_after or 0), int(p.checkpoint_size or 0)


def feed_reader(app: App, peer_name: str | None) -> Callable[[bytes], SignedBundle]:
    """Verifies and parses a feed page of this hub with the key this node holds for
    it, outside any transaction: ``tessera sync`` reads the next page on its fetch
    thread while it applies this one. ``apply_feed`` takes what it returns only for
    the very bytes it is given, read with the key it holds then."""
    with app.transaction() as s:
        peer = _hub(s, peer_name)
        origin, key = peer.origin, _peer_verifier(peer)
        pinned = {p.origin: p.verifier for p in store.list_peers(s)}

    def read(page: bytes) -> SignedBundle:
        with gcpause.paused():
            bundle = delta.read(page, lambda o: key if o == origin else None)
            media_in = _incoming(bundle.records)
            return ReadAhead.of(
                bundle,
                media_in,
                store.media_inputs(media_in),
                store.latest_of(media_in),
                _attested_ahead(bundle, pinned),
            )

    return read


def _attested_ahead(bundle: SignedBundle, pinned: Mapping[str, str]) -> Mapping[str, str] | None:
    """The fetch thread's check that every record of a page its hub did not hide is
    one its origin signed, with the origins' keys as this node held them when the
    sync began (``pinned``) or, for a node not seen yet, as the page offers them:
    origin -> the key text each check used, or None when some check fails or a key
    is missing (``_check_attested`` then checks the page itself and says why)."""
    offered = bundle.header.get("keys")
    offered = offered if isinstance(offered, dict) else {}
    used: dict[str, str] = {}
    verifiers: dict[str, Verifier] = {}
    origins = {a.origin for a in bundle.attests}
    origins |= {r.origin for r in bundle.all_records if not (r.deleted and r.hidden)}
    try:
        for o in origins:
            text = pinned.get(o, offered.get(o))
            if not isinstance(text, str):
                return None
            v = Verifier.parse(text)
            if v.name != o:
                return None
            used[o], verifiers[o] = text, v
        signed = _signed_digests(bundle, verifiers)
    except (DeltaError, NoteError):
        return None
    return used if _unsigned(bundle.all_records, signed) is None else None


@dataclass(frozen=True)
class ReadAhead(SignedBundle):
    """A feed page as the fetch thread read it, with what its media records give the
    import made there too (pure functions of the page: the applying thread, the
    sync's bottleneck, then skips two objects a record), its media records' newest
    versions as not stored yet, and its records' signatures by their origins checked."""

    media_in: tuple[store.Incoming, ...] = dataclasses.field(default=(), compare=False)
    """``bundle.records`` as ``store.Incoming``, in order."""
    media_made: Mapping[int, store.MediaInput] = dataclasses.field(
        default_factory=dict, compare=False
    )
    """``store.media_inputs(media_in)``: keyed by the ids of ``media_in``'s objects."""
    media_latest: Mapping[str, Mapping[str, store.Newer]] = dataclasses.field(
        default_factory=dict, compare=False
    )
    """``store.latest_of(media_in)``."""
    attested_with: Mapping[str, str] | None = dataclasses.field(default=None, compare=False)
    """``_attested_ahead``: origin -> the key its records were checked with (None: not
    checked); taken when those are the keys the applying transaction holds."""

    @classmethod
    def of(
        cls,
        b: SignedBundle,
        media_in: list[store.Incoming],
        made: Mapping[int, store.MediaInput],
        latest: Mapping[str, Mapping[str, store.Newer]],
        attested_with: Mapping[str, str] | None,
    ) -> ReadAhead:
        fields = {f.name: getattr(b, f.name) for f in dataclasses.fields(SignedBundle)}
        return cls(
            **fields,
            media_in=tuple(media_in),
            media_made=made,
            media_latest=latest,
            attested_with=attested_with,
        )


def apply_feed(
    app: App,
    caller: Caller,
    peer_name: str | None,
    page: bytes,
    *,
    read: SignedBundle | None = None,
) -> FeedApplied:
    """Node: verify one signed feed page of the hub and apply it with its cursor
    (``read``: the page as ``feed_reader`` verified and parsed it already)."""
    _require_admin(caller)
    with gcpause.paused():
        return _apply_feed(app, caller, peer_name, page, read)


def _apply_feed(
    app: App, caller: Caller, peer_name: str | None, page: bytes, read: SignedBundle | None
) -> FeedApplied:
    me = signer_of(app)
    with app.db.write_session() as s:
        peer = _hub(s, peer_name)
        if (
            read is not None
            and read.signer.text() == _peer_verifier(peer).text()
            and read.sha256 == hashlib.sha256(page).hexdigest()
        ):
            bundle = read
        else:
            bundle = delta.read(page, lambda o: _peer_verifier(peer) if o == peer.origin else None)
        if bundle.kind != "federation-feed":
            raise DeltaError(f"expected a feed page of hub {peer.name}, got a {bundle.kind}")
        h = bundle.header
        after, end, upto = h.get("after"), h.get("end"), h.get("upto")
        if h.get("for") != me.name:
            raise HubRefused(f"feed page made for {h.get('for')!r}, not this node")
        if not all(isinstance(x, int) for x in (after, end, upto)):
            raise DeltaError("feed page header lacks its range")
        assert isinstance(after, int) and isinstance(end, int) and isinstance(upto, int)
        if isinstance(h.get("checkpoint"), str) and isinstance(h.get("log"), list):
            _accept_logged_checkpoint(peer, h["checkpoint"], h["log"])
        if after > int(peer.feed_after or 0):
            raise HubRefused(
                f"feed page starts after entry {after}; this node is at {peer.feed_after}: "
                "a page is missing"
            )
        if end > int(peer.checkpoint_size or 0) or not after <= end <= upto:
            raise HubRefused(
                f"feed page reaches entry {end}, beyond the checkpoint we verified "
                f"({peer.checkpoint_size})"
            )
        if any(r.origin == me.name for r in bundle.all_records):
            raise HubRefused("the hub sent this node's own records back as another's")
        keys = _origin_keys(s, peer, bundle)
        _check_attested(s, peer, bundle, keys)
        if not bulk_load.missing(s) and bulk_load.worth_it(
            s, _coming(bundle.count, after, end, upto)
        ):
            bulk_load.defer(s)  # a fresh node's first big pull: indexes built at the end
        applied = _apply_received(s, bundle)
        if end >= upto:
            bulk_load.restore(s)
        from tessera.storage.models import utcnow  # noqa: PLC0415

        try:
            told = notices.receive(
                s,
                app,
                caller,
                me.name,
                bundle.notices,
                verifiers=keys,
                now=utcnow(),
                hub=peer.origin,
            )
        except DeltaError as exc:
            raise HubRefused(f"hub {peer.name} forwarded a notice: {exc.message}") from None
        peer.feed_after = max(end, int(peer.feed_after or 0))
        if applied:
            audit.record_in(
                s,
                app,
                caller,
                "federation.receive",
                target=f"peer:{peer.name}",
                params={"after": after, "end": end, "sha256": bundle.sha256},
                result_count=applied,
            )
        last = h.get("last_delta")
        if isinstance(last, int) and last > int(peer.last_delta or 0):
            peer.last_delta = last
            store.drop_outbox(s, last)
        peer.synced_at = utcnow()
    delivery.dispatch(app, told)
    return FeedApplied(
        after=after,
        end=end,
        upto=upto,
        series=len(bundle.series),
        records=bundle.count,
        applied=applied,
        done=end >= upto,
        notices=len(told),
    )


def _coming(records: int, after: int, end: int, upto: int) -> int:
    """Records still to come in this pull, this page's included, guessed from its
    share of the log entries left (``storage.bulk_load`` decides by it)."""
    return records * (upto - after) // max(1, end - after)


def settle(app: App) -> list[str]:
    """Create the indexes a bulk load cut short left missing (a sync with nothing left
    to pull, ``tessera init``); their names."""
    with app.transaction() as s:
        if not bulk_load.missing(s):
            return []
    with app.db.write_session() as s:
        return bulk_load.restore(s)


def _origin_keys(s: Session, hub: FedPeer, bundle: SignedBundle) -> dict[str, Verifier]:
    """The key of every node whose records or notices the page holds: the one this
    node registered or first saw (pinned); the hub's word only for a new node."""
    offered = bundle.header.get("keys") or {}
    if not isinstance(offered, dict):
        raise HubRefused(f"hub {hub.name}: feed page keys are not a map")
    need = {r.origin for r in bundle.all_records}
    need |= {n.sender for n in bundle.notices} | {a.origin for a in bundle.attests}
    out: dict[str, Verifier] = {}
    for origin in sorted(need):
        text = offered.get(origin)
        known = store.peer_by_origin(s, origin)
        if known is not None:
            if text is not None and text != known.verifier:
                raise HubRefused(
                    f"hub {hub.name} gives node {origin} another key than the one this node "
                    f"holds for it ({known.name}): refused"
                )
            out[origin] = _peer_verifier(known)
            continue
        if not isinstance(text, str):
            raise HubRefused(f"hub {hub.name} sent records of node {origin} without its key")
        try:
            v = Verifier.parse(text)
        except NoteError as exc:
            raise HubRefused(f"hub {hub.name}: key of node {origin}: {exc.message}") from None
        if v.name != origin:
            raise HubRefused(f"hub {hub.name} gives node {origin} the key of {v.name}")
        store.pin_origin(s, origin, v.text())
        out[origin] = v
    return out


def _check_attested(
    s: Session, hub: FedPeer, bundle: SignedBundle, keys: dict[str, Verifier]
) -> None:
    """Every record, deletions included, must be one its origin signed (in a delta's
    manifest forwarded with it): a record or deletion the hub altered, invented or
    moved to another origin fails, and so does a downgrade it made up (a lower level
    is a new series record: the origin signs it). The one thing the hub says alone
    is that a whole series is not for this node (``hidden``: whom a node serves is
    the hub operator's call); a hidden media or ``full`` record is accepted only when
    the origin's signed series record in the same page agrees (not for this node,
    or not at ``full``)."""
    ahead = bundle.attested_with if isinstance(bundle, ReadAhead) else None
    # the fetch thread checked every record not hidden with these very keys
    checked = ahead is not None and all(keys[o].text() == k for o, k in ahead.items())
    signed: dict[str, set[str]] = {}
    if not checked:
        try:
            signed = _signed_digests(bundle, keys)
        except DeltaError as exc:
            raise HubRefused(f"hub {hub.name} forwarded {exc.message}") from None
    codes, countries = store.own_agencies(s)
    in_page = {(r.origin, r.origin_id): r for r in bundle.series}

    def level_here(key: tuple[str, str]) -> str | None:
        r = in_page.get(key)
        if r is None:
            return None
        if r.deleted or r.payload is None:
            return "none"
        kept = for_audience(dict(r.payload), countries, codes)
        return "none" if kept is None else delta.best_level(kept)

    for r in bundle.all_records:
        if r.deleted and r.hidden:
            if r.kind == SERIES:
                continue  # the hub's call: this node is not in the series' audience
            here = level_here((r.origin, r.series_key))
            if here == "none" or (r.kind == FULL and here in ("hash", "status")):
                continue
            raise HubRefused(
                f"hub {hub.name} hid record {r.origin_id} (version {r.version}) of node "
                f"{r.origin}, but {r.origin}'s signed series record "
                + ("is not in this page" if here is None else f"gives this node {here}")
                + ": a deletion the origin did not sign; nothing of this feed page is applied"
            )
        if not checked and _unsigned((r,), signed) is not None:
            what = "deletion of record" if r.deleted else "record"
            raise HubRefused(
                f"hub {hub.name} sent {what} {r.origin_id} (version {r.version}) of node "
                f"{r.origin} that {r.origin} did not sign: altered or made up by the hub; "
                "nothing of this feed page is applied"
            )


def _signed_digests(bundle: SignedBundle, keys: Mapping[str, Verifier]) -> dict[str, set[str]]:
    """origin -> the record digests its forwarded manifests sign (``DeltaError`` when a
    manifest's signature is not its origin's)."""
    signed: dict[str, set[str]] = {}
    for a in bundle.attests:
        signed.setdefault(a.origin, set()).update(delta.attested(a, keys[a.origin]))
    return signed


def _unsigned(records: Iterable[WireRecord], signed: Mapping[str, set[str]]) -> WireRecord | None:
    """The first record not hidden by the hub that its origin did not sign."""
    empty: frozenset[str] = frozenset()
    for r in records:
        if r.deleted and r.hidden:
            continue
        mine = signed.get(r.origin) or empty
        if r.arrived_as not in mine and delta.record_digest(r) not in mine:
            return r
    return None


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


def _for_this_node(s: Session, records: list[store.Incoming]) -> list[store.Incoming]:
    """Nodes enforce the audience again: a series keeps the grants naming this node's
    own countries / agencies; one left shared with none of them is not kept."""
    codes, countries = store.own_agencies(s)
    out = []
    for r in records:
        if r.kind == SERIES and not r.deleted and r.payload is not None:
            p = for_audience(r.payload, countries, codes)
            out.append(replace(r, payload=p, deleted=p is None))
        else:
            out.append(r)
    return out


def _apply_received(s: Session, bundle: SignedBundle) -> int:
    """Apply a verified feed page: series first, then their media (set-based), then
    what ``full`` shows (after removing what older versions of it wrote)."""
    cache: dict[tuple[str, str], Any] = {}
    series_items = store.newer(s, _for_this_node(s, _incoming(bundle.series)))
    full_items = store.newer(s, _incoming(bundle.full))
    full_view.before(s, full_items, series_items)
    done: list[tuple[store.Newer, int | None]] = []
    for n in series_items:
        r = n.record
        agency = store.remote_agency(s, r.origin, r.payload["owner"], cache) if r.payload else None
        done.append((n, store.apply_remote_series(s, r, agency, n.old_local)))
    store.store_records(s, done, 0)
    ahead = bundle if isinstance(bundle, ReadAhead) else None
    media_items = (
        store.newer(s, ahead.media_in, ahead.media_latest)
        if ahead
        else store.newer(s, _incoming(bundle.records))
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
        for key, local in store.local_series_of(s, origin, keys).items():
            local_series[(origin, key)] = local
    by_series: dict[int, list[store.Newer]] = {}
    placed: list[tuple[store.Newer, int | None]] = []
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
    owners = store.series_owners(s, by_series)
    by_agency: dict[int, tuple[list[tuple[str, store.Incoming]], list[int], list[store.Newer]]]
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
        agency = store.agency_row(s, agency_id)
        assert agency is not None
        ids = store.apply_remote_media(
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
        store.drop_series_media(s, sid, mids)
    store.store_records(s, placed, 0, media_payload=False)
    store.store_records(s, full_view.after(s, full_items), 0)
    return len(series_items) + len(media_items) + len(full_items)


def import_bundles(app: App, caller: Caller, data: bytes, peer_name: str | None) -> list[Result]:
    """Air-gapped: apply a file of signed bundles (deltas on a hub, feed pages on a node)."""
    _require_admin(caller)
    out: list[Result] = []
    for part in delta.split_bundles(data):
        kind, _origin = delta.peek_origin(part)
        if kind == "federation-delta":
            out.append(accept_delta(app, part))
        else:
            out.append(apply_feed(app, caller, peer_name, part))
    settle(app)
    return out


class Exported(Result):
    kind: str
    """``federation-delta`` (a node's changes) or ``federation-feed`` (a hub's pages)."""
    bundles: int
    records: int
    data: bytes = b""

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "bundles": self.bundles, "records": self.records}


def export_bundles(app: App, caller: Caller, peer_name: str | None) -> Exported:
    """Air-gapped export. On a hub (its log is not empty) with ``--peer NODE``: the
    feed pages for that node after what it last told us it holds, the first one
    carrying the log's leaf hashes so the node can check the checkpoint's
    consistency itself. On a node: its outbox (changes prepared first)."""
    _require_admin(caller)
    with app.transaction() as s:
        last = store.last_log_entry(s)
        size = int(last.seq) if last else 0
        peer = store.get_peer(s, peer_name) if peer_name else None
        origin = peer.origin if peer else None
        after = int(peer.feed_after or 0) if peer else 0
    if size and peer is None:
        raise InvalidInput("this node is a hub: name the node to export the feed for (--peer)")
    if size and peer is not None and origin is not None:
        pages: list[bytes] = []
        records = 0
        cur = after
        while True:
            page = feed_page(app, origin, cur, size, with_log=not pages)
            pages.append(page)
            head = delta.peek_header(page)
            records += int(head.get("records", 0))
            end = int(head["end"])
            if end <= cur or end >= size:
                break
            cur = end
        return Exported(
            kind="federation-feed", bundles=len(pages), records=records, data=b"".join(pages)
        )
    prepare(app, caller)
    bodies = outbox(app)
    with app.transaction() as s:
        _, n = store.outbox_summary(s)
    return Exported(
        kind="federation-delta",
        bundles=len(bodies),
        records=n,
        data=b"".join(b for _, b in bodies),
    )


def checkpoint_note_of(app: App) -> str | None:
    with app.transaction() as s:
        last = store.last_log_entry(s)
        return last.note if last else None


__all__ = [
    "DeltaAccepted",
    "Exported",
    "FederationStatus",
    "FeedApplied",
    "HubCheckpoint",
    "HubRefused",
    "PeerInfo",
    "Prepared",
    "ReadAhead",
    "accept_checkpoint",
    "accept_delta",
    "add_peer",
    "apply_feed",
    "authenticate_request",
    "delta_acknowledged",
    "delta_already_accepted",
    "export_bundles",
    "feed_page",
    "feed_position",
    "feed_reader",
    "hub_checkpoint",
    "hub_peer",
    "import_bundles",
    "list_peers",
    "outbox",
    "prepare",
    "remove_peer",
    "settle",
    "sign_request",
    "signer_of",
    "status",
]
