"""``tessera federation status``: this node's key and peers, what it has prepared
but the hub has not accepted, what changed and is not sent yet, the records it
shares and holds per origin, and, as a hub, its log's size and checkpoint.
"""

from __future__ import annotations

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.federation import notices
from tessera.app.federation.peers import PeerInfo, peer_info, require_admin, signer_of
from tessera.app.federation.share import changes_since
from tessera.app.results import Result
from tessera.storage.federation import log as log_store
from tessera.storage.federation import outbox as outbox_store
from tessera.storage.federation import peers as peers_store
from tessera.storage.federation import records as records_store
from tessera.storage.federation import shared as shared_store


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
    require_admin(caller)
    me = signer_of(app)
    with app.transaction() as s:
        deltas, records = outbox_store.outbox_summary(s)
        sent = shared_store.sent_state(s)
        last = log_store.last_log_entry(s)
        received = records_store.count_records(s)
        unsent, _ = changes_since(s, me.name, sent)
        return FederationStatus(
            node=me.name,
            key=me.verifier.text(),
            peers=tuple(peer_info(p) for p in peers_store.list_peers(s)),
            pending_deltas=deltas,
            pending_records=records,
            unsent_changes=len(unsent),
            unsent_notices=len(notices.pending(s, me.name)),
            shared_records=sum(1 for _, _, d in sent.values() if not d),
            received_records={o: n for o, n in received.items() if o != me.name},
            hub_log_size=int(last.seq) if last else 0,
            hub_checkpoint=last.note if last else None,
        )


__all__ = [
    "FederationStatus",
    "status",
]
