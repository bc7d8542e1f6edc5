"""Triage finds edited copies of low-texture pictures by colour layout (issue 16 item 2).

Known: generated smooth gradients and plain walls with one object, ingested; the
seizure: their crops, small rotations, mirror images, quarter turns, captions,
letterboxed and overlaid copies, and other gradients and walls. Truth is how the
files were generated here: an edit of a known picture is ``near`` it, the other
pictures are ``new``.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.fingerprints.test_layout import EDITS, gradient, wall

TESSERA = str(Path(sys.executable).parent / "tessera")
KNOWN = {"gradient": (gradient, (1, 2)), "wall": (wall, (1, 2))}
OTHERS = (100, 101, 102, 103)


def _cli(home: Path, *args: str) -> Any:
    r = subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=600
    )
    assert r.returncode in (0, 10), (args, r.returncode, r.stderr[-2000:])
    return json.loads(r.stdout) if "--json" in args else r.stdout


def _png(rgb: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("layout")
    home, known, seizure = root / "home", root / "known", root / "seizure"
    known.mkdir()
    seizure.mkdir()
    for kind, (make, seeds) in KNOWN.items():
        for seed in seeds:
            _png(make(seed), known / f"{kind}-{seed}.png")
            for edit, fn in EDITS.items():
                _png(fn(make(seed)), seizure / f"{kind}-{seed}-{edit}.png")
        for seed in OTHERS:
            _png(make(seed), seizure / f"other-{kind}-{seed}.png")
    _cli(home, "init")
    _cli(home, "agency", "create", "NL", "--country", "NL", "--name", "nl", "--contact", "v@nl")
    _cli(home, "series", "create", "Amber", "--agency", "NL")
    _cli(home, "ingest", str(known), "--agency", "NL", "--case", "c1", "--series", "Amber")
    # file stem -> media id, through one exact lookup of the files' MD5s (hashlib)
    stems = {hashlib.md5(p.read_bytes()).hexdigest(): p.stem for p in known.iterdir()}
    ids = {}
    for answer in _cli(home, "lookup", *stems, "--json")["results"]:
        (match,) = answer["matches"]
        assert match["match"] == "exact", answer
        ids[stems[answer["hash"]]] = match["media_id"]
    assert len(ids) == len(stems)
    # verdicts only: the layout step is the verdict stage's (leads add nothing here)
    report = _cli(home, "triage", str(seizure), "--json", "--no-progress", "--no-leads")
    res = {Path(r["path"]).stem: r for r in report["results"]}
    return {"ids": ids, "res": res}


def test_edited_copies_are_near_their_original(world: dict[str, Any]) -> None:
    res, ids = world["res"], world["ids"]
    for kind, (_, seeds) in KNOWN.items():
        for seed in seeds:
            for edit in EDITS:
                r = res[f"{kind}-{seed}-{edit}"]
                assert r["status"] == "near", (kind, seed, edit, r)
                assert {m["media_id"] for m in r["matches"]} == {ids[f"{kind}-{seed}"]}, r


def test_layout_copies_say_how(world: dict[str, Any]) -> None:
    vias = {m["via"] for r in world["res"].values() for m in r.get("matches", [])}
    assert "colour-layout" in vias
    crop = world["res"]["gradient-1-crop"]["matches"][0]
    assert crop["via"] == "colour-layout" and "colour layout" in crop["reason"]


def test_other_low_texture_pictures_are_new(world: dict[str, Any]) -> None:
    for kind in KNOWN:
        for seed in OTHERS:
            r = world["res"][f"other-{kind}-{seed}"]
            assert r["status"] == "new", r
