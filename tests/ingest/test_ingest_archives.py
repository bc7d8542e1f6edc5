"""Ingest and triage open archives: members are recorded under virtual paths."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tessera.demo.samples import synthetic_picture

TESSERA = str(Path(sys.executable).parent / "tessera")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=300
    )


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    synthetic_picture(400, 300, seed).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_nested_archive_members_are_ingested_and_triaged(tmp_path: Path) -> None:
    """A zip holding a picture and a tar (holding another) yields both, with !/ paths."""
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        data = _jpeg(2)
        info = tarfile.TarInfo("deep/b.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../etc/evil.jpg")
        evil.size = len(data)
        tar.addfile(evil, io.BytesIO(data))
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    with zipfile.ZipFile(evidence / "seized.zip", "w") as z:
        z.writestr("a.jpg", _jpeg(1))
        z.writestr("more/inner.tar", inner.getvalue())
    home = tmp_path / "home"
    assert _cli(home, "init").returncode == 0
    assert _cli(home, "agency", "create", "NL", "--country", "NL", "--name", "nl").returncode == 0
    r = _cli(home, "ingest", str(evidence), "--agency", "NL", "--case", "1", "--json")
    summary = json.loads(r.stdout)
    assert r.returncode == 1  # the traversal member is refused and reported
    assert summary["errors_by_reason"] == {"path-traversal": 1}
    # new media: a.jpg, b.jpg and the zip file itself (a refused member is never read)
    assert summary["new_media"] == 3
    con = sqlite3.connect(home / "tessera.sqlite")
    items = dict(con.execute("SELECT path, status FROM ingest_item").fetchall())
    con.close()
    zip_path = str(evidence / "seized.zip")
    assert items == {
        f"{zip_path}!/a.jpg": "new",
        f"{zip_path}!/more/inner.tar!/deep/b.jpg": "new",
        f"{zip_path}!/more/inner.tar!/../../etc/evil.jpg": "error",
        zip_path: "new",
    }
    assert not (tmp_path / "etc").exists() and not Path("/etc/evil.jpg").exists()
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    (seizure / "copy-of-b.jpg").write_bytes(_jpeg(2))
    t = _cli(home, "triage", str(seizure), "--json")
    doc = json.loads(t.stdout)
    assert t.returncode == 10
    assert doc["results"][0]["status"] == "known"
