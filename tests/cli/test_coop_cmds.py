"""``tessera notifications``, ``overlap``, ``negative``, ``dispute`` as a user types them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from click.testing import CliRunner, Result

from tessera.app import App, Settings, lookup
from tessera.cli.main import cli
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
