"""``tessera peer add ... --country --agency`` on a hub: whom a node serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tessera.audit.note import Signer
from tessera.cli.main import cli
from tessera.errors import InvalidInput


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_peer_add_with_country_and_agencies(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert run(home, "init", "--node-name", "hub.test").exit_code == 0
    key = Signer.generate("b.test").verifier.text()
    r = run(
        home, "peer", "add", "b", "http://127.0.0.1:9", "--key", key,
        "--country", "de", "--agency", "DE-B", "--agency", "DE-Z", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    added = json.loads(r.output)
    assert added["country"] == "DE" and added["agencies"] == ["DE-B", "DE-Z"]
    (listed,) = json.loads(run(home, "peer", "list", "--json").output)
    assert listed["name"] == "b" and listed["country"] == "DE"
    with pytest.raises(InvalidInput, match="two-letter"):
        run(home, "peer", "add", "c", "http://x", "--key", key, "--country", "DEU")
