"""Triage throughput on one generated seizure: verdicts and leads beside `tessera hash`.

Issue 16 item 1: known / near / new (edited copies included) at >= 60 % of
``tessera hash`` throughput on the same seizure; leads (same scene, markers,
camera, GPS) at >= 1.5x the second stage of before.

The seizure is built from the shared data: half of the shared pictures are
ingested (the database); the seizure holds the other half (mostly new; several
are other photos of an ingested place), seven edits of a sample of the ingested
pictures (crop 8 %, rotate 4 deg, mirror, rotate 90, caption, overlay,
letterbox) and upscaled copies of a few new ones (to 12 MP), so sizes run from
0.3 to 12 MP. Every command runs through the CLI, ``--workers`` processes, in
this order on the same files: ``tessera hash --json``, ``tessera triage
--no-scenes --json``, ``tessera triage --json`` and ``tessera triage --no-dihedral
--json`` (the second stage as it was before issue 16: SIFT of the picture and of
its mirror image, no dihedral PDQ). Each is timed ``--repeat``
times; the median wall time is printed with files/s and ratios to ``tessera
hash``. The verdicts of the edits are scored too (near recall per edit; near
among the non-copies, which must be 0).

Usage: ``nice python benchmarks/bench_triage.py [--workers 2] [--edited 24] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_robust import overlay
from bench_scenes import DATA, caption, crop8, letterbox, mirror, rotate4

TESSERA = str(Path(sys.executable).parent / "tessera")
SUFFIXES = (".jpg", ".jpeg", ".png", ".pgm")


def rot90(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb))


EDITS = {
    "crop8": crop8,
    "rotate4": rotate4,
    "mirror": mirror,
    "rot90": rot90,
    "caption": caption,
    "overlay": overlay,
    "letterbox": letterbox,
}


def shared_pictures() -> list[Path]:
    out = sorted(
        p
        for p in DATA.rglob("*")
        if p.suffix.lower() in SUFFIXES and "expected_output" not in str(p)
    )
    return out


def rgb_of(p: Path) -> np.ndarray:
    with Image.open(p) as im:
        return np.asarray(im.convert("RGB"))


def build(root: Path, edited: int) -> tuple[Path, Path, dict[str, str]]:
    """Known folder, seizure folder, and the seizure's edited copies -> original name."""
    known, seizure = root / "known", root / "seizure"
    known.mkdir()
    seizure.mkdir()
    pics = shared_pictures()
    copies: dict[str, str] = {}
    known_names: list[str] = []
    for i, p in enumerate(pics):
        name = f"{i:03d}_{p.name}"
        if i % 2 == 0:
            shutil.copy(p, known / name)
            known_names.append(name)
        else:
            shutil.copy(p, seizure / name)
    step = max(1, len(known_names) // edited)
    for name in known_names[::step][:edited]:
        rgb = rgb_of(known / name)
        for edit, fn in EDITS.items():
            out = f"{Path(name).stem}-{edit}.jpg"
            Image.fromarray(fn(rgb)).save(seizure / out, quality=90)
            copies[out] = name
    for j, name in enumerate(sorted(os.listdir(seizure))[:12:3]):  # 4 large new pictures
        if name in copies:
            continue
        im = Image.open(seizure / name).convert("RGB")
        w, h = im.size
        s = (12e6 / (w * h)) ** 0.5
        im.resize((int(w * s), int(h * s)), Image.Resampling.BICUBIC).save(
            seizure / f"large{j}_{Path(name).stem}.jpg", quality=92
        )
    return known, seizure, copies


def cli(home: Path, *args: str, timeout: int = 1800) -> tuple[float, Any]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [TESSERA, "--home", str(home), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1, 10):  # 1: some files undecodable
        raise SystemExit(f"{args[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall, (json.loads(r.stdout) if "--json" in args else r.stdout)


def files_in(report: Any) -> int:
    if "summary" in report and "files" in report["summary"]:
        return int(report["summary"]["files"])
    return len(report["results"])


def score(report: dict[str, Any], copies: dict[str, str], known_ids: dict[str, int]) -> None:
    by_edit: dict[str, list[bool]] = defaultdict(list)
    wrong_near: list[str] = []
    statuses: Counter[str] = Counter()
    for r in report["results"]:
        name = Path(r["path"]).name
        statuses[r["status"]] += 1
        if name in copies:
            edit = Path(name).stem.rsplit("-", 1)[1]
            want = known_ids.get(copies[name])
            got = {m["media_id"] for m in r["matches"]}
            by_edit[edit].append(r["status"] == "near" and want in got)
        elif r["status"] == "near":
            wrong_near.append(f"{name} ({r['matches'][0]['via']})")
    cells = "  ".join(f"{e} {sum(v)}/{len(v)}" for e, v in sorted(by_edit.items()))
    print(f"    near recall by edit: {cells}")
    print(f"    near among non-copies: {len(wrong_near)} {wrong_near}; statuses {dict(statuses)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--edited", type=int, default=24, help="ingested pictures edited 7 ways")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    ap.add_argument(
        "--modes",
        default="hash,verdicts,full,before",
        help="comma list of hash, verdicts (triage --no-scenes), full (triage), "
        "before (triage --no-dihedral: the second stage as it was, mirror SIFT included)",
    )
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-triage-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        home = root / "home"
        t_ingest = 0.0
        if (root / "copies.json").exists():  # --keep of an earlier run: reuse it
            known, seizure = root / "known", root / "seizure"
            copies = json.loads((root / "copies.json").read_text())
        else:
            known, seizure, copies = build(root, args.edited)
            cli(home, "init")
            cli(home, "agency", "create", "NL", "--country", "NL", "--name", "nl",
                "--contact", "x@nl")  # fmt: skip
            t_ingest, _ = cli(
                home, "ingest", str(known), "--agency", "NL", "--case", "c1", "--json",
                "--no-progress", "--workers", str(args.workers),
            )  # fmt: skip
            (root / "copies.json").write_text(json.dumps(copies))
        n_known, n_seizure = len(os.listdir(known)), len(os.listdir(seizure))
        known_ids: dict[str, int] = {}
        _, rep = cli(home, "triage", str(known), "--json", "--no-progress", "--no-scenes")
        for r in rep["results"]:
            if r["matches"]:
                known_ids[Path(r["path"]).name] = r["matches"][0]["media_id"]
        print(
            f"database: {n_known} pictures (ingest {t_ingest:.1f} s); seizure: {n_seizure} "
            f"files ({len(copies)} edited copies); workers {args.workers}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        w = ["--workers", str(args.workers)]
        runs = {
            "hash": ["hash", str(seizure), "--json", "--no-progress", *w],
            "verdicts": ["triage", str(seizure), "--json", "--no-progress", "--no-scenes", *w],
            "full": ["triage", str(seizure), "--json", "--no-progress", *w],
            # the second stage as it was: no dihedral PDQ, SIFT of the picture and its mirror
            "before": ["triage", str(seizure), "--json", "--no-progress", "--no-dihedral", *w],
        }
        walls: dict[str, float] = {}
        for mode in args.modes.split(","):
            times = []
            report: Any = None
            for _ in range(args.repeat):
                t, report = cli(home, *runs[mode])
                times.append(t)
            walls[mode] = statistics.median(times)
            n = files_in(report)
            ratio = f"{walls['hash'] / walls[mode]:.2f}x hash" if "hash" in walls else ""
            print(
                f"  {mode:9s} median {walls[mode]:7.2f} s  {n / walls[mode]:7.1f} files/s  "
                f"{ratio}  (runs: {', '.join(f'{x:.1f}' for x in times)}; "
                f"load {os.getloadavg()[0]:.1f})"
            )
            if mode != "hash":
                score(report, copies, known_ids)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
