"""Federation, a node checking its hub's log: it does not trust the hub blindly.

**Pulling**, a node first takes the hub's newest checkpoint with a consistency
proof from the last one it accepted, and refuses a hub whose log is not an
extension of it (rewritten or truncated history). A delta the hub acknowledges
leaves the outbox only when the hub's answer proves it is in that log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from tessera.app.context import App
from tessera.app.federation.hub import LOG_SUFFIX, DeltaAccepted, leaf_bytes
from tessera.app.federation.peers import peer_verifier, signer_of
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from tessera.audit.note import NoteError
from tessera.errors import InvalidInput
from tessera.exchange import delta
from tessera.storage.federation import outbox as outbox_store
from tessera.storage.federation import peers as peers_store
from tessera.storage.models import FedPeer


class HubRefused(InvalidInput):
    """The hub's log is not an extension of the one we accepted, or its answer does
    not verify: nothing it sent is applied."""

    reason = "hub-refused"


def accept_checkpoint(app: App, peer_name: str, note: str | None, proof: Sequence[str]) -> int:
    """Verify the hub's newest checkpoint against the last one accepted; store it.
    ``HubRefused`` (nothing stored) when the hub's log does not extend ours."""
    with app.db.write_session() as s:
        peer = peers_store.get_peer(s, peer_name)
        return _accept_checkpoint(peer, note, proof)


def _accept_checkpoint(peer: FedPeer, note: str | None, proof: Sequence[str]) -> int:
    old_size = int(peer.checkpoint_size or 0)
    old_root = bytes(peer.checkpoint_root) if peer.checkpoint_root else EMPTY_ROOT
    if note is None:
        if old_size:
            raise HubRefused(f"hub {peer.name} says its log is empty; we hold {old_size} entries")
        return 0
    try:
        cp = Checkpoint.open(note, peer_verifier(peer))
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


def accept_logged_checkpoint(peer: FedPeer, note: str, log: list[Any]) -> None:
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
        cp = Checkpoint.open(note, peer_verifier(peer))
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
        peer = peers_store.get_peer(s, peer_name)
        me = signer_of(app)
        sha = hashlib.sha256(body).hexdigest()
        _kind, origin = delta.peek_origin(body)
        if origin != me.name or answer.sha256 != sha or answer.origin != me.name:
            raise HubRefused(f"hub {peer.name} acknowledged another delta than the one sent")
        size = _accept_checkpoint(peer, answer.checkpoint, answer.consistency)
        leaf = leaf_hash(leaf_bytes(answer.seq, me.name, answer.delta_no, sha, answer.records))
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
        outbox_store.drop_outbox(s, answer.delta_no)


def delta_already_accepted(app: App, peer_name: str, last_delta: int) -> int:
    """Node: the hub says it holds our deltas up to ``last_delta`` (we were killed
    before recording that): drop them from the outbox. Returns how many."""
    with app.db.write_session() as s:
        peer = peers_store.get_peer(s, peer_name)
        peer.last_delta = max(int(peer.last_delta or 0), last_delta)
        return outbox_store.drop_outbox(s, last_delta)


__all__ = [
    "HubRefused",
    "accept_checkpoint",
    "accept_logged_checkpoint",
    "delta_acknowledged",
    "delta_already_accepted",
]
