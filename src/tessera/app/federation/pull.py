"""Federation, a node pulling from its hub. **Pulling**, a node first takes the hub's
newest checkpoint (``tessera.app.federation.hub_log``). It then reads feed pages (the
records changed in whole log entries after its cursor, up to that checkpoint), each
signed by the hub, and applies each page and its cursor in one transaction: a kill
then a resync continues where the last committed page ended, and versions make a
re-applied record a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from tessera import gcpause
from tessera.app import audit, delivery
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.federation import notices
from tessera.app.federation.attestation import attested_ahead, check_attested, origin_keys
from tessera.app.federation.hub_log import HubRefused, accept_logged_checkpoint
from tessera.app.federation.peers import find_hub, peer_verifier, require_admin, signer_of
from tessera.app.federation.read_ahead import ReadAhead
from tessera.app.federation.receive import apply_received
from tessera.app.federation.wire import incoming
from tessera.app.results import Result
from tessera.exchange import delta
from tessera.exchange.delta import DeltaError, SignedBundle
from tessera.storage import bulk_load
from tessera.storage.federation import outbox as outbox_store
from tessera.storage.federation import peers as peers_store
from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_media as remote_media_store


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
        p = peers_store.get_peer(s, peer_name)
        return int(p.feed_after or 0), int(p.checkpoint_size or 0)


def feed_reader(app: App, peer_name: str | None) -> Callable[[bytes], SignedBundle]:
    """Verifies and parses a feed page of this hub with the key this node holds for
    it, outside any transaction: ``tessera sync`` reads the next page on its fetch
    thread while it applies this one. ``apply_feed`` takes what it returns only for
    the very bytes it is given, read with the key it holds then."""
    with app.transaction() as s:
        peer = find_hub(s, peer_name)
        origin, key = peer.origin, peer_verifier(peer)
        pinned = {p.origin: p.verifier for p in peers_store.list_peers(s)}

    def read(page: bytes) -> SignedBundle:
        with gcpause.paused():
            bundle = delta.read(page, lambda o: key if o == origin else None)
            media_in = incoming(bundle.records)
            return ReadAhead.of(
                bundle,
                media_in,
                remote_media_store.media_inputs(media_in),
                records_store.latest_of(media_in),
                attested_ahead(bundle, pinned),
            )

    return read


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
    require_admin(caller)
    with gcpause.paused():
        return _apply_feed(app, caller, peer_name, page, read)


def _apply_feed(
    app: App, caller: Caller, peer_name: str | None, page: bytes, read: SignedBundle | None
) -> FeedApplied:
    me = signer_of(app)
    with app.db.write_session() as s:
        peer = find_hub(s, peer_name)
        if (
            read is not None
            and read.signer.text() == peer_verifier(peer).text()
            and read.sha256 == hashlib.sha256(page).hexdigest()
        ):
            bundle = read
        else:
            bundle = delta.read(page, lambda o: peer_verifier(peer) if o == peer.origin else None)
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
            accept_logged_checkpoint(peer, h["checkpoint"], h["log"])
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
        keys = origin_keys(s, peer, bundle)
        check_attested(s, peer, bundle, keys)
        if not bulk_load.missing(s) and bulk_load.worth_it(
            s, _coming(bundle.count, after, end, upto)
        ):
            bulk_load.defer(s)  # a fresh node's first big pull: indexes built at the end
        applied = apply_received(s, bundle)
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
            outbox_store.drop_outbox(s, last)
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


__all__ = [
    "FeedApplied",
    "apply_feed",
    "feed_position",
    "feed_reader",
    "settle",
]
