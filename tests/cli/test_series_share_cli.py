"""``tessera series share`` and the sharing lines of ``series show``, as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tessera.cli.main import cli, main


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def _node(home: Path) -> None:
    assert run(home, "init", "--node-name", "test.example/nl").exit_code == 0
    for code, country in (("NL-A", "NL"), ("DE-C", "DE")):
        r = run(home, "agency", "create", code, "--country", country, "--name", code)
        assert r.exit_code == 0, r.output
    assert run(home, "series", "create", "Series Amber", "--agency", "NL-A").exit_code == 0


def test_share_and_show(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _node(home)
    shown = json.loads(run(home, "series", "show", "Series Amber", "--json").output)
    assert shown["sharing"] == [] and shown["level"] == "full"  # default: no grant rows
    r = run(home, "series", "share", "Series Amber", "--level", "none", "--network")
    assert r.exit_code == 0, r.output
    r = run(
        home,
        "series",
        "share",
        "Series Amber",
        "--level",
        "full",
        "--country",
        "de",
        "--country",
        "BE",
    )
    assert r.exit_code == 0 and "BE, DE now at full" in r.output.replace("DE, BE", "BE, DE")
    r = run(
        home, "series", "share", "Series Amber", "--level", "hash", "--agency", "DE-C", "--json"
    )
    data = json.loads(r.output)
    assert data["changed"] == ["DE-C"] and data["level"] == "hash"
    assert [(g["scope"], g["grantee"], g["level"]) for g in data["grants"]] == [
        ("network", "*", "none"),
        ("country", "BE", "full"),
        ("country", "DE", "full"),
        ("agency", "DE-C", "hash"),
    ]
    text = run(home, "series", "show", "Series Amber").output
    assert "shared with the network" in text and "none" in text
    assert "shared with agency DE-C" in text


def _exit(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str]:
    """Through ``main``, as the console script runs: errors become exit codes."""
    with pytest.raises(SystemExit) as done:
        main(["--home", str(home), *args])
    return int(done.value.code or 0), capsys.readouterr().err


def test_share_errors_exit_with_the_documented_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    _node(home)
    share = ("series", "share", "Series Amber", "--level")
    assert _exit(capsys, home, *share, "everything")[0] == 2  # usage: not a level
    code, err = _exit(capsys, home, *share, "full", "--network", "--country", "DE")
    assert code == 2 and "not both" in err
    assert _exit(capsys, home, "series", "share", "Nope", "--level", "full")[0] == 4
    code, err = _exit(capsys, home, *share, "full", "--agency", "NL-A")
    assert code == 2 and "owns series" in err
    assert _exit(capsys, home, *share, "full", "--agency", "XX")[0] == 4
    assert _exit(capsys, home, *share, "full", "--country", "Germany")[0] == 2
