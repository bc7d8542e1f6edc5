"""Federation, a node's side of sending: what it shares with the network, as signed
deltas in an outbox.

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

A series record carries its network level and its grants to countries / agencies
(``grants``); a series shared with nobody on the network is not sent (a deletion
when it was). When a series' audience changes its media are sent again (their sent
digest includes the audience), so a node newly named receives them.

**At ``full``** a series also carries what a local ``full`` series shows (victims,
offenders, locations, metadata, OCR text, markers) in records of their own, which
the hub forwards only to nodes some grant gives ``full``
(``tessera.app.federation.full``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.federation import cases, notices
from tessera.app.federation import full as full_view
from tessera.app.federation.peers import require_admin, signer_of
from tessera.app.results import Result
from tessera.audit.entry import canonical_json
from tessera.exchange import delta
from tessera.exchange.delta import CASE, FULL, MEDIA, SERIES, WireRecord
from tessera.storage.db import Session
from tessera.storage.federation import outbox as outbox_store
from tessera.storage.federation import peers as peers_store
from tessera.storage.federation import shared as shared_store

MAX_DELTA_RECORDS = 20_000
"""Records per delta: a delta is held in memory and posted whole."""


_RECORD_ID = re.compile(r"^(s\d+)(m\d+)?(f)?$")


def _series_payload(se: shared_store.SharedSeries) -> dict[str, Any]:
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
    by ``changes_since``); its case records are ``cases.records``."""
    out: dict[str, WireRecord] = {}
    shared: list[int] = []
    full: list[int] = []
    for se in shared_store.own_series(s):
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
    for sid, mid, hashes in shared_store.series_media_hashes(s, shared):
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


def changes_since(
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
    require_admin(caller)
    me = signer_of(app)
    with app.db.write_session() as s:
        sent = shared_store.sent_state(s)
        changes, rows = changes_since(s, me.name, sent)
        # series before their media; deletions of media before their series' deletion
        changes.sort(key=lambda r: (r.kind if not r.deleted else 1 - r.kind, r.origin_id))
        peers = peers_store.list_peers(s)
        accepted = max((int(p.last_delta or 0) for p in peers), default=0)
        feed_after = max((int(p.feed_after or 0) for p in peers), default=0)
        new_deltas = 0
        told = notices.pending(s, me.name)
        chunks = [changes[i : i + max_records] for i in range(0, len(changes), max_records)]
        if told and not chunks:
            chunks = [[]]  # notices alone travel in a delta of their own
        for i, chunk in enumerate(chunks):
            no = outbox_store.next_delta_no(s, accepted)
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
            outbox_store.add_outbox(s, no, hashlib.sha256(body).hexdigest(), len(chunk), body)
            notices.carried(s, me.name, carry, no)
            accepted = no  # the next delta follows this one
            new_deltas += 1
        shared_store.record_sent(s, rows, set(sent))
        deltas, records = outbox_store.outbox_summary(s)
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
        return [(int(o.delta_no), bytes(o.body)) for o in outbox_store.outbox(s)]


__all__ = [
    "MAX_DELTA_RECORDS",
    "Prepared",
    "changes_since",
    "current_records",
    "outbox",
    "prepare",
]
