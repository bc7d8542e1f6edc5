"""Federation's identity: this node's key and the peers it knows.

What a node shares goes out under its key (``tessera init`` makes it), and its
origin is that key's name. Each hub or node it exchanges with is registered by
name, URL and Ed25519 verifier key (``tessera peer add``); on a hub, also the
country and agencies a node serves (``tessera peer add ... --country CC --agency
CODE`` on the hub: the hub's operator says whom a node serves, not the node).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import require_role
from tessera.audit.note import Signer, Verifier
from tessera.errors import ConfigError, InvalidInput
from tessera.storage.db import Session
from tessera.storage.federation import peers as peers_store
from tessera.storage.models import FedPeer

_PEER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def peer_info(p: FedPeer) -> PeerInfo:
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


def require_admin(caller: Caller) -> None:
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
    require_admin(caller)
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
        peer = peers_store.add_peer(
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
        return peer_info(peer)


def list_peers(app: App, caller: Caller) -> tuple[PeerInfo, ...]:
    require_admin(caller)
    with app.transaction() as s:
        return tuple(peer_info(p) for p in peers_store.list_peers(s))


@retried
def remove_peer(app: App, caller: Caller, name: str) -> PeerInfo:
    require_admin(caller)
    with app.transaction() as s:
        info = peer_info(peers_store.get_peer(s, name))
        peers_store.remove_peer(s, name)
        audit.record_in(s, app, caller, "federation.peer.remove", target=f"peer:{name}")
        return info


def peer_verifier(p: FedPeer) -> Verifier:
    return Verifier.parse(p.verifier)


def find_hub(s: Session, name: str | None) -> FedPeer:
    if name is not None:
        return peers_store.get_peer(s, name)
    hubs = [p for p in peers_store.list_peers(s) if p.url]
    if len(hubs) != 1:
        raise InvalidInput(
            "name the hub with --peer" if hubs else "no hub: tessera peer add NAME URL --key KEY"
        )
    return hubs[0]


def hub_peer(app: App, name: str | None) -> PeerInfo:
    with app.transaction() as s:
        return peer_info(find_hub(s, name))


__all__ = [
    "PeerInfo",
    "add_peer",
    "find_hub",
    "hub_peer",
    "list_peers",
    "peer_info",
    "peer_verifier",
    "remove_peer",
    "require_admin",
    "signer_of",
]
