"""``tessera triage`` run again after an interruption says it resumes (stderr), carries
it in the JSON (``summary.resumed``), still gives every file its verdict line in --stream,
and --no-resume starts over. An interruption is a ``KeyboardInterrupt`` (Ctrl-C)
raised inside the run after two verdict chunks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tessera.cli.main import cli
from tessera.demo.samples import synthetic_picture
from tessera.matching.triage import run as triage_run

CHUNK = 8


@pytest.fixture
def seizure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "seizure"
    folder.mkdir()
    for k in range(30):
        synthetic_picture(96, 72, 300 + k).save(folder / f"p{k:02d}.jpg", "JPEG", quality=90)
    monkeypatch.setattr(triage_run, "VERDICT_CHUNK", CHUNK)
    return folder


def _triage(home: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(
        cli, ["--home", str(home), "triage", "--workers", "1", *map(str, args)]
    )


def _interrupt(home: Path, seizure: Path, mp: pytest.MonkeyPatch) -> None:
    calls = 0
    real = triage_run._verdict_steps

    def steps(*a: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    with mp.context() as m:
        m.setattr(triage_run, "_verdict_steps", steps)
        r = _triage(home, seizure, "--json")
    assert r.exit_code != 0 and not r.stdout.strip()


def test_a_resumed_run_says_so_and_streams_every_verdict(
    tmp_path: Path, seizure: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    assert CliRunner().invoke(cli, ["--home", str(home), "init"]).exit_code == 0
    whole = _triage(home, seizure, "--json")
    assert whole.exit_code == 0, whole.output
    expected = json.loads(whole.stdout)
    assert expected["summary"]["resumed"] is None

    _interrupt(home, seizure, monkeypatch)
    r = _triage(home, seizure, "--stream")
    assert r.exit_code == 0, r.output
    assert f"resuming an interrupted triage: {2 * CHUNK} files" in r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    verdicts = [d["path"] for d in lines if d["stage"] == "verdict"]
    assert verdicts == [it["path"] for it in expected["results"]]
    done = lines[-1]
    assert done["stage"] == "done"
    assert done["summary"].pop("resumed") == {"files": 2 * CHUNK, "leads": 0}
    expected["summary"].pop("resumed")
    assert {k: v for k, v in done.items() if k != "stage"} == expected

    _interrupt(home, seizure, monkeypatch)
    r = _triage(home, seizure, "--json", "--no-resume")
    assert r.exit_code == 0, r.output
    assert "resuming" not in r.stderr
    again = json.loads(r.stdout)
    assert again["summary"].pop("resumed") is None
    assert again == expected


@pytest.mark.parametrize("stage_off", ["--no-scenes", "--no-leads"])
def test_stream_without_a_leads_stage_still_gives_every_verdict_line(
    tmp_path: Path, seizure: Path, stage_off: str
) -> None:
    home = tmp_path / "home"
    assert CliRunner().invoke(cli, ["--home", str(home), "init"]).exit_code == 0
    r = _triage(home, seizure, "--stream", stage_off)
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["stage"] for d in lines] == ["verdict"] * 30 + ["done"]
    assert [d["path"] for d in lines[:-1]] == [it["path"] for it in lines[-1]["results"]]
    assert [d["status"] for d in lines[:-1]] == [it["status"] for it in lines[-1]["results"]]
