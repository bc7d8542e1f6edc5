"""``tessera import`` / ``export`` end to end: hash-only media are triaged as known by
MD5, a later ingest of the file merges into the same media item, exit codes."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tessera.demo.samples import synthetic_picture

TESSERA = str(Path(sys.executable).parent / "tessera")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=300
    )


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_hash_only_record_is_known_then_merged_by_ingest(tmp_path: Path) -> None:
    home, seized = tmp_path / "home", tmp_path / "seized"
    seized.mkdir()
    data = _jpeg(synthetic_picture(640, 480, 7))
    (seized / "p.jpg").write_bytes(data)
    md5, sha1 = hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest()
    icse = tmp_path / "icse.csv"
    icse.write_text(
        "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
        "Series name;Number of submissions;File Available;Media Type;Baseline\n"
        f"{md5.upper()};{sha1};AAEC;77;true;false;false;Amber;3;false;Image;true\n"
    )
    for step in (
        ("init",),
        ("agency", "create", "NL", "--country", "NL", "--name", "NL unit"),
    ):
        assert _cli(home, *step).returncode == 0
    r = _cli(home, "import", "icse-csv", str(icse), "--agency", "NL", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["path"] == str(icse) and summary["status"] == "imported"
    assert summary["new_media"] == 1 and summary["series_created"] == ["Amber"]

    # triage finds the file known through the imported MD5 (no SHA-256 stored)
    r = _cli(home, "triage", str(seized), "--json", "--no-scenes", "--no-progress")
    assert r.returncode == 10, r.stderr
    hit = json.loads(r.stdout)["results"][0]
    assert hit["status"] == "known" and hit["matches"][0]["via"] == "md5"
    assert hit["matches"][0]["series"] == ["Amber"]

    # the hash-only item can be shown and listed (no SHA-256, no size)
    r = _cli(home, "media", "show", md5, "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    item = shown.get("media", shown)
    assert item["md5"] == md5 and item["sha1"] == sha1
    assert item["sha256"] is None and item["byte_size"] is None
    r = _cli(home, "media", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert md5 in r.stdout
    for text_form in (("media", "show", md5), ("media", "list")):
        r = _cli(home, *text_form)
        assert r.returncode == 0, r.stderr
        assert (md5 if text_form[1] == "show" else sha1) in r.stdout

    # ingesting the file itself completes the same media item
    r = _cli(home, "ingest", str(seized), "--agency", "NL", "--case", "K1", "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(_cli(home, "stats", "--json").stdout)
    assert stats["media"] == 1
    out = tmp_path / "back.csv"
    r = _cli(home, "export", "hashlist", "-o", str(out))
    assert r.returncode == 0, r.stderr
    lines = set(out.read_text().splitlines())
    assert f"sha256 {hashlib.sha256(data).hexdigest()}" in lines
    assert "photodna AAEC" in lines and f"md5 {md5}" in lines
    # the PDQ computed by ingest now travels too
    assert any(line.startswith("pdq ") for line in lines)
    r = _cli(home, "export", "vics", "--vics-root", "Cases")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["@odata.context"].endswith("$metadata#Cases")
    assert [m["MD5"] for case in doc["value"] for m in case["Media"]] == [md5.upper()]


def test_bad_file_exit_code_and_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _cli(home, "init").returncode == 0
    assert _cli(home, "agency", "create", "NL", "--country", "NL", "--name", "x").returncode == 0
    bad = tmp_path / "bad.txt"
    bad.write_text("md5 " + "0" * 32 + "\nmd5 xyz\n")
    r = _cli(home, "import", "hashlist", str(bad), "--agency", "NL")
    assert r.returncode == 2
    assert "record 2, line 2, field md5" in r.stderr
    r = _cli(home, "export", "hashlist")
    assert r.returncode == 0 and r.stdout == ""  # nothing was imported
