"""Overlaps between new cases at different nodes (issue 12's cooperation, issue 15
item 6): two agencies of two nodes ingest the same new, unclassified media into
their cases; both are told, through the hub, as they would be on one node.

**What a node sends.** Cases are not federated: what leaves a node is, per case of
its own agencies holding unclassified media (sighted there, held by no series), a
record in its delta's part ``cases`` that the hub keeps and never forwards: the
owner agency (code, country, contact), the case's sharing grants, its number only
when some grant gives ``status``, and one *token* per such file,
SHA-256("tessera-case-overlap/1\\n" || SHA-256 of the file) cut to 128 bits. A token
names no file the hub does not already have: the hub learns which cases share
files, never which files, unless it holds the file itself. A case whose files go
into a series (classified) or whose last such file goes, changes or is deleted.
A record travels only when it changed since the last send: each case's
*fingerprint* (its payload but the tokens, and its files' SHA-256, hashed once) is
kept in ``fed_sent`` in place of the record's digest, and the tokens (one SHA-256
per file) are computed only for a case whose fingerprint differs, so a sync with
nothing changed costs the SQL of reading the cases and one hash per case.

**The hub** compares the tokens of each case record it accepts with the other
nodes' live case records and, for each pair of cases sharing files, writes two
notices signed by its own key, one to each node, stored once per (pair,
recipient) under the accepted delta's log entry and handed over in that node's
feed like blind-hit notices (``tessera.app.federation.notices``): the recipient's
own case key, how many files, when, and what the *other* case's sharing level
lets the recipient's owner agency be told, the rule of a local case overlap
(``tessera.app.coop``): nothing at ``none``, the contact at ``hash``, the agency,
country, case number and node at ``status``. The grants decide as locally: a
grant to the agency, else to its country, else to the network (``none`` by default
for cases).

**The recipient** accepts a case-overlap notice only from its hub (signed by the
hub's key), keeps it once, and raises a ``case-overlap`` notification and overlap
for its case's agency in the transaction that advances its feed cursor; a notice
naming a case it does not own is dropped (no probe is answered).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tessera.audit.entry import canonical_json
from tessera.audit.note import Signer
from tessera.exchange import delta
from tessera.exchange.delta import CASE, CASE_OVERLAP, Notice, WireRecord
from tessera.storage.db import Session
from tessera.storage.federation import cases as cstore

TOKEN_TAG = b"tessera-case-overlap/1\n"
FINGERPRINT_TAG = b"tessera-case-record/1\n"
_RANK = {"none": 0, "hash": 1, "status": 2, "full": 3}


def token(sha256: bytes) -> str:
    return hashlib.sha256(TOKEN_TAG + sha256).hexdigest()[: delta.DIGEST_HEX]


def records(
    s: Session, origin: str, sent: Mapping[str, tuple[int, str, bool]] | None = None
) -> dict[str, tuple[str, WireRecord | None]]:
    """This node's cases with unclassified media: per case key, its fingerprint and
    its case record (version 1), or ``None`` when ``sent`` (what was last sent: key
    -> version, fingerprint, deleted) holds that fingerprint live, so an unchanged
    case costs no token."""
    sent = sent or {}
    out: dict[str, tuple[str, WireRecord | None]] = {}
    for c in cstore.own_cases(s):
        owner = {"code": c.code, "country": c.country}
        if c.contact:
            owner["contact"] = c.contact[:1000]
        network = next(iter((c.grants.get("network") or {}).values()), "none")
        p: dict[str, Any] = {"level": network, "owner": owner}
        grants = {k: dict(sorted(v.items())) for k, v in sorted(c.grants.items()) if k != "network"}
        if grants := {k: v for k, v in grants.items() if v}:
            p["grants"] = grants
        if _RANK[delta.best_level(p)] >= _RANK["status"]:
            p["number"] = c.number[:100]
        key = f"c{c.id}"
        mark = fingerprint(p, c.digests)
        old = sent.get(key)
        if old is not None and old[1] == mark and not old[2]:
            out[key] = (mark, None)
            continue
        p["tokens"] = sorted({token(d) for d in c.digests})[: delta.MAX_CASE_TOKENS]
        out[key] = (mark, WireRecord(origin, key, CASE, key, 1, False, p))
    return out


def fingerprint(payload: dict[str, Any], digests: Sequence[bytes]) -> str:
    """What a case record is made of, its payload but the tokens and the sorted
    SHA-256 of its files (which decide the tokens), hashed once: equal to the one
    last sent, the record has not changed (``fed_sent`` keeps it as the digest)."""
    h = hashlib.sha256(FINGERPRINT_TAG + canonical_json(payload) + b"\n")
    for d in sorted(digests):
        h.update(d)  # 32 bytes each: the concatenation is unambiguous
    return h.hexdigest()


def level_for(case: dict[str, Any], reader: dict[str, Any]) -> str:
    """The level ``case`` gives the agency ``reader`` (code, country): the most
    specific grant naming it, else the network level."""
    grants = case.get("grants") or {}
    agency = (grants.get("agency") or {}).get(str(reader.get("code")))
    if agency is not None:
        return str(agency)
    country = (grants.get("country") or {}).get(str(reader.get("country")))
    if country is not None:
        return str(country)
    return str(case.get("level") or "none")


def told(case: dict[str, Any], origin: str, reader: dict[str, Any]) -> dict[str, Any]:
    """What the owner agency ``reader`` of the other case may be told of ``case``."""
    level = _RANK.get(level_for(case, reader), 0)
    owner = case.get("owner") or {}
    out: dict[str, Any] = {}
    if level >= _RANK["hash"] and owner.get("contact"):
        out["contact"] = owner["contact"]
    if level >= _RANK["status"]:
        out.update(agency=owner.get("code"), country=owner.get("country"), node=origin)
        if case.get("number"):
            out["case"] = case["number"]
    return out


def _notice(hub: Signer, to: str, case_key: str, other: str, body: dict[str, Any]) -> Notice:
    """``other``: the other case as ``origin|key`` (with the recipient and its case,
    what makes the notice's id: one per pair of cases and recipient)."""
    pair = f"{to}|{case_key}|{other}"
    nid = "x" + hashlib.sha256(pair.encode()).hexdigest()[:32]
    return delta.sign_notice(
        {"id": nid, "kind": CASE_OVERLAP, "from": hub.name, "to": to, "case": case_key, **body},
        hub,
    )


def match(
    s: Session, hub: Signer, origin: str, cases: Sequence[WireRecord], at: datetime
) -> list[Notice]:
    """Hub: the notices for every pair of a newly accepted live case of ``origin`` and
    another node's live case that share files (two per pair, one to each node)."""
    mine = [r for r in cases if not r.deleted and r.payload is not None]
    if not mine:
        return []
    others = cstore.live_cases(s, origin)
    index: dict[str, list[int]] = {}
    for i, (_, _, p) in enumerate(others):
        for t in p.get("tokens") or ():
            index.setdefault(str(t), []).append(i)
    out: list[Notice] = []
    when = at.isoformat()
    for r in mine:
        assert r.payload is not None
        p = dict(r.payload)
        shared: Counter[int] = Counter()
        for t in p.get("tokens") or ():
            shared.update(index.get(str(t), ()))
        for i, files in sorted(shared.items()):
            o, key, q = others[i]
            me, them = p.get("owner") or {}, q.get("owner") or {}
            out.append(
                _notice(
                    hub,
                    origin,
                    r.origin_id,
                    f"{o}|{key}",
                    {"files": files, "at": when, "other": told(q, o, me)},
                )
            )
            out.append(
                _notice(
                    hub,
                    o,
                    key,
                    f"{origin}|{r.origin_id}",
                    {"files": files, "at": when, "other": told(p, origin, them)},
                )
            )
    return out


__all__ = [
    "FINGERPRINT_TAG",
    "TOKEN_TAG",
    "fingerprint",
    "level_for",
    "match",
    "records",
    "token",
    "told",
]
