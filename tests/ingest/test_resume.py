"""Kill -9 in the middle of ``tessera ingest``; the re-run leaves no duplicates and no gaps."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tessera.demo.samples import synthetic_picture
from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.matching.pdq_store import PdqStore
from tessera.storage.db import Database

TESSERA = str(Path(sys.executable).parent / "tessera")
N_FILES = 160


def _make_seizure(folder: Path) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(N_FILES):
        sub = folder / f"dir{i % 4}"
        sub.mkdir(exist_ok=True)
        p = sub / f"img{i:03d}.jpg"
        synthetic_picture(480, 360, 5000 + i % 150).save(p, "JPEG", quality=90)  # 10 repeats
        paths.append(p)
    (folder / "dir0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    paths.append(folder / "dir0" / "broken.jpg")
    return paths


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=300
    )


def _items(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    try:
        con = sqlite3.connect(db_file, timeout=5)
        try:
            return int(con.execute("SELECT count(*) FROM ingest_item").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _ingest_and_kill(home: Path, seizure: Path, after_items: int) -> int:
    """Start an ingest, SIGKILL it once ``after_items`` items are committed; return count."""
    proc = subprocess.Popen(
        [
            TESSERA,
            "--home",
            str(home),
            "ingest",
            str(seizure),
            "--agency",
            "NL",
            "--case",
            "C-1",
            "--batch-size",
            "8",
            "--workers",
            "1",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db_file = home / "tessera.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if _items(db_file) >= after_items:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (
        f"finished before kill ({after_items=}, {_items(db_file)=})"
    )
    return _items(db_file)


@pytest.mark.slow
def test_kill_nine_then_resume_has_no_duplicates_or_gaps(tmp_path: Path) -> None:
    """Two kills at different points, then a re-run: every file recorded exactly once."""
    home, seizure = tmp_path / "home", tmp_path / "seizure"
    paths = _make_seizure(seizure)
    assert _cli(home, "init").returncode == 0
    assert _cli(home, "agency", "create", "NL", "--country", "NL", "--name", "nl").returncode == 0

    first = _ingest_and_kill(home, seizure, 20)
    second = _ingest_and_kill(home, seizure, first + 30)
    assert 0 < first < second < len(paths)

    done = _cli(
        home,
        "ingest",
        str(seizure),
        "--agency",
        "NL",
        "--case",
        "C-1",
        "--json",
        "--workers",
        "2",
        "--batch-size",
        "8",
    )
    assert done.returncode == 1, done.stderr  # the broken file is reported as an error
    assert '"resumed": true' in done.stdout

    con = sqlite3.connect(home / "tessera.sqlite")
    (runs,) = con.execute("SELECT count(*) FROM ingest_run").fetchone()
    assert runs == 1, "the re-run must resume the unfinished run, not start another"
    items = con.execute("SELECT path, count(*) FROM ingest_item GROUP BY path").fetchall()
    assert sorted(p for p, _ in items) == sorted(str(p) for p in paths), "gaps"
    assert all(n == 1 for _, n in items), "duplicate items"
    (sightings,) = con.execute("SELECT count(*) FROM sighting").fetchone()
    assert sightings == len(paths)  # the broken file too: its exact digests still count
    distinct = {hashlib.sha256(p.read_bytes()).digest() for p in paths}
    (media,) = con.execute("SELECT count(*) FROM media").fetchone()
    assert media == len(distinct)  # each distinct content is one media row
    dup = con.execute(
        "SELECT count(*) FROM (SELECT case_id, original_path FROM sighting "
        "GROUP BY case_id, original_path HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dup == 0
    (fps,) = con.execute("SELECT count(*) FROM fingerprint WHERE algorithm='pdq'").fetchone()
    assert fps == 150  # one per distinct picture
    (finished,) = con.execute("SELECT finished_at IS NOT NULL FROM ingest_run").fetchone()
    assert finished
    con.close()

    # The index, saved only now and then, caught up: every picture finds itself.
    db = Database(f"sqlite:///{home / 'tessera.sqlite'}")
    store = PdqStore(db, home / "index")
    assert len(store.index) == fps
    probe = [paths[0], paths[77], paths[149]]
    codes = np.stack(
        [
            np.frombuffer(
                pdq_hash_rgb(np.asarray(Image.open(p).convert("RGB"))).fingerprint.payload,
                dtype=np.uint8,
            )
            for p in probe
        ]
    )
    hits = store.search(codes, radius=8)
    assert {h.query for h in hits} == {0, 1, 2}
