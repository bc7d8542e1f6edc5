"""Blind hits across nodes: when a node's lookup, triage or ingest hits a series it
received from another node, that series' owner is told, through the hub.

**How.** ``tessera.app.coop.notice`` records a local overlap for every series hit;
when the series stands for another node's (a received ``NAME @origin`` series), the
same transaction also writes a *notice* into this node's ``fed_notice`` outbox,
signed by this node's key. The next ``tessera sync`` carries the pending notices in
its delta (part ``notices``) and marks them carried in the transaction that writes
the delta into the outbox; the hub stores each notice once (sender, notice id)
under the log entry of that delta and hands it only to its recipient, in that
node's feed page; the recipient checks the sender's signature (not the hub's word),
stores it once and raises the owner agency's ``series-hit`` notification and
overlap, with delivery queued, in the transaction that advances its feed cursor.
So a kill at any point neither loses nor doubles a notice: the outbox is resent
byte for byte, the hub and the recipient keep a notice once by its key, and the
cursor commits with what it applied. Repeats are deduplicated where they start:
coop raises a notice only for a *new* overlap (a re-run in the notice window only
counts up the existing one).

**Why the disclosure is safe.** A notice names only what its recipient already
owns: its own series key and media keys (ids it minted; no hash, no file name of
the finder's), how many files, how (lookup, triage, ingest) and when they were
found, and the finder's node, agency code and country: what a local blind hit tells
an owner. The finder's case number never travels (a case is not federated), and the
finder's caller sees no more than its sharing level allowed, whatever the notice
says. The hub, which already holds both the series and the finder's identity,
learns that this finder hit that series, nothing else. The recipient refuses a
notice naming a series or media it does not own (nothing to tell; no probe of
its holdings is answered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.audit.note import Verifier
from tessera.exchange import delta
from tessera.exchange.delta import CASE_OVERLAP, DeltaError, Notice
from tessera.storage import coop as coop_store
from tessera.storage.db import Session
from tessera.storage.federation import cases as cases_store
from tessera.storage.federation import notices as notices_store
from tessera.storage.federation import remote_series as remote_series_store
from tessera.storage.models import Agency

_SERIES_KEY = re.compile(r"^s(\d+)$")


def raise_hit(
    s: Session,
    app: App,
    overlap_id: int,
    series_id: int,
    media_ids: Iterable[int],
    *,
    finder: Agency,
    via: str,
    at: datetime,
) -> bool:
    """In the finder's transaction: queue a signed notice to the node that owns
    ``series_id`` when it is a received series. False when it is a local one."""
    keys = notices_store.remote_keys_of(s, series_id, media_ids)
    signer = audit.node_signer(app)
    if keys is None or signer is None:
        return False
    origin, series_key, media = keys
    if not media:
        return False
    body: dict[str, Any] = {
        "id": f"o{overlap_id}",
        "from": signer.name,
        "to": origin,
        "series": series_key,
        "media": media[: delta.MAX_NOTICE_MEDIA],
        "files": len(media),
        "via": via,
        "at": at.isoformat(),
        "finder": {"code": finder.code[:32], "country": finder.country[:2]},
    }
    n = delta.sign_notice(body, signer)
    row = notices_store.NoticeRow(n.sender, n.id, n.recipient, dict(n.body), n.signature, 0)
    return notices_store.add_notice(s, row)


def pending(s: Session, sender: str) -> list[Notice]:
    """This node's notices not yet carried by a delta."""
    return [
        Notice(r.notice_id, r.sender, r.recipient, r.body, r.signature)
        for r in notices_store.pending_notices(s, sender)
    ]


def carried(s: Session, sender: str, notices: Sequence[Notice], delta_no: int) -> None:
    notices_store.mark_carried(s, sender, [n.id for n in notices], delta_no)


def keep_on_hub(s: Session, notices: Iterable[Notice], seq: int) -> int:
    """Hub: store the notices of an accepted delta under its log entry (once each)."""
    return sum(
        notices_store.add_notice(
            s, notices_store.NoticeRow(n.sender, n.id, n.recipient, dict(n.body), n.signature, seq)
        )
        for n in notices
    )


def for_node(s: Session, recipient: str, after: int, end: int) -> list[Notice]:
    """Hub: the notices to ``recipient`` carried in log entries ``after < seq <= end``."""
    return [
        Notice(r.notice_id, r.sender, r.recipient, r.body, r.signature)
        for r in notices_store.notices_for(s, recipient, after, end)
    ]


def receive(
    s: Session,
    app: App,
    caller: Caller,
    me: str,
    notices: Iterable[Notice],
    *,
    verifiers: Mapping[str, Verifier],
    now: datetime,
    hub: str | None = None,
) -> list[int]:
    """Recipient, in the feed page's transaction: check each notice's sender signature,
    keep it once, and tell the owner agency. Returns the notification ids raised.
    A case-overlap notice must come from ``hub`` (the hub whose page this is)."""
    raised: list[int] = []
    cache: dict[tuple[str, str], Agency] = {}
    for n in notices:
        if n.recipient != me:
            raise DeltaError(f"notice {n.id} of {n.sender} is for {n.recipient}, not this node")
        v = verifiers.get(n.sender)
        if v is None:
            raise DeltaError(f"notice {n.id}: no key for its sender {n.sender}")
        if n.body.get("kind") == CASE_OVERLAP and n.sender != hub:
            raise DeltaError(
                f"case-overlap notice {n.id} from {n.sender}: only the hub raises them"
            )
        delta.verify_notice(n, v)
        row = notices_store.NoticeRow(n.sender, n.id, n.recipient, dict(n.body), n.signature, -1)
        if not notices_store.add_notice(s, row):
            continue  # told already (a page applied twice)
        if n.body.get("kind") == CASE_OVERLAP:
            raised.extend(_case_overlap(s, app, caller, n, cache=cache, now=now))
            continue
        m = _SERIES_KEY.match(str(n.body["series"]))
        if m is None:
            continue
        sid = int(m.group(1))
        prefix = f"s{sid}m"
        mids = [
            int(k[len(prefix) :])
            for k in n.body["media"]
            if k.startswith(prefix) and k[len(prefix) :].isdigit()
        ]
        own = notices_store.own_series_media(s, sid, mids)
        if own is None or not own[1]:
            continue  # not ours (any more): nothing to tell
        series, held = own
        finder = n.body["finder"]
        stand_in = remote_series_store.remote_agency(
            s,
            n.sender,
            {"code": finder["code"], "country": finder.get("country") or "ZZ"},
            cache,
        )
        files = min(int(n.body["files"]), len(held))
        ov = coop_store.add_overlap(
            s,
            kind="series",
            via=str(n.body["via"]),
            owner_agency_id=series.agency_id,
            series_id=series.id,
            finder_agency_id=stand_in.id,
            finder_case_id=None,
            files=files,
            found_at=now,
        )
        payload = {
            "overlap": ov.id,
            "series": series.name,
            "finder_agency": finder["code"],
            "finder_country": finder.get("country"),
            "finder_node": n.sender,
            "finder_case": None,
            "files": files,
            "via": n.body["via"],
            "at": n.body["at"],
        }
        raised.append(
            coop_store.add_notification(
                s, series.agency_id, "series-hit", payload, overlap_id=ov.id
            ).id
        )
        audit.record_in(
            s, app, caller, "overlap.found", target=f"overlap:{ov.id}", result_count=files
        )
    if raised:
        coop_store.enqueue(s, raised, now)
    return raised


_CASE_KEY = re.compile(r"^c(\d+)$")


def _case_overlap(
    s: Session,
    app: App,
    caller: Caller,
    n: Notice,
    *,
    cache: dict[tuple[str, str], Agency],
    now: datetime,
) -> list[int]:
    """A case of ours shares files with another node's case (the hub's notice): the
    case's agency is told what the other case's level allows, as a local overlap."""
    m = _CASE_KEY.match(str(n.body["case"]))
    own = cases_store.own_case(s, int(m.group(1))) if m else None
    if own is None:
        return []  # not ours: nothing to tell, no probe answered
    case, agency = own
    other = {k: v for k, v in dict(n.body["other"]).items() if v is not None}
    if other.get("agency") and other.get("node"):
        who = {"code": other["agency"], "country": other.get("country") or "ZZ"}
        stand_in = remote_series_store.remote_agency(s, str(other["node"]), who, cache)
    else:  # not shared with us at status: the other side stays unnamed
        unnamed = {"code": "network", "country": "ZZ", "name": "another agency of the network"}
        stand_in = remote_series_store.remote_agency(s, n.sender, unnamed, cache)
    files = int(n.body["files"])
    ov = coop_store.add_overlap(
        s,
        kind="case",
        via="ingest",
        owner_agency_id=agency.id,
        owner_case_id=case.id,
        finder_agency_id=stand_in.id,
        finder_case_id=None,
        files=files,
        found_at=now,
    )
    payload = {
        "overlap": ov.id,
        "your_case": case.number,
        "other": {
            "agency": other.get("agency"),
            "country": other.get("country"),
            "case": other.get("case"),
            "contact": other.get("contact"),
            "node": other.get("node"),
        },
        "files": files,
        "matched_by": ["exact"],
        "via": "ingest",
        "at": n.body["at"],
    }
    note = coop_store.add_notification(s, agency.id, "case-overlap", payload, overlap_id=ov.id)
    audit.record_in(s, app, caller, "overlap.found", target=f"overlap:{ov.id}", result_count=files)
    return [note.id]


__all__ = ["carried", "for_node", "keep_on_hub", "pending", "raise_hit", "receive"]
