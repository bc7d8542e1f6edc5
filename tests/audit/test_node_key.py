"""The node key: created once, private, never defaulted, refused when exposed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tessera.audit.node_key import create_node_key, key_path, load_node_key
from tessera.audit.note import Verifier, open_note, sign_note
from tessera.errors import ConfigError


def test_created_private_and_stable(tmp_path: Path) -> None:
    signer, created = create_node_key(tmp_path, "tessera.example.org/nl")
    assert created
    path = key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = create_node_key(tmp_path, "ignored-when-present")
    assert not created_again
    assert again.verifier == signer.verifier
    pub = (path.parent / "node.pub").read_text().strip()
    assert Verifier.parse(pub) == signer.verifier
    assert open_note(sign_note("x\n", load_node_key(tmp_path)), Verifier.parse(pub)) == "x\n"


def test_two_nodes_get_different_keys(tmp_path: Path) -> None:
    a, _ = create_node_key(tmp_path / "a", "n")
    b, _ = create_node_key(tmp_path / "b", "n")
    assert a.verifier.public_bytes != b.verifier.public_bytes


def test_exposed_or_missing_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tessera init"):
        load_node_key(tmp_path)
    create_node_key(tmp_path, "n")
    key_path(tmp_path).chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_node_key(tmp_path)


@pytest.mark.parametrize("name", ["", "has space", "a+b", "x" * 201])
def test_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError):
        create_node_key(tmp_path, name)
