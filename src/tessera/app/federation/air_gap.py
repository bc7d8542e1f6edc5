"""Federation air-gapped: ``tessera sync --export`` writes the same signed bundles to a
file and ``--import`` applies them: a hub accepts the deltas in it, a node the feed
pages.
"""

from __future__ import annotations

from typing import Any

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.federation.hub import accept_delta, feed_page
from tessera.app.federation.peers import require_admin
from tessera.app.federation.pull import apply_feed, settle
from tessera.app.federation.share import outbox, prepare
from tessera.app.results import Result
from tessera.errors import InvalidInput
from tessera.exchange import delta
from tessera.storage.federation import log as log_store
from tessera.storage.federation import outbox as outbox_store
from tessera.storage.federation import peers as peers_store


def import_bundles(app: App, caller: Caller, data: bytes, peer_name: str | None) -> list[Result]:
    """Air-gapped: apply a file of signed bundles (deltas on a hub, feed pages on a node)."""
    require_admin(caller)
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
    require_admin(caller)
    with app.transaction() as s:
        last = log_store.last_log_entry(s)
        size = int(last.seq) if last else 0
        peer = peers_store.get_peer(s, peer_name) if peer_name else None
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
        _, n = outbox_store.outbox_summary(s)
    return Exported(
        kind="federation-delta",
        bundles=len(bodies),
        records=n,
        data=b"".join(b for _, b in bodies),
    )


__all__ = [
    "Exported",
    "export_bundles",
    "import_bundles",
]
