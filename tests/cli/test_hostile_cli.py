"""Hostile names, special files, permissions and exit codes through the real CLI
(issue 10, defects 2, 3, 11, 12, 13 and the "identified by None" of 15).

Every test here failed on main before the fix; each runs ``tessera`` in a subprocess
(as a user would, with the process-wide terminal escaping and umask of ``main``).
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.demo.samples import synthetic_picture

TESSERA = str(Path(sys.executable).parent / "tessera")
BAD_UTF8 = os.fsdecode(b"bad-\xff\xfe-name.jpg")  # not UTF-8: a lone-surrogate str
OSC = "osc-\x1b]0;pwned\x07-\x1b[31mred\x1b[0m.jpg"


def _cli(home: Path | None, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess[bytes]:
    """Run tessera with bytes output (undecodable or escape bytes must be seen as sent)."""
    cmd = [TESSERA, *(["--home", str(home)] if home else []), *args]
    env = {k: v for k, v in os.environ.items() if k not in ("TESSERA_HOME", "TESSERA_DATABASE_URL")}
    return subprocess.run(
        cmd, capture_output=True, timeout=300, env=env, preexec_fn=lambda: os.umask(umask)
    )


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    synthetic_picture(320, 240, seed).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile-cli")
    home, known, seizure, outside = root / "home", root / "known", root / "seizure", root / "out"
    known.mkdir()
    (known / "k1.jpg").write_bytes(_jpeg(1))
    (known / "k2.jpg").write_bytes(_jpeg(2))
    steps = [
        ("init",),
        ("agency", "create", "NL", "--country", "NL", "--name", "NL unit"),
        ("series", "create", "Amber", "--agency", "NL"),
        ("series", "set", "Amber", "--victim-identified"),
        ("ingest", str(known), "--agency", "NL", "--case", "K1", "--series", "Amber"),
    ]
    for step in steps:
        r = _cli(home, *step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    seizure.mkdir()
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(_jpeg(7))
    (seizure / "new.jpg").write_bytes(_jpeg(3))
    (seizure / BAD_UTF8).write_bytes(_jpeg(4))
    (seizure / OSC).write_bytes(_jpeg(5))
    (seizure / "link-out.jpg").symlink_to(outside / "secret.jpg")
    os.mkfifo(seizure / "pipe.jpg")
    return {"home": home, "known": known, "seizure": seizure, "root": root}


def _strict_json(raw: bytes) -> dict:  # type: ignore[type-arg]
    text = raw.decode("utf-8")  # strict: no undecodable bytes
    assert "\\ud" not in text.lower(), "lone surrogate escapes in JSON"
    return json.loads(text)  # type: ignore[no-any-return]


# ---- defect 2: invalid UTF-8 names -------------------------------------------------


def test_hash_json_has_no_lone_surrogates(world: dict[str, Path]) -> None:
    r = _cli(None, "hash", "--json", "--workers", "1", str(world["seizure"]))
    doc = _strict_json(r.stdout)
    names = {Path(x["path"]).name: x for x in doc["results"]}
    assert names["bad-\\xff\\xfe-name.jpg"]["status"] == "ok"
    assert names["pipe.jpg"]["status"] == "skipped"


def test_triage_html_with_undecodable_name_is_written_whole(world: dict[str, Path]) -> None:
    report = world["root"] / "r-names.html"
    r = _cli(world["home"], "triage", str(world["seizure"]), "--no-scenes", "--html", str(report))
    assert r.returncode in (0, 1), r.stderr
    text = report.read_bytes().decode("utf-8")
    assert "bad-\\xff\\xfe-name.jpg" in text
    assert text.rstrip().endswith("</html>")


def test_triage_json_has_no_lone_surrogates(world: dict[str, Path]) -> None:
    r = _cli(world["home"], "triage", str(world["seizure"]), "--no-scenes", "--json")
    doc = _strict_json(r.stdout)
    assert any("bad-\\xff\\xfe-name.jpg" in it["path"] for it in doc["results"])


# ---- defect 3: FIFO and symlink in the seizure ---------------------------------------


def test_triage_html_neither_hangs_on_a_fifo_nor_shows_a_symlink_target(
    world: dict[str, Path],
) -> None:
    report = world["root"] / "r-special.html"
    r = _cli(
        world["home"],
        "triage",
        str(world["seizure"]),
        "--no-scenes",
        "--html",
        str(report),
        "--thumbnails",
        "clear",
    )  # on main this never returned (the subprocess timeout fails the test)
    assert r.returncode in (0, 1), r.stderr
    html = report.read_text("utf-8")
    rows = [row.split("</tr>")[0] for row in html.split("<tr>") if "class='path'" in row]
    by_name = {
        name: row for row in rows for name in ("link-out.jpg", "pipe.jpg", "new.jpg") if name in row
    }
    assert "<img" in by_name["new.jpg"]
    osc_row = next(row for row in rows if "osc-" in row)
    assert "<img" in osc_row  # a name shown escaped is still read under its real name
    assert "<img" not in by_name["link-out.jpg"]  # skipped: never read, never shown
    assert "<img" not in by_name["pipe.jpg"]


# ---- defect 11: terminal escape injection ---------------------------------------------


@pytest.mark.parametrize("command", ["hash", "triage"])
def test_names_with_escape_sequences_never_reach_the_terminal_raw(
    world: dict[str, Path], command: str
) -> None:
    args = ["hash", "--workers", "1"] if command == "hash" else ["triage", "--no-scenes"]
    r = _cli(world["home"], *args, str(world["seizure"] / OSC))
    out = r.stdout + r.stderr
    assert b"\x1b" not in out and b"\x07" not in out
    assert b"osc-\\x1b]0;pwned\\x07-\\x1b[31mred" in out


def test_error_messages_are_escaped_too(world: dict[str, Path]) -> None:
    r = _cli(world["home"], "series", "show", "no-such-\x1b[2Jseries")
    assert r.returncode == 4
    assert b"\x1b" not in r.stderr and b"\\x1b[2J" in r.stderr


# ---- defect 12: permissions -------------------------------------------------------------


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_everything_tessera_writes_is_owner_only_under_umask_022(world: dict[str, Path]) -> None:
    home = world["home"]
    report = world["root"] / "r-perm.html"
    _cli(home, "triage", str(world["known"]), "--no-scenes", "--html", str(report))
    assert _mode(home) == 0o700
    assert _mode(report) == 0o600
    written = [p for p in home.rglob("*")]
    assert any(p.name == "tessera.sqlite" for p in written)
    assert any(p.is_file() and "index" in p.parts for p in written)
    for p in written:
        assert _mode(p) == (0o700 if p.is_dir() else 0o600), p


def test_init_restricts_an_existing_world_readable_database(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert _cli(home, "init", umask=0o022).returncode == 0
    (home / "tessera.sqlite").chmod(0o644)
    assert _cli(home, "init").returncode == 0
    assert _mode(home / "tessera.sqlite") == 0o600


# ---- defect 13: exit codes and checks up front ---------------------------------------------


def test_triage_of_a_missing_path_exits_1(world: dict[str, Path], tmp_path: Path) -> None:
    r = _cli(world["home"], "triage", str(tmp_path / "nonexistent"), "--no-scenes")
    assert r.returncode == 1, r.stdout
    assert b"not-found" in r.stdout


def test_triage_with_failed_files_exits_1_and_known_wins(world: dict[str, Path]) -> None:
    broken = world["root"] / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "b.jpg").write_bytes(b"\xff\xd8\xff\xdb truncated")
    assert _cli(world["home"], "triage", str(broken), "--no-scenes").returncode == 1
    both = world["root"] / "both"
    both.mkdir(exist_ok=True)
    (both / "b.jpg").write_bytes(b"\xff\xd8\xff\xdb truncated")
    (both / "k.jpg").write_bytes((world["known"] / "k1.jpg").read_bytes())
    r = _cli(world["home"], "triage", str(both), "--no-scenes")
    assert r.returncode == 10
    # the terminal summary lists the files that need a look, the failed one included
    assert b"known" in r.stdout and b"b.jpg" in r.stdout and b"truncated" in r.stdout


def test_html_into_a_missing_folder_is_refused_before_any_work(world: dict[str, Path]) -> None:
    r = _cli(world["home"], "triage", str(world["known"]), "--html", "/nonexistent-dir/x/r.html")
    assert r.returncode == 2, r.stderr
    assert b"does not exist" in r.stderr
    assert r.stdout == b""  # no triage ran


def test_stats_on_a_mistyped_home_is_a_config_error_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "typo"
    r = _cli(typo, "stats")
    assert r.returncode == 3, r.stderr
    assert b"tessera init" in r.stderr
    assert not typo.exists()


def test_unreachable_postgresql_is_a_config_error_without_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://someone:s3cret-pw@127.0.0.1:9/nodb?connect_timeout=3"
    r = _cli(tmp_path, "--db", url, "stats")
    assert r.returncode == 3, r.stderr
    assert b"cannot open the database" in r.stderr
    assert b"s3cret-pw" not in r.stderr


# ---- defect 15: "identified by None" ----------------------------------------------------------


def test_series_identified_without_by_does_not_print_none(world: dict[str, Path]) -> None:
    r = _cli(world["home"], "triage", str(world["known"]), "--no-scenes")
    assert r.returncode == 10
    assert b"by None" not in r.stdout
    assert b"victim identified" in r.stdout


def test_series_show_prints_yes_no_and_dashes_not_python_values(world: dict[str, Path]) -> None:
    """Defect 15: ``series show`` printed raw ``None`` / ``True`` / ``False``."""
    r = _cli(world["home"], "series", "show", "Amber")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(None, 1) for line in r.stdout.decode().splitlines() if " " in line)
    assert lines["victim_identified"].strip() == "yes"
    assert lines["offender_identified"].strip() == "no"
    assert lines["contact"].strip() == "-"
    assert not any(v.strip() in ("None", "True", "False") for v in lines.values())


def test_link_media_takes_a_media_id_like_every_other_command(world: dict[str, Path]) -> None:
    """Defect 15: ``link --media`` wanted a SHA-256 where everything else uses ids."""
    by_id = _cli(world["home"], "link", "location", "Park bench", "--media", "1")
    assert by_id.returncode == 0, by_id.stderr
    missing = _cli(world["home"], "link", "location", "Nowhere", "--media", "999999")
    assert missing.returncode == 4, missing.stderr
