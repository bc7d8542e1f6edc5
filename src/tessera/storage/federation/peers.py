"""Federation's peers (``fed_peer``): the hubs and nodes this node registered, and
the keys of nodes first seen in a feed (pinned on first sight, no URL: not a hub;
later keys must match): trust in origins, not in the hub.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.errors import Conflict, NotFound
from tessera.storage.federation.records import chunks
from tessera.storage.models import FedPeer


def add_peer(s: Session, name: str, url: str | None, verifier: str, origin: str) -> FedPeer:
    if s.scalar(select(FedPeer.id).where(FedPeer.name == name)) is not None:
        raise Conflict(f"peer {name!r} exists; remove it first to change it")
    if s.scalar(select(FedPeer.name).where(FedPeer.origin == origin)) is not None:
        raise Conflict(f"a peer with the key name {origin!r} exists already")
    peer = FedPeer(
        name=name,
        url=url,
        verifier=verifier,
        origin=origin,
        checkpoint_size=0,
        feed_after=0,
        feed_cursor=0,
        last_delta=0,
    )
    s.add(peer)
    s.flush()
    return peer


def list_peers(s: Session) -> list[FedPeer]:
    return list(s.scalars(select(FedPeer).order_by(FedPeer.name)))


def get_peer(s: Session, name: str) -> FedPeer:
    peer = s.scalar(select(FedPeer).where(FedPeer.name == name))
    if peer is None:
        raise NotFound(f"no peer {name!r} (tessera peer list)")
    return peer


def peer_by_origin(s: Session, origin: str) -> FedPeer | None:
    return s.scalar(select(FedPeer).where(FedPeer.origin == origin))


def remove_peer(s: Session, name: str) -> None:
    s.delete(get_peer(s, name))
    s.flush()


def origin_keys(s: Session, origins: Iterable[str]) -> dict[str, str]:
    """origin -> verifier key text, for the registered peers among ``origins``."""
    out: dict[str, str] = {}
    for chunk in chunks(sorted(set(origins))):
        for o, v in s.execute(
            select(FedPeer.origin, FedPeer.verifier).where(FedPeer.origin.in_(chunk))
        ):
            out[str(o)] = str(v)
    return out


def pin_origin(s: Session, origin: str, verifier: str) -> FedPeer:
    """Remember a node's key on first sight (no URL: not a hub); later keys must match."""
    name = origin if len(origin) <= 64 else origin[:55]
    n = 1
    while s.scalar(select(FedPeer.id).where(FedPeer.name == name)) is not None:
        n += 1
        name = f"{origin[:55]}~{n}"
    return add_peer(s, name, None, verifier, origin)


__all__ = [
    "add_peer",
    "get_peer",
    "list_peers",
    "origin_keys",
    "peer_by_origin",
    "pin_origin",
    "remove_peer",
]
