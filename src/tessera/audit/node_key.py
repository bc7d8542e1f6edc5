"""The node's identity: one Ed25519 key in ``HOME/keys``, made at ``tessera init``.

It signs the audit trail's checkpoints now and federation messages later. It is
generated from the OS random source on the machine that runs the node and never
has a default. The private key lives in ``HOME/keys/node.key`` (folder mode 0700,
file mode 0600, written atomically) in the Go ``sumdb/note`` signer form; a key
file that others may read is refused, as ssh refuses one. The public verifier key
(``<name>+<id>+<key>``) is printed by ``tessera node key`` and saved beside it in
``node.pub`` for anyone who checks our checkpoints.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from tessera.audit.note import NoteError, Signer, Verifier
from tessera.errors import ConfigError

KEYS_DIR = "keys"
KEY_FILE = "node.key"
PUB_FILE = "node.pub"
_NAME = re.compile(r"^[A-Za-z0-9._/:-]{1,200}$")


def key_path(home: Path) -> Path:
    return home / KEYS_DIR / KEY_FILE


def check_node_name(name: str) -> str:
    """A key name the signed-note spec accepts (no spaces, no '+')."""
    if not _NAME.match(name):
        raise ConfigError(
            f"node name {name!r} must be 1-200 characters of letters, digits and ._/:- "
            "(a schema-less URL such as tessera.example.org/nl-npu is recommended)"
        )
    return name


def create_node_key(home: Path, name: str) -> tuple[Signer, bool]:
    """The node key in ``home``: created if missing. Returns (signer, created)."""
    path = key_path(home)
    if path.exists():
        return load_node_key(home), False
    check_node_name(name)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    signer = Signer.generate(name)
    tmp = folder / f".{KEY_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(signer.text() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    (folder / PUB_FILE).write_text(signer.verifier.text() + "\n", encoding="ascii")
    return signer, True


def load_node_key(home: Path) -> Signer:
    """The node's signing key; a missing, unreadable or exposed file is refused."""
    path = key_path(home)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"no node key at {path}; run `tessera init` on this node to create one"
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"node key {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        return Signer.parse(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, NoteError) as exc:
        raise ConfigError(f"node key {path} cannot be read: {exc}") from None


def load_node_verifier(home: Path) -> Verifier:
    return load_node_key(home).verifier


__all__ = [
    "check_node_name",
    "create_node_key",
    "key_path",
    "load_node_key",
    "load_node_verifier",
]
