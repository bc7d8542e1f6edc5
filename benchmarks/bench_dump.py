"""A seizure packed as one phone dump: triage of the archive beside ``tessera hash``.

A phone extraction (a UFDR report, a full file system dump) is one zip or tar of
hundreds of thousands of members, most of them small files that are not pictures
(databases, property lists, logs, caches), with the pictures among them. This
benchmark packs ``--members`` such files (generated, deterministic: SQLite and plist
headers, XML, JSON, random bytes; 200 B to 8 KB) interleaved with the pictures of
``--seizure`` (by default the 2,000-file seizure ``bench_seizure.py --n 2000 --db
2000 --max-side 2048 --build-only`` builds) into one stored zip (or ``--format tar``),
and extracts the same members as loose files beside it. Then, alternating for
``--runs`` rounds on a quiet machine, each against the same home (``--home``, by
default that seizure's database), every file read once before each command:

* ``tessera hash LOOSE`` (the baseline: the same files' digests and PDQ);
* ``tessera triage LOOSE --no-leads`` (the verdicts of the same files, loose);
* ``tessera triage DUMP --no-leads`` (the verdicts of the packed seizure);
* with ``--old SRC`` (another checkout's ``src``, e.g. main before a change): its
  ``tessera triage DUMP --no-leads`` too, and whether its results equal this one's,
  path by path.

It prints each command's median wall time, files/s and CPU (the command and its
workers), the dump's verdicts beside the hash of the loose files and beside the
verdicts of the loose files, and this build beside ``--old``.

    python benchmarks/bench_dump.py [--members 98000] [--format zip|tar] [--runs 2]
        [--seizure DIR] [--home HOME] [--old /path/to/other/src] [--dir OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESSERA = str(Path(sys.executable).with_name("tessera"))
SEIZURE = REPO / "benchmarks" / "_data" / "seizure" / "db2000-side2048"

_HEADS = (b"SQLite format 3\x00", b"bplist00", b"<?xml version='1.0'?><plist>", b'{"k": ', b"")
_EXTS = (".db", ".plist", ".xml", ".json", ".bin")
_WORDS = ("alpha", "beta", "gamma", "12", "x", "contact", "sms", "2026-12-08")


def other_file(i: int, rng: random.Random) -> tuple[str, bytes]:
    """The ``i``-th generated non-picture file: a name and its bytes."""
    size = rng.randint(200, 8000)
    if i % 3 == 0:
        body = rng.randbytes(size)
    else:
        body = " ".join(rng.choice(_WORDS) for _ in range(size // 6)).encode()
    return f"f{i:07d}{_EXTS[i % len(_EXTS)]}", _HEADS[i % len(_HEADS)] + body


def members(pictures: list[Path], n_other: int) -> list[tuple[str, bytes | Path]]:
    """The dump's members in order: ``n_other`` generated files with the pictures
    spread evenly among them, in folders of 1,000."""
    rng = random.Random(7)
    total = n_other + len(pictures)
    every = max(1, total // max(1, len(pictures)))
    out: list[tuple[str, bytes | Path]] = []
    p = k = 0
    for i in range(total):
        folder = f"data/d{i // 1000:03d}"
        if (i % every == every - 1 and p < len(pictures)) or k >= n_other:
            out.append((f"{folder}/{pictures[p].name}", pictures[p]))
            p += 1
        else:
            name, data = other_file(k, rng)
            out.append((f"{folder}/{name}", data))
            k += 1
    return out


def build(out: Path, pictures: list[Path], n_other: int, fmt: str) -> tuple[Path, Path]:
    """The dump archive and the loose folder of the same members (built once)."""
    dump = out / f"dump-{n_other}-{len(pictures)}.{fmt}"
    loose = out / f"loose-{n_other}-{len(pictures)}"
    if dump.exists() and loose.exists():
        return dump, loose
    shutil.rmtree(loose, ignore_errors=True)
    items = members(pictures, n_other)
    part = dump.with_suffix(".part")
    if fmt == "zip":
        with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as z:
            for name, data in items:
                z.writestr(name, data.read_bytes() if isinstance(data, Path) else data)
    else:
        with tarfile.open(part, "w") as t:
            for name, data in items:
                raw = data.read_bytes() if isinstance(data, Path) else data
                info = tarfile.TarInfo(name)
                info.size = len(raw)
                t.addfile(info, io.BytesIO(raw))
    for name, data in items:
        target = loose / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            os.link(data, target)
        else:
            target.write_bytes(data)
    part.rename(dump)
    return dump, loose


def _read_all(path: Path) -> None:
    """Every byte under ``path`` read once, so each command finds it in the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 20):
                pass


def timed(args: list[str], src: Path | None, out: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the command and the processes it waited for)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out, "wb") as fh:
        done = subprocess.run(
            [TESSERA, *args], check=False, stdout=fh, stderr=subprocess.PIPE, env=env
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1, 10):  # 1: files failed (non-pictures); 10: known found
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}\n{done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def statuses(path: Path) -> dict[str, str]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return {r["path"]: r["status"] for r in doc["results"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--members", type=int, default=98_000, help="non-picture members")
    ap.add_argument("--format", choices=("zip", "tar"), default="zip")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--seizure", type=Path, default=SEIZURE / "seizure-2000")
    ap.add_argument("--home", type=Path, default=SEIZURE / "home")
    ap.add_argument("--old", type=Path, default=None, help="another checkout's src/")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=REPO / "benchmarks" / "_data" / "dump")
    a = ap.parse_args()
    if not a.seizure.is_dir() or not a.home.is_dir():
        raise SystemExit(
            f"{a.seizure} or {a.home} is missing: build them first with\n"
            "  python benchmarks/bench_seizure.py --n 2000 --db 2000 --max-side 2048 --build-only"
        )
    a.dir.mkdir(parents=True, exist_ok=True)
    pictures = sorted(p for p in a.seizure.iterdir() if p.is_file())
    dump, loose = build(a.dir, pictures, a.members, a.format)
    files = a.members + len(pictures)
    print(
        f"{dump.name}: {files:,} members ({a.members:,} not pictures, {len(pictures):,} "
        f"pictures), {dump.stat().st_size / 2**20:.0f} MiB; home {a.home}; "
        f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    common = ["--json", "--no-resume", "--workers", str(a.workers), "--no-leads"]
    home = ["--home", str(a.home)]
    steps: dict[str, tuple[list[str], Path, Path | None]] = {
        "hash loose": (["hash", str(loose), "--json", "--workers", str(a.workers)], loose, None),
        "triage loose": ([*home, "triage", str(loose), *common], loose, None),
        "triage dump": ([*home, "triage", str(dump), *common], dump, REPO / "src"),
    }
    if a.old is not None:
        steps["triage dump (old)"] = ([*home, "triage", str(dump), *common], dump, a.old)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in steps}
    for run in range(a.runs):
        for name, (args, data, src) in steps.items():
            _read_all(data)
            wall, cpu = timed(args, src, a.dir / f"{name.replace(' ', '-')}.json")
            times[name].append((wall, cpu))
            print(f"  run {run + 1} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    med = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    print(f"\n{'command':<20} {'median s':>9} {'files/s':>9} {'CPU s':>8}")
    for name, value in med.items():
        cpu = statistics.median(c for _, c in times[name])
        print(f"{name:<20} {value:9.1f} {files / value:9.0f} {cpu:8.1f}")
    print(
        f"\ndump verdicts / hash of the loose files (throughput): "
        f"{med['hash loose'] / med['triage dump']:.3f}x"
    )
    print(
        f"dump verdicts / loose verdicts (throughput): "
        f"{med['triage loose'] / med['triage dump']:.3f}x"
    )
    if a.old is not None:
        print(
            f"this build / old (throughput): {med['triage dump (old)'] / med['triage dump']:.2f}x"
        )
        new, old = (statuses(a.dir / f"{n}.json") for n in ("triage-dump", "triage-dump-(old)"))
        same = sum(1 for p, s in new.items() if old.get(p) == s)
        print(f"same status, path by path: {same:,} of {len(new):,} (old has {len(old):,})")


if __name__ == "__main__":
    main()
