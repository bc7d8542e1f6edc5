"""Triage end to end through the CLI: known, near, new, grouped by series with status."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tessera.demo.samples import synthetic_picture

TESSERA = str(Path(sys.executable).parent / "tessera")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=300
    )


def _jpeg(im: Image.Image, q: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A database with two agencies' series, and a seizure to triage."""
    root = tmp_path_factory.mktemp("triage")
    home, known, seizure = root / "home", root / "known", root / "seizure"
    for sub in ("amber", "birch"):
        (known / sub).mkdir(parents=True)
    for seed in range(10, 14):
        (known / "amber" / f"a{seed}.jpg").write_bytes(_jpeg(synthetic_picture(800, 600, seed)))
    for seed in range(20, 23):
        (known / "birch" / f"b{seed}.jpg").write_bytes(_jpeg(synthetic_picture(800, 600, seed)))
    steps = [
        ("init",),
        ("agency", "create", "NL", "--country", "NL", "--name", "NL unit", "--contact", "nl@x.org"),
        ("agency", "create", "DE", "--country", "DE", "--name", "DE unit"),
        ("series", "create", "Amber", "--agency", "NL"),
        ("series", "create", "Birch", "--agency", "DE"),
        ("series", "set", "Amber", "--victim-identified", "--by", "DE"),
        ("ingest", str(known / "amber"), "--agency", "NL", "--case", "K1", "--series", "Amber"),
        ("ingest", str(known / "birch"), "--agency", "DE", "--case", "K2", "--series", "Birch"),
    ]
    for step in steps:
        r = _cli(home, *step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    seizure.mkdir()
    (seizure / "copy.jpg").write_bytes((known / "amber" / "a10.jpg").read_bytes())
    (seizure / "resized.jpg").write_bytes(_jpeg(synthetic_picture(800, 600, 21).resize((400, 300))))
    (seizure / "mirrored.jpg").write_bytes(_jpeg(ImageOps.mirror(synthetic_picture(800, 600, 12))))
    new = synthetic_picture(800, 600, 99)
    (seizure / "new.jpg").write_bytes(_jpeg(new))
    (seizure / "new-again.png").write_bytes(_png(new.resize((640, 480))))
    (seizure / "other-new.jpg").write_bytes(_jpeg(synthetic_picture(800, 600, 98)))
    (seizure / "broken.jpg").write_bytes(b"\xff\xd8\xff\xdb truncated")
    return {"home": home, "seizure": seizure, "root": root}


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _by_name(doc: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {Path(r["path"]).name: r for r in doc["results"]}


def test_triage_classifies_every_file(world: dict[str, Path]) -> None:
    """Exact copy is known, an edited copy is near, new pictures are new, errors are errors."""
    r = _cli(world["home"], "triage", str(world["seizure"]), "--json", "--no-progress")
    assert r.returncode == 10, r.stderr  # something known was found
    doc = json.loads(r.stdout)
    files = _by_name(doc)
    assert files["copy.jpg"]["status"] == "known"
    assert files["copy.jpg"]["matches"][0]["via"] == "sha256"
    assert files["copy.jpg"]["matches"][0]["series"] == ["Amber"]
    assert files["resized.jpg"]["status"] == "near"
    m = files["resized.jpg"]["matches"][0]
    assert m["via"] == "pdq" and 0 <= m["distance"] <= 31 and m["series"] == ["Birch"]
    # plain PDQ misses the mirror image; triage with scenes finds it (its dihedral PDQ
    # variants, free with the one DCT, or local features)
    mirrored = files["mirrored.jpg"]
    assert mirrored["status"] == "near", mirrored
    first = mirrored["matches"][0]
    assert first["series"] == ["Amber"]
    if first["via"] == "local-features":
        assert "mirrored" in first["reason"]
    else:
        assert first["via"] in {"pdq-flipx", "pdq-flipy"} and first["distance"] <= 31
    assert files["new.jpg"]["status"] == "new" and files["other-new.jpg"]["status"] == "new"
    assert files["broken.jpg"]["status"] == "error"
    assert files["broken.jpg"]["error"]["reason"] in ("corrupt", "truncated")
    assert doc["summary"]["known"] == 1 and doc["summary"]["near"] == 2
    assert len(doc["results"]) == 7
    # hashes only: the mirror image is new
    r = _cli(world["home"], "triage", str(world["seizure"]), "--json", "--no-scenes")
    plain = _by_name(json.loads(r.stdout))
    assert plain["mirrored.jpg"]["status"] == "new" and plain["mirrored.jpg"]["similar"] == []


def test_new_copies_form_one_group(world: dict[str, Path]) -> None:
    """A new picture and its resized PNG copy are one group; another new picture is another."""
    doc = json.loads(
        _cli(world["home"], "triage", str(world["seizure"]), "--json", "--no-leads").stdout
    )
    files = _by_name(doc)
    assert files["new.jpg"]["new_group"] == files["new-again.png"]["new_group"] is not None
    assert files["other-new.jpg"]["new_group"] != files["new.jpg"]["new_group"]
    groups = [sorted(Path(p).name for p in g) for g in doc["new_groups"]]
    assert ["new-again.png", "new.jpg"] in groups


def test_series_status_in_report(world: dict[str, Path]) -> None:
    """Hits are grouped by series with owner, contact and identification status."""
    doc = json.loads(
        _cli(world["home"], "triage", str(world["seizure"]), "--json", "--no-leads").stdout
    )
    series = {s["name"]: s for s in doc["series"]}
    assert set(series) == {"Amber", "Birch"}
    amber = series["Amber"]
    assert amber["owner"] == {
        "agency": "NL",
        "country": "NL",
        "unit": "NL unit",
        "contact": "nl@x.org",
    }
    assert amber["victim_identified"] is True and amber["victim_identified_by"] == "DE"
    assert amber["offender_identified"] is False
    assert amber["exact"] == 1 and amber["near"] == 1  # the mirror image, second stage
    assert series["Birch"]["near"] == 1 and series["Birch"]["victim_identified"] is False


def test_dihedral_finds_mirrored_copy(world: dict[str, Path]) -> None:
    """With --dihedral a mirrored copy of a known picture is near, via a flip variant."""
    doc = json.loads(
        _cli(
            world["home"], "triage", str(world["seizure"]), "--json", "--dihedral", "--no-leads"
        ).stdout
    )
    m = _by_name(doc)["mirrored.jpg"]
    assert m["status"] == "near"
    assert m["matches"][0]["via"] == "pdq-flipy" and m["matches"][0]["series"] == ["Amber"]


def test_nothing_known_exits_zero(world: dict[str, Path]) -> None:
    """Triage of only new pictures exits 0 and the summary says so."""
    r = _cli(world["home"], "triage", str(world["seizure"] / "other-new.jpg"))
    assert r.returncode == 0
    assert "0 known" in r.stdout


def test_html_report_is_self_contained_and_blurred(world: dict[str, Path]) -> None:
    """The HTML report has no external references; thumbnails are blurred unless asked."""
    out = world["root"] / "report.html"
    r = _cli(world["home"], "triage", str(world["seizure"]), "--html", str(out))
    assert r.returncode == 10
    text = out.read_text()
    assert "Amber" in text and "Birch" in text and "nl@x.org" in text
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text)
    uris = re.findall(r"src='data:image/jpeg;base64,([^']+)'", text)
    assert len(uris) >= 5
    clear_out = world["root"] / "clear.html"
    _cli(
        world["home"],
        "triage",
        str(world["seizure"]),
        "--html",
        str(clear_out),
        "--thumbnails",
        "clear",
    )
    clear = re.findall(r"src='data:image/jpeg;base64,([^']+)'", clear_out.read_text())
    import base64

    def detail(b64: str) -> float:
        a = np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("L"), dtype=float)
        return float(np.abs(np.diff(a, axis=1)).mean())

    assert sum(map(detail, uris)) < 0.5 * sum(map(detail, clear))
    none_out = world["root"] / "none.html"
    _cli(
        world["home"],
        "triage",
        str(world["seizure"]),
        "--html",
        str(none_out),
        "--thumbnails",
        "none",
        "--no-leads",
    )
    assert "data:image" not in none_out.read_text()


def test_html_thumbnails_max_pictures_matches_and_names_the_rest(world: dict[str, Path]) -> None:
    """With --html-thumbnails-max 0 the known and near files keep their thumbnails, no
    new file without leads gets one, every file is still named, the page says why."""
    out = world["root"] / "limited.html"
    r = _cli(
        world["home"], "triage", str(world["seizure"]), "--html", str(out),
        "--html-thumbnails-max", "0", "--no-leads", "--json",
    )  # fmt: skip
    assert r.returncode == 10, r.stderr
    text = out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o600" and text.rstrip().endswith("</html>")
    status = {Path(x["path"]).name: x["status"] for x in json.loads(r.stdout)["results"]}
    rows = {
        name: row.split("</tr>")[0]
        for row in text.split("<tr>")
        if "class='path'" in row
        for name in status
        if f"/{name}<" in row
    }
    assert set(rows) == set(status)
    new = [n for n, s in status.items() if s == "new"]
    assert len(new) == 3 and not any("<img" in rows[n] for n in new)
    matched = [n for n, s in status.items() if s in ("known", "near")]
    assert len(matched) >= 2 and all("<img" in rows[n] for n in matched)
    assert "3 thumbnails left out" in text


def test_stats_and_series_show(world: dict[str, Path]) -> None:
    """stats counts media and per-agency rows; series show reports status as JSON."""
    st = json.loads(_cli(world["home"], "stats", "--json").stdout)
    assert st["media"] == 7 and st["series"] == 2
    assert st["per_agency"]["NL"]["media"] == 4 and st["per_agency"]["DE"]["media"] == 3
    show = json.loads(_cli(world["home"], "series", "show", "Amber", "--json").stdout)
    assert show["media_count"] == 4 and show["victim_identified"] is True
    missing = _cli(world["home"], "series", "show", "Nope")
    assert missing.returncode == 4 and "no series" in missing.stderr
    bad_hex = _cli(world["home"], "link", "victim", "V-1", "--media", "not-hex")
    assert bad_hex.returncode == 2 and "neither a media id nor a SHA-256" in bad_hex.stderr


def test_an_archive_is_a_container_not_a_new_file(world: dict[str, Path], tmp_path: Path) -> None:
    """Issue 10, defect 15: the archive itself was reported ``new`` and formed a new
    group of its own. Its members are the files; the archive is ``archive``."""
    import zipfile

    seizure = tmp_path / "zipped"
    seizure.mkdir()
    known = world["root"] / "known" / "amber" / "a11.jpg"
    with zipfile.ZipFile(seizure / "phone.zip", "w") as z:
        z.writestr("DCIM/a11.jpg", known.read_bytes())
        z.writestr("DCIM/fresh.jpg", _jpeg(synthetic_picture(640, 480, 77)))
    r = _cli(world["home"], "triage", str(seizure), "--json", "--no-scenes", "--no-progress")
    assert r.returncode == 10, r.stderr
    doc = json.loads(r.stdout)
    by_path = {Path(it["path"]).name: it for it in doc["results"]}
    assert by_path["phone.zip"]["status"] == "archive"
    assert by_path["phone.zip"]["new_group"] is None
    assert by_path["a11.jpg"]["status"] == "known"
    assert by_path["fresh.jpg"]["status"] == "new"
    s = doc["summary"]
    assert (s["files"], s["known"], s["new"], s["archive"], s["new_groups"]) == (3, 1, 1, 1, 1)
    text = _cli(world["home"], "triage", str(seizure), "--no-scenes", "--no-progress")
    assert "1 new in 1 groups" in text.stdout and "1 archives opened" in text.stdout
