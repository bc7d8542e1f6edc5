"""Federation: **not trusting the hub with the records.** Every live record must be
one its origin signed (``tessera.exchange.delta``: the origin's signed manifest
lists each record's digest and is forwarded with it), checked with the origin's key
as this node registered it or first saw it (pinned; another key later is refused).
Deletions too: a hub cannot delete or downgrade another node's record. What a hub
says alone is only that a whole series is not for this node (whom a node serves is
its operator's call, and a hub can always withhold); hiding part of a series the
origin's signed record gives this node is refused (``check_attested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tessera.app.federation.audience import for_audience
from tessera.app.federation.hub_log import HubRefused
from tessera.app.federation.peers import peer_verifier
from tessera.app.federation.read_ahead import ReadAhead
from tessera.audit.note import NoteError, Verifier
from tessera.exchange import delta
from tessera.exchange.delta import FULL, SERIES, DeltaError, SignedBundle, WireRecord
from tessera.storage.db import Session
from tessera.storage.federation import peers as peers_store
from tessera.storage.federation import remote_series as remote_series_store
from tessera.storage.models import FedPeer


def origin_keys(s: Session, hub: FedPeer, bundle: SignedBundle) -> dict[str, Verifier]:
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
        known = peers_store.peer_by_origin(s, origin)
        if known is not None:
            if text is not None and text != known.verifier:
                raise HubRefused(
                    f"hub {hub.name} gives node {origin} another key than the one this node "
                    f"holds for it ({known.name}): refused"
                )
            out[origin] = peer_verifier(known)
            continue
        if not isinstance(text, str):
            raise HubRefused(f"hub {hub.name} sent records of node {origin} without its key")
        try:
            v = Verifier.parse(text)
        except NoteError as exc:
            raise HubRefused(f"hub {hub.name}: key of node {origin}: {exc.message}") from None
        if v.name != origin:
            raise HubRefused(f"hub {hub.name} gives node {origin} the key of {v.name}")
        peers_store.pin_origin(s, origin, v.text())
        out[origin] = v
    return out


def check_attested(
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
    codes, countries = remote_series_store.own_agencies(s)
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


def attested_ahead(bundle: SignedBundle, pinned: Mapping[str, str]) -> Mapping[str, str] | None:
    """The fetch thread's check that every record of a page its hub did not hide is
    one its origin signed, with the origins' keys as this node held them when the
    sync began (``pinned``) or, for a node not seen yet, as the page offers them:
    origin -> the key text each check used, or None when some check fails or a key
    is missing (``check_attested`` then checks the page itself and says why)."""
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


__all__ = [
    "attested_ahead",
    "check_attested",
    "origin_keys",
]
