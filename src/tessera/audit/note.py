"""C2SP ``signed-note`` with Ed25519, and the node's signing key.

A signed note is a text ending in a newline, a blank line, then one line per
signature: ``— <key name> <base64(key id || signature)>``. The key id is the
first four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)``. We
implement the spec (https://c2sp.org/signed-note) rather than a private format so
that any Go ``golang.org/x/mod/sumdb/note`` or transparency-dev verifier — a
witness, another agency's node — can check our checkpoints without Tessera. The
key text forms are the Go package's: verifier ``<name>+<hex id>+<base64(0x01 ||
public key)>`` and signer ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tessera.errors import InvalidInput

ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 16
MAX_NOTE_BYTES = 1 << 20


class NoteError(InvalidInput):
    """A signed note or key is malformed, or no trusted signature verifies."""

    reason = "invalid-signed-note"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} is empty or contains a space or '+'")


def key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A trusted public key: its name, id and Ed25519 key."""

    name: str
    id: int
    key: Ed25519PublicKey

    @property
    def public_bytes(self) -> bytes:
        return _raw_public(self.key)

    def text(self) -> str:
        """``<name>+<hex id>+<base64(0x01 || public key)>``."""
        material = base64.b64encode(bytes([ED25519]) + self.public_bytes).decode()
        return f"{self.name}+{self.id:08x}+{material}"

    @staticmethod
    def parse(text: str) -> Verifier:
        """Read the verifier key text form (checks the id against the key)."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise NoteError("a verifier key reads <name>+<8 hex id>+<base64 key>")
        name, hex_id, material = parts
        _check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            kid = int(hex_id, 16)
        except (binascii.Error, ValueError) as exc:
            raise NoteError(f"verifier key is not valid hex/base64: {exc}") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("verifier key is not an Ed25519 (type 0x01) key")
        if key_id(name, raw[1:]) != kid:
            raise NoteError("verifier key id does not match its name and key")
        return Verifier(name, kid, Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key with its key name."""

    name: str
    key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @staticmethod
    def generate(name: str) -> Signer:
        """A fresh key from the OS random source (there is never a default key)."""
        return Signer(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> Verifier:
        pub = _raw_public(self.key.public_key())
        return Verifier(self.name, key_id(self.name, pub), self.key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)

    def text(self) -> str:
        """``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` (Go's signer form)."""
        seed = self.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        material = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id:08x}+{material}"

    @staticmethod
    def parse(text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or len(parts[3]) != 8:
            raise NoteError("a signer key reads PRIVATE+KEY+<name>+<8 hex id>+<base64 key>")
        name, hex_id, material = parts[2], parts[3], parts[4]
        _check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            kid = int(hex_id, 16)
        except (binascii.Error, ValueError) as exc:
            raise NoteError(f"signer key is not valid hex/base64: {exc}") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("signer key is not an Ed25519 (type 0x01) key")
        signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.id != kid:
            raise NoteError("signer key id does not match its name and key")
        return signer


@dataclass(frozen=True)
class NoteSignature:
    name: str
    id: int
    signature: bytes


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text contains a control character")


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note: ``text``, a blank line, one signature line per signer."""
    _check_text(text)
    lines = []
    message = text.encode()
    for s in signers:
        blob = struct.pack(">I", s.verifier.id) + s.sign(message)
        lines.append(f"{SIG_PREFIX}{s.name} {base64.b64encode(blob).decode()}\n")
    return text + "\n" + "".join(lines)


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signatures (no verification)."""
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("signed note too large")
    if not note.endswith("\n"):
        raise NoteError("signed note must end with a newline")
    _check_text(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("signed note has no blank line before its signatures")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    sigs: list[NoteSignature] = []
    for line in sig_block.splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed signature line")
        fields = line[len(SIG_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise NoteError("malformed signature line")
        name, b64 = fields
        _check_name(name)
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError("signature is not valid base64") from None
        if base64.b64encode(blob).decode() != b64:
            # the unused low bits of the last character (before '=') decode to the same
            # bytes: only the one encoding is the signature, so no other text passes
            raise NoteError("signature is not canonical base64")
        if len(blob) < 5:
            raise NoteError("signature too short")
        sigs.append(NoteSignature(name, struct.unpack(">I", blob[:4])[0], blob[4:]))
    if not sigs:
        raise NoteError("signed note has no signature")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError("signed note has too many signatures")
    return text, sigs


def open_note(note: str, *verifiers: Verifier) -> str:
    """The note's text, once a trusted key's signature verifies.

    Signatures by unknown keys are ignored (as the spec requires); a failing
    signature by a known key rejects the whole note; so does having none.
    """
    text, sigs = parse_note(note)
    known = {(v.name, v.id): v for v in verifiers}
    verified = 0
    for sig in sigs:
        v = known.get((sig.name, sig.id))
        if v is None:
            continue
        try:
            v.key.verify(sig.signature, text.encode())
        except InvalidSignature:
            raise NoteError(f"signature by {sig.name} does not verify") from None
        verified += 1
    if not verified:
        raise NoteError("no signature by a trusted key")
    return text


__all__ = [
    "NoteError",
    "NoteSignature",
    "Signer",
    "Verifier",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]
