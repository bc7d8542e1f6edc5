"""Issue 10 item 4 / defect 9: concurrent ``tessera ingest`` runs into one home.

Three ingest processes start at once: two of different folders and cases (sharing
some pictures), and a third of the same folder and case as the first. On main
before the fix, the PDQ index on disk lost the fingerprints other runs committed
(30 in the database, 13 in the index) and the same-root run died with exit 70 on
``ingest_item``'s unique key. Afterwards every run must end normally, the index files
must hold every PDQ fingerprint of the database, and triage must find every picture
(as resized copies, so through the PDQ index, not the exact digests).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

from tessera.demo.samples import synthetic_picture
from tessera.index import PdqIndex

TESSERA = str(Path(sys.executable).parent / "tessera")
PER_FOLDER = 18
SHARED = 4  # pictures present in both folders (same bytes)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=600
    )


def _folders(tmp: Path) -> tuple[Path, Path, list[int]]:
    a, b = tmp / "a", tmp / "b"
    a.mkdir()
    b.mkdir()
    seeds = []
    for i in range(PER_FOLDER):
        synthetic_picture(320, 240, 100 + i).save(a / f"a{i:02d}.jpg", "JPEG", quality=90)
        seeds.append(100 + i)
    for i in range(PER_FOLDER):
        seed = 100 + i if i < SHARED else 200 + i  # the first few are the same pictures as in a
        synthetic_picture(320, 240, seed).save(b / f"b{i:02d}.jpg", "JPEG", quality=90)
        if i >= SHARED:
            seeds.append(seed)
    return a, b, seeds


def test_three_concurrent_ingests_leave_database_and_index_consistent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "init").returncode == 0
    assert _cli(home, "agency", "create", "XX", "--country", "NL", "--name", "x").returncode == 0
    a, b, seeds = _folders(tmp_path)
    common = ["--agency", "XX", "--no-features", "--workers", "1", "--batch-size", "2", "--json"]
    runs = [
        (a, "C1"),
        (b, "C2"),
        (a, "C1"),  # the same root and case as the first, at the same time
    ]
    procs = [
        subprocess.Popen(
            [TESSERA, "--home", str(home), "ingest", str(root), "--case", case, *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root, case in runs
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, (p.returncode, out, err)
        summary = json.loads(out)
        assert summary["errors"] == 0

    con = sqlite3.connect(home / "tessera.sqlite")
    try:
        media = con.execute("SELECT count(*) FROM media").fetchone()[0]
        pdq = con.execute("SELECT id, value FROM fingerprint WHERE algorithm = 'pdq'").fetchall()
        sightings = con.execute(
            "SELECT count(*), count(DISTINCT case_id || ':' || original_path) FROM sighting"
        ).fetchone()
        items_c1 = con.execute(
            "SELECT count(*) FROM ingest_item i JOIN ingest_run r ON r.id = i.run_id "
            "JOIN cases c ON c.id = r.case_id WHERE c.number = 'C1'"
        ).fetchone()[0]
    finally:
        con.close()
    assert media == len(seeds) == 2 * PER_FOLDER - SHARED
    assert len(pdq) == media
    assert sightings[0] == sightings[1] == 2 * PER_FOLDER  # no duplicate sighting
    assert items_c1 >= PER_FOLDER

    # the index files on disk (not a fresh catch-up) hold every PDQ fingerprint
    index = PdqIndex.load(home / "index")
    missing = [
        fid
        for fid, value in pdq
        if fid not in {i for i, _ in index.search_one(np.frombuffer(value, np.uint8), radius=0)}
    ]
    assert not missing, f"{len(missing)} of {len(pdq)} PDQ fingerprints not in the index files"

    # triage finds every picture as a resized copy (through the PDQ index)
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    for seed in seeds:
        synthetic_picture(320, 240, seed).resize((224, 168)).save(seizure / f"s{seed}.png", "PNG")
    t = _cli(home, "triage", str(seizure), "--json", "--no-scenes", "--workers", "1")
    assert t.returncode == 10, t.stderr
    doc = json.loads(t.stdout)
    statuses = {Path(r["path"]).name: r["status"] for r in doc["results"]}
    assert statuses == {f"s{seed}.png": "near" for seed in seeds}
