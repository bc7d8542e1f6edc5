"""``tessera notifications``, ``overlap``, ``negative``, ``dispute`` as a user types them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner, Result

from tessera.app import App, Settings, lookup
from tessera.cli.main import cli
from tessera.errors import NotFound
from tests.app.test_coop import q, user
from tests.seeding import ensure_agency, random_pdq, seed


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_notifications_overlaps_verdicts_negative(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init", "--node-name", "test.example/nl").exit_code == 0
    with App(Settings.for_home(home)) as app:
        ensure_agency(app.db, "NL-A", "NL")
        ensure_agency(app.db, "DE-B", "DE")
        (item,) = seed(
            app.db, [(b"x", random_pdq(random.Random(1)))], agency="NL-A", series="S-X", case="NL-1"
        )
        lookup.lookup(app, user("DE-B"), [q(item.sha256)])  # DE-B hits NL-A's series
    r = run(home, "notifications", "--unread", "--json")
    assert r.exit_code == 0, r.output
    (n,) = json.loads(r.output)
    assert n["kind"] == "series-hit" and n["agency"] == "NL-A" and n["read"] is False
    assert "DE-B (DE) hit series S-X" in run(home, "notifications").output
    assert (
        "1 notification(s) marked read"
        in run(home, "notifications", "--mark-read", str(n["id"])).output
    )
    assert json.loads(run(home, "notifications", "--unread", "--json").output) == []
    assert json.loads(run(home, "outbox", "--run", "--json").output) == []  # no channel set
    (o,) = json.loads(run(home, "overlap", "list", "--json").output)
    assert o["series"] == "S-X" and o["other_agency"] == "DE-B"
    r = run(home, "dispute", str(item.media_id), "--reason", "duplicate", "--agency", "DE-B")
    assert "disputed by 1" in r.output, r.output
    r = run(home, "negative", "add", "sha256", item.sha256, "--reason", "test frame")
    assert r.exit_code == 0 and "network list" in r.output
    r = run(home, "lookup", item.sha256, "--type", "sha256")
    assert "suppressed: on a negative list (test frame)" in r.output
    r = run(home, "lookup", item.sha256, "--type", "sha256", "--explain")
    assert "DISPUTED by 1 agencies (duplicate)" in r.output
    r = run(home, "lookup", item.sha256, "--type", "sha256", "--json")
    assert json.loads(r.output)["results"][0]["suppressed"] == "test frame"


def _pictures(folder: Path, n: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        path = folder / f"p{i}.png"
        Image.fromarray(small).resize((256, 256), Image.BILINEAR).save(path)
        out.append(path)
    return out


def test_cli_acts_for_an_agency_notifies_and_counts_for_the_flood_guard(tmp_path: Path) -> None:
    """``triage --agency`` / ``lookup --agency`` / TESSERA_NODE_AGENCY: the hits notify the
    series' owner and count for the flood guard, whose thresholds the operator set with
    ``tessera flood`` (here: more than 1 distinct file from at least 2 agencies)."""
    import hashlib

    home = tmp_path / "home"
    pics = _pictures(tmp_path / "pics", 2)
    for step in (
        ("init", "--node-name", "test.example/nl"),
        ("agency", "create", "NL-A", "--country", "NL", "--name", "a"),
        ("agency", "create", "DE-B", "--country", "DE", "--name", "b"),
        ("agency", "create", "FR-C", "--country", "FR", "--name", "c"),
        ("series", "create", "S-Secret", "--agency", "NL-A"),
        (
            "ingest",
            str(tmp_path / "pics"),
            "--agency",
            "NL-A",
            "--case",
            "1",
            "--series",
            "S-Secret",
            "--no-features",
        ),
        ("series", "share", "S-Secret", "--level", "none", "--network"),
    ):
        r = run(home, *step)
        assert r.exit_code == 0, (step, r.output)
    r = run(home, "flood", "--files", "1", "--agencies", "2", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["overridden"] == ["agencies", "files"]
    # an unknown agency is refused, naming it
    r = CliRunner().invoke(cli, ["--home", str(home), "lookup", "00" * 32, "--agency", "XX-9"])
    assert isinstance(r.exception, NotFound) and "XX-9" in str(r.exception)
    # DE-B's triage: its report says new (level none), NL-A is told
    r = run(
        home,
        "triage",
        str(tmp_path / "pics"),
        "--agency",
        "DE-B",
        "--json",
        "--no-scenes",
        "--no-progress",
    )
    doc = json.loads(r.output)
    assert [x["status"] for x in doc["results"]] == ["new", "new"]
    (n,) = json.loads(run(home, "notifications", "--agency", "NL-A", "--json").output)
    assert n["kind"] == "series-hit" and n["payload"]["finder_agency"] == "DE-B"
    assert n["payload"]["via"] == "triage" and n["payload"]["files"] == 2
    # FR-C (configured as the node's agency) looks up p0 by another hash: a second
    # distinct file from a second agency on that item -> quarantined
    sha1 = hashlib.sha1(pics[0].read_bytes()).hexdigest()
    r = CliRunner().invoke(
        cli,
        ["--home", str(home), "lookup", sha1, "--type", "sha1", "--json"],
        env={"TESSERA_NODE_AGENCY": "FR-C"},
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["matched"] == 0  # FR-C sees nothing of it either
    held = json.loads(run(home, "quarantine", "list", "--json").output)
    assert len(held) == 1 and "from 2 agencies" in held[0]["reason"]
    kinds = sorted(x["kind"] for x in json.loads(run(home, "notifications", "--json").output))
    assert kinds == ["quarantine", "series-hit", "series-hit"]
