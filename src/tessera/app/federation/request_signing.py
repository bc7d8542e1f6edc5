"""Request signatures, node -> hub over HTTP: every request is signed by a registered
node's Ed25519 key (``X-Tessera-Signature``: a C2SP signed note over the method, path
and query, the SHA-256 of the body and the time). A missing, unknown, stale or wrong
signature is ``Unauthenticated`` before anything is read or written (fail closed).
"""

from __future__ import annotations

import hashlib
import time

from tessera.app.context import App
from tessera.app.federation.peers import peer_verifier, signer_of
from tessera.audit.note import NoteError, open_note, parse_note, sign_note
from tessera.errors import Unauthenticated
from tessera.storage.federation import peers as peers_store

REQUEST_SKEW_S = 300


def request_text(origin: str, method: str, target: str, body: bytes, at: int) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"tessera-federation-request/1\n{origin}\n{method.upper()} {target}\n{digest}\n{at}\n"


def sign_request(app: App, method: str, target: str, body: bytes) -> str:
    """The ``X-Tessera-Signature`` header value: a signed note, newlines escaped."""
    me = signer_of(app)
    note = sign_note(request_text(me.name, method, target, body, int(time.time())), me)
    return note.encode().hex()


def authenticate_request(
    app: App, header: str | None, method: str, target: str, body: bytes
) -> str:
    """The origin of a signed request from a registered node, or ``Unauthenticated``."""
    if not header:
        raise Unauthenticated("federation requests must be signed by a registered node")
    try:
        note = bytes.fromhex(header).decode()
        text, _ = parse_note(note)
    except (ValueError, UnicodeDecodeError, NoteError):
        raise Unauthenticated("malformed request signature") from None
    lines = text.split("\n")
    if len(lines) != 6 or lines[0] != "tessera-federation-request/1":
        raise Unauthenticated("malformed request signature")
    origin = lines[1]
    with app.transaction() as s:
        peer = peers_store.peer_by_origin(s, origin)
        if peer is None:
            raise Unauthenticated("request signed by an unknown node")
        verifier = peer_verifier(peer)
    try:
        open_note(note, verifier)
    except NoteError:
        raise Unauthenticated("request signature does not verify") from None
    try:
        at = int(lines[4])
    except ValueError:
        raise Unauthenticated("malformed request signature") from None
    if abs(time.time() - at) > REQUEST_SKEW_S:
        raise Unauthenticated("request signature expired (clocks more than 5 minutes apart?)")
    if text != request_text(origin, method, target, body, at):
        raise Unauthenticated("request signature does not cover this request")
    return origin


__all__ = [
    "REQUEST_SKEW_S",
    "authenticate_request",
    "request_text",
    "sign_request",
]
