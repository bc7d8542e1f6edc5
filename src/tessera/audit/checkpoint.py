"""C2SP ``tlog-checkpoint``: the signed statement "my log has N entries, root R".

The note text is exactly ``<origin>\\n<tree size>\\n<base64 root hash>\\n``
(https://c2sp.org/tlog-checkpoint); it is signed as a C2SP signed note by the
node's key. A checkpoint handed to someone else (another agency, a witness) pins
the log: any later checkpoint must be consistent with it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from tessera.audit.merkle import HASH_SIZE
from tessera.audit.note import NoteError, Signer, Verifier, open_note, sign_note


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be one non-empty line")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def sign(self, signer: Signer) -> str:
        return sign_note(self.text(), signer)

    @staticmethod
    def parse_text(text: str) -> Checkpoint:
        """Read the body; extension lines after the root are allowed and ignored."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint has an origin, a size and a root line")
        origin, size_s, root_s = lines[0], lines[1], lines[2]
        if not origin:
            raise NoteError("checkpoint origin is empty")
        if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise NoteError(f"checkpoint size {size_s!r} is not a decimal number")
        try:
            root = base64.b64decode(root_s, validate=True)
        except binascii.Error:
            raise NoteError("checkpoint root is not base64") from None
        if len(root) != HASH_SIZE:
            raise NoteError("checkpoint root is not a SHA-256 hash")
        return Checkpoint(origin, int(size_s), root)

    @staticmethod
    def open(note: str, *verifiers: Verifier) -> Checkpoint:
        """Verify the signed note, then read the checkpoint in it."""
        return Checkpoint.parse_text(open_note(note, *verifiers))


__all__ = ["Checkpoint"]
