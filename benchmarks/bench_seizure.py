"""Benchmark of record (issue 16): a generated seizure against a generated database.

One run builds (or reuses), under ``--dir`` (default ``benchmarks/_data/seizure``,
git-ignored), in ``db{DB}-side{MAX}/``:

* ``db/``: ``--db`` generated pictures, and ``home/``: a SQLite home they were
  ingested into with ``tessera ingest`` (local features on), **once**: the ingest's
  figures are kept in ``home/bench-ingest.json`` and later runs reuse the home (an
  interrupted ingest resumes); a file already generated is never written again;
* ``seizure-{N}/``: ``--n`` pictures: 30 % are copies of known pictures, each with one
  edit of the issue's list (exact copy, re-encode, crop, rotate 3 degrees, mirror,
  90-degree turn, caption bar, overlay, letterbox; in turn), 70 % are new pictures.
  The first N files are the same for every N (a small seizure is a prefix of a big
  one against the same database).

A file another folder already holds is hard-linked, not generated again: a seizure's
file from a bigger (or stopped) ``seizure-{M}/`` of the same root, a database picture
from ``db/`` of another root with the same ``--max-side`` (a picture depends only on its
seed and the largest side), and a new picture of any seizure with that largest side (it
depends only on its index). So ``--n 5000 --db 20000`` times the first 5,000 files of
a 20,000-file seizure, and ``--db 2000`` uses the first 2,000 pictures of ``db20000``'s.

Pictures are "busy" generated scenes (``bench_scenes.busy_picture``: shading, shapes,
lines, text, sensor noise) at mixed sizes (long side 480 to ``--max-side`` px; the
default mix is 40 % 640 px, 30 % 1,024, 20 % 2,048, 10 % ``--max-side``), JPEG q90.

Then, in the same run, on the same seizure folder, each command is timed (wall), its
peak memory (sum of the resident sets of the command and its worker processes,
sampled every 0.2 s) recorded, and files/s printed beside ``tessera hash``:

* ``tessera hash`` (the baseline: read + digests + PDQ, no database);
* ``tessera triage --no-scenes`` (verdicts from exact and perceptual hashes only);
* ``tessera triage --stream``: the time until the verdicts arrive (the cascade:
  digests, PDQ with dihedral variants, the quick local-features copy check) and until
  the leads stage ends (similar scenes, markers, camera, GPS, streamed as found);
* beside each wall time, the CPU seconds of the command and its workers (``Peak``),
  which hold when other work shares the machine (wall ratios then drift with it);
* with ``--old TESSERA`` (another build, e.g. main before this change): its ``triage``,
  so that the old second stage (its triage minus ``--no-scenes``) stands beside the
  leads stage.

It also prints the database size (SQLite file + index folders), what the verdicts
were for the copies (per edit) and for the new pictures (anything not ``new`` is a
false verdict), and a linear extrapolation to ``--extrapolate`` files (default
100,000) with what it assumes.

Usage: ``nice python benchmarks/bench_seizure.py --n 300 --db 2000 --old
/work/main/.venv/bin/tessera``; the issue's size: ``nice python
benchmarks/bench_seizure.py --n 100000 --db 100000 --workers 2`` (hours: generation and
the ingest of the database dominate; both are kept, so a second run times only the
commands; ``--build-only`` stops after the build, e.g. to build at ``nice -n 19`` while
the machine does other work and time the commands later on a quiet machine; each timed
command's figures are written to ``timed-N.json`` as it ends, and ``--resume`` reuses
those the same code (src/) recorded, so a run cut short goes on with the next command).
Before each timed command every seizure and home file is read once, so all commands
find them in the page cache alike (a step recorded without that pass is timed again).
``--cluster tcp://HOST:8786`` runs ingest and triage with ``--cluster``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_scenes import busy_picture

TESSERA = str(Path(sys.executable).parent / "tessera")
EDITS = (
    "exact",
    "reencode",
    "crop",
    "rotate3",
    "mirror",
    "rot90",
    "caption",
    "overlay",
    "letterbox",
)
NEW_SEED = 10_000_000  # seeds of new pictures, never those of the database


def _size(seed: int, max_side: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed + 77)
    side = int(rng.choice([640, 1024, 2048, max_side], p=[0.4, 0.3, 0.2, 0.1]))
    return side, side * 3 // 4


def picture(seed: int, max_side: int) -> Image.Image:
    w, h = _size(seed, max_side)
    # generate at <= 1024 px and scale up: the texture stays, generation stays cheap
    gw, gh = (w, h) if w <= 1024 else (1024, 768)
    im = Image.fromarray(busy_picture(seed, gw, gh))
    return im if (gw, gh) == (w, h) else im.resize((w, h), Image.Resampling.BICUBIC)


def edit(im: Image.Image, kind: str) -> Image.Image:
    w, h = im.size
    if kind in ("exact", "reencode"):
        return im
    if kind == "crop":
        return im.crop((int(0.1 * w), int(0.08 * h), w - int(0.05 * w), h))
    if kind == "rotate3":
        return im.rotate(3, resample=Image.Resampling.BILINEAR, expand=True)
    if kind == "mirror":
        return im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if kind == "rot90":
        return im.transpose(Image.Transpose.ROTATE_90)
    out = im.copy()
    d = ImageDraw.Draw(out)
    if kind == "caption":
        d.rectangle((0, int(0.8 * h), w, h), fill=(255, 255, 255))
        d.text((10, int(0.84 * h)), "CAPTION TEXT " * 6, fill=(0, 0, 0))
        return out
    if kind == "overlay":
        d.ellipse((int(0.6 * w), int(0.05 * h), int(0.9 * w), int(0.35 * h)), fill=(250, 200, 0))
        d.text((int(0.05 * w), int(0.05 * h)), "@someone lol", fill=(255, 0, 0))
        return out
    if kind == "letterbox":
        bar = h // 6
        canvas = Image.new("RGB", (w, h + 2 * bar))
        canvas.paste(im, (0, bar))
        return canvas
    raise ValueError(kind)


def _linked(path: Path, others: list[Path]) -> bool:
    """Hard-link ``path`` to the file of the same name in one of ``others`` (folders
    written by this generator with the same parameters); False if none holds it."""
    for folder in others:
        src = folder / path.name
        if src.is_file():
            with contextlib.suppress(FileExistsError):
                os.link(src, path)
            return True
    return False


def _save(im: Image.Image, path: Path, quality: int) -> None:
    """Write whole or not at all: a build stopped mid-write leaves no truncated picture
    that a later run would take as done."""
    part = path.with_name(path.name + ".part")
    im.save(part, format="JPEG", quality=quality)
    os.replace(part, path)


def _write_db(job: tuple[int, int, str, list[Path]]) -> None:
    seed, max_side, folder, others = job
    path = Path(folder) / f"known-{seed:06d}.jpg"
    if not path.exists() and not _linked(path, others):
        _save(picture(seed, max_side), path, 90)


def _write_seizure(job: tuple[int, int, int, str, str, list[Path]]) -> None:
    i, seed, max_side, kind, folder, others = job
    path = Path(folder) / f"f{i:06d}-{kind}.jpg"
    if path.exists() or _linked(path, others):
        return
    im = picture(seed, max_side)
    if kind == "new":
        _save(im, path, 90)
    elif kind == "exact":
        part = path.with_name(path.name + ".part")
        shutil.copyfile(Path(folder).parent / "db" / f"known-{seed:06d}.jpg", part)
        os.replace(part, path)
    else:
        _save(edit(im, kind), path, 80 if kind == "reencode" else 90)


def plan(n: int, n_db: int) -> list[tuple[int, str, int]]:
    """The seizure's files in order: (index, kind, seed); 30 % edited copies of the
    database picture of that seed, the rest new pictures (seeds from ``NEW_SEED``).
    Benchmarks that read a built seizure (bench_gate, bench_orb_tier) take their
    truth from here."""
    rng = np.random.default_rng(16)
    out = []
    for i in range(n):
        if rng.random() < 0.3:
            out.append((i, EDITS[i % len(EDITS)], int(rng.integers(0, n_db))))
        else:
            out.append((i, "new", NEW_SEED + i))
    return out


def truth(n: int, n_db: int) -> dict[str, str | None]:
    """Seizure file name -> the database picture it copies (``known-SEED``), or None."""
    return {
        f"f{i:06d}-{kind}.jpg": None if kind == "new" else f"known-{seed:06d}"
        for i, kind, seed in plan(n, n_db)
    }


def build(root: Path, n: int, n_db: int, max_side: int, workers: int) -> dict[str, str]:
    """Write the database and seizure folders (kept between runs: a file already there
    is not written again); seizure name -> kind."""
    db_dir, seizure = root / "db", root / f"seizure-{n}"
    db_dir.mkdir(parents=True, exist_ok=True)
    seizure.mkdir(parents=True, exist_ok=True)
    for part in [*db_dir.glob("*.part"), *seizure.glob("*.part")]:
        part.unlink()  # left by a stopped build
    # the same files elsewhere: other seizures of this root (same database, so the same
    # plan); new pictures of other roots' seizures (a new picture depends only on its
    # index); other roots' databases of the same largest side
    siblings = [p for p in root.parent.glob(f"db*-side{max_side}") if p != root]
    seizures = [p for p in root.glob("seizure-*") if p.is_dir() and p.name != seizure.name]
    new_elsewhere = [p for r in siblings for p in r.glob("seizure-*") if p.is_dir()]
    dbs = [p / "db" for p in siblings if (p / "db").is_dir()]
    kinds: dict[str, str] = {}
    jobs = []
    for i, kind, seed in plan(n, n_db):
        others = seizures + new_elsewhere if kind == "new" else seizures
        jobs.append((i, seed, max_side, kind, str(seizure), others))
        kinds[f"f{i:06d}-{kind}.jpg"] = kind
    t = time.perf_counter()
    with Pool(workers) as pool:
        db_jobs = [(s, max_side, str(db_dir), dbs) for s in range(n_db)]
        pool.map(_write_db, db_jobs, chunksize=8)
        pool.map(_write_seizure, jobs, chunksize=8)
    print(f"generated {n_db} database + {n} seizure pictures in {time.perf_counter() - t:.0f} s")
    return kinds


class Peak:
    """Peak of the summed RSS of a process and its descendants, sampled every 0.2 s, and
    the CPU seconds (user + system) each of them used by its last sample."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                        t = p.cpu_times()
                        self.cpu[p.pid] = t.user + t.system
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.2)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak

    def cpu_seconds(self, reaped: float) -> float:
        """CPU seconds of the whole tree: ``reaped`` (this process's children rusage
        taken around the run: the command and what it waited for itself) plus, as last
        sampled, its other descendants (the forkserver and its pool workers, which the
        command does not reap; up to 0.2 s of each one's end is missed). Unlike wall
        time, it holds on a loaded machine (checked against ``perf stat -e task-clock``)."""
        return reaped + sum(c for pid, c in self.cpu.items() if pid != self.proc.pid)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args: list[str], tessera: str = TESSERA) -> tuple[float, int, int, str, float]:
    """Run ``tessera ARGS``: wall seconds, peak MiB, exit code, stdout, CPU seconds."""
    t = time.perf_counter()
    cpu0 = _children_cpu()
    with subprocess.Popen(
        [tessera, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        peak = Peak(proc.pid)
        out, err = proc.communicate()
        mib = peak.stop() // 2**20
    wall = time.perf_counter() - t
    cpu = peak.cpu_seconds(_children_cpu() - cpu0)
    if proc.returncode not in (0, 1, 10):
        sys.exit(f"tessera {' '.join(args)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, mib, proc.returncode, out, cpu


def timed_stream(args: list[str]) -> tuple[float, float, int, int, int, str, float, float]:
    """Run ``tessera ARGS`` (a ``triage --stream``): seconds until the verdicts came,
    until the end, peak MiB until the verdicts and in all, lead lines, the last line,
    CPU seconds until the verdicts (the tree as sampled then) and in all."""
    t = time.perf_counter()
    cpu0 = _children_cpu()
    cpu_verdicts = 0.0
    verdicts_at = 0.0
    peak_verdicts = 0
    leads = 0
    last = ""
    with subprocess.Popen(
        [TESSERA, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        peak = Peak(proc.pid)
        assert proc.stdout is not None
        for line in proc.stdout:
            if not verdicts_at and line.startswith('{"stage": "verdict"'):
                verdicts_at = time.perf_counter() - t
                peak_verdicts = peak.peak // 2**20
                with contextlib.suppress(psutil.Error):
                    now = peak.proc.cpu_times()
                    peak.cpu[peak.proc.pid] = now.user + now.system
                cpu_verdicts = sum(peak.cpu.values())
            elif line.startswith('{"stage": "leads"'):
                leads += 1
            last = line
        proc.wait()
        mib = peak.stop() // 2**20
    wall = time.perf_counter() - t
    cpu = peak.cpu_seconds(_children_cpu() - cpu0)
    if proc.returncode not in (0, 1, 10):
        sys.exit(f"tessera {' '.join(args)} failed ({proc.returncode})")
    verdict_s, verdict_cpu = (verdicts_at, cpu_verdicts) if verdicts_at else (wall, cpu)
    return verdict_s, wall, peak_verdicts or mib, mib, leads, last, verdict_cpu, cpu


def _code_version() -> str:
    """The code this benchmark times: the git tree of src/ (unchanged by commits that
    touch only the README or benchmarks), ``+dirty`` when src/ has local changes."""

    def git(*a: str) -> str:
        r = subprocess.run(
            ["git", "-C", str(REPO), *a], check=False, capture_output=True, text=True
        )
        return r.stdout.strip() if r.returncode == 0 else "unknown"

    tree = git("rev-parse", "HEAD:src")
    return "src@" + tree + ("+dirty" if git("status", "--porcelain", "src") else "")


class Steps:
    """The timed commands' figures, written to ``path`` as each one ends; with
    ``resume``, a command recorded by the same code is not run again but printed as
    recorded (when, and at what load): a 100k run outlasts a working session."""

    def __init__(self, path: Path, *, resume: bool) -> None:
        self.path = path
        self.code = _code_version()
        self.done: dict[str, dict[str, Any]] = {}
        if resume and path.exists():
            doc = json.loads(path.read_text())
            if doc.get("code") == self.code and not self.code.endswith("+dirty"):
                self.done = doc["steps"]
            else:
                print(f"{path}: recorded by {doc.get('code')}, not {self.code}: run again")

    def run(self, name: str, fn: Any, *, before: Any = None) -> dict[str, Any]:
        if name in self.done and "cache" in self.done[name]:
            r = self.done[name]
            print(
                f"{name}: as recorded at {r['at']} (load {r['load'][0]:.1f} -> {r['load'][1]:.1f})"
            )
            return r
        cache = before() if before is not None else "not warmed"
        load0 = os.getloadavg()[0]
        r = dict(fn())
        r["cache"] = cache
        r["at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        r["load"] = [load0, os.getloadavg()[0]]
        self.done[name] = r
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"code": self.code, "steps": self.done}))
        tmp.replace(self.path)
        return r


def warm(*folders: Path) -> str:
    """Read every file under ``folders`` once so each timed command finds them in the
    page cache alike (the first command would otherwise pay the disk for the others;
    dropping the cache needs a privilege this machine's container lacks)."""
    t = time.perf_counter()
    n = 0
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                with path.open("rb", buffering=0) as fh:
                    while chunk := fh.read(1 << 20):
                        n += len(chunk)
    s = time.perf_counter() - t
    # the rate tells: GB/s from the page cache, this disk's ~0.1-0.7 GB/s when cold
    note = (
        f"page cache warmed: {n / 2**30:.1f} GiB read in {s:.0f} s "
        f"({n / 2**30 / max(s, 1e-9):.1f} GiB/s; "
        f"RAM {psutil.virtual_memory().total / 2**30:.1f} GiB)"
    )
    print(note, flush=True)
    return note


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def verdicts(doc: dict[str, Any], kinds: dict[str, str]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for r in doc["results"]:
        kind = kinds.get(Path(r["path"]).name)
        if kind is not None:
            out.setdefault(kind, Counter())[r["status"]] += 1
    return out


def ingest_once(
    root: Path, n_db: int, par: list[str], tessera: str = TESSERA, home_name: str = "home"
) -> dict[str, Any]:
    """The database home, ingested once by ``tessera`` (kept under ROOT/HOME_NAME with its
    figures in bench-ingest.json); an interrupted ingest resumes where it stopped."""
    home = root / home_name
    record = home / "bench-ingest.json"
    if record.exists():
        return dict(json.loads(record.read_text()))
    resumed = (home / "tessera.sqlite").exists()  # an earlier attempt was interrupted
    if not resumed:
        for cmd in (["init"], ["agency", "create", "NL", "--name", "Bench", "--country", "NL"]):
            subprocess.run([tessera, "--home", str(home), *cmd], check=True, capture_output=True)
    load0 = os.getloadavg()[0]
    wall, mib, _, out, cpu = timed(
        ["--home", str(home), "ingest", str(root / "db"), "--agency", "NL", "--case", "db",
         "--json", *par],
        tessera=tessera,
    )  # fmt: skip
    doc = {
        "wall": wall,
        "cpu": cpu,
        "load": [load0, os.getloadavg()[0]],
        "peak_mib": mib,
        "media": json.loads(out)["new_media"],
        "n_db": n_db,
        "resumed": resumed,
    }
    record.write_text(json.dumps(doc))
    return doc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400, help="seizure files")
    ap.add_argument("--db", type=int, default=None, help="database pictures (default --n)")
    ap.add_argument("--max-side", type=int, default=4000, help="long side of the largest 10 %%")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cluster", default=None, help="run ingest/triage with --cluster")
    ap.add_argument("--dir", type=Path, default=REPO / "benchmarks" / "_data" / "seizure")
    ap.add_argument("--extrapolate", type=int, default=100_000)
    ap.add_argument(
        "--old",
        default=None,
        metavar="TESSERA",
        help="another build's tessera executable (e.g. main before this change): its "
        "`triage` runs too, for the second stage's before/after",
    )
    ap.add_argument(
        "--build-only",
        action="store_true",
        help="generate the pictures and ingest the database (resumable), then stop: the "
        "100k build takes hours and can run at low priority ahead of the timed run",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="reuse the timed commands recorded by an earlier, interrupted run of the same "
        "src/ tree on the same files (ROOT/timed-N.json), printed as recorded; the 100k run "
        "takes hours and a session may end between its commands",
    )
    args = ap.parse_args()
    n_db = args.db or args.n
    root = args.dir / f"db{n_db}-side{args.max_side}"
    load0 = os.getloadavg()
    print(
        f"seizure {args.n} files (30 % edited copies of known pictures) against {n_db} "
        f"known pictures; workers {args.workers}; load average {load0[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    kinds = build(root, args.n, n_db, args.max_side, args.workers)
    seizure = root / f"seizure-{args.n}"
    seizure_bytes = du(seizure)
    par = ["--workers", str(args.workers)] + (["--cluster", args.cluster] if args.cluster else [])
    hash_par = ["--workers", str(args.workers)]  # hash runs locally (no --cluster flag)

    home = root / "home"
    ing = ingest_once(root, n_db, par)
    db_file = home / "tessera.sqlite"
    db_size = db_file.stat().st_size if db_file.exists() else du(home)
    print(
        f"database: ingest of {n_db} pictures {ing['wall']:.0f} s ({n_db / ing['wall']:.1f} "
        f"files/s, {ing.get('cpu', float('nan')):.0f} CPU s, load {ing.get('load', '?')}, "
        f"peak {ing['peak_mib']} MiB; measured when the home was built, kept "
        f"since{'; RESUMED: wall and CPU of the last attempt only' if ing.get('resumed') else ''}"
        f"); {ing['media']} media; database file {db_size / 2**20:.1f} MiB "
        f"({db_size / max(1, n_db) / 1024:.1f} KiB a picture), home folder "
        f"{du(home) / 2**20:.1f} MiB"
    )
    if args.build_only:
        print(f"built: {seizure} ({seizure_bytes / 2**20:.0f} MiB) and {home}; --build-only: stop")
        return

    # in one run, on the same files: the baseline first, then triage's stages; each
    # triage timed whole (--no-resume: never the rest of a run an earlier attempt of
    # this benchmark left in the home's triage journal)
    fresh = [*par, "--no-resume"]
    steps = Steps(root / f"timed-{args.n}.json", resume=args.resume)

    def hash_step() -> dict[str, Any]:
        wall, mib, _, _, cpu = timed(["hash", str(seizure), "--json", *hash_par])
        return {"wall": wall, "mib": mib, "cpu": cpu}

    def no_scenes_step() -> dict[str, Any]:
        wall, mib, _, out, cpu = timed(
            ["--home", str(home), "triage", str(seizure), "--no-scenes", "--json", *fresh]
        )
        return {"wall": wall, "mib": mib, "cpu": cpu, "table": verdicts(json.loads(out), kinds)}

    def stream_step() -> dict[str, Any]:
        t_v, wall, mib_v, mib, n_leads, last, cpu_v, cpu = timed_stream(
            ["--home", str(home), "triage", str(seizure), "--stream", *fresh]
        )
        full = json.loads(last)
        by_stage = Counter(
            m.get("stage", "leads") if m["via"] == "local-features" else "hashes"
            for r in full["results"]
            for m in r["matches"][:1]
        )
        return {
            "verdicts_wall": t_v,
            "wall": wall,
            "verdicts_mib": mib_v,
            "mib": mib,
            "leads": n_leads,
            "verdicts_cpu": cpu_v,
            "cpu": cpu,
            "table": verdicts(full, kinds),
            "by_stage": dict(by_stage),
        }

    # every command reads the seizure (and the home) from the page cache alike
    def warmed() -> str:
        return warm(seizure, home)

    h = steps.run("tessera hash", hash_step, before=warmed)
    v = steps.run("triage --no-scenes", no_scenes_step, before=warmed)
    f = steps.run("triage --stream", stream_step, before=warmed)
    for name, r in (("tessera hash", h), ("triage --no-scenes", v), ("triage --stream", f)):
        print(f"{name}: {r['cache']}")
    wall_h, cpu_h = h["wall"], h["cpu"]
    t_verdicts, wall_f, cpu_verdicts, cpu_f = (
        f["verdicts_wall"],
        f["wall"],
        f["verdicts_cpu"],
        f["cpu"],
    )
    n_leads = f["leads"]
    rows: list[tuple[str, float, int, float]] = [
        ("tessera hash", wall_h, h["mib"], cpu_h),
        ("triage --no-scenes (hash verdicts only)", v["wall"], v["mib"], v["cpu"]),
        ("triage: verdicts (cascade, --stream)", t_verdicts, f["verdicts_mib"], cpu_verdicts),
        ("triage: verdicts + leads stage", wall_f, f["mib"], cpu_f),
    ]
    wall_old = wall_old_v = cpu_old = cpu_old_v = 0.0
    if args.old:
        # the old build reads only a home of its own schema: it ingests the same
        # pictures once into home-old (kept, like home), and its own --no-scenes run
        # is what its triage is compared with
        home_old = root / "home-old"
        ingest_once(root, n_db, par, tessera=args.old, home_name="home-old")
        wall_old_v, mib_old_v, _, _, cpu_old_v = timed(
            ["--home", str(home_old), "triage", str(seizure), "--no-scenes", "--json", *par],
            tessera=args.old,
        )
        rows.append(("OLD triage --no-scenes", wall_old_v, mib_old_v, cpu_old_v))
        wall_old, mib_old, _, _, cpu_old = timed(
            ["--home", str(home_old), "triage", str(seizure), "--json", *par], tessera=args.old
        )
        rows.append(("OLD triage (--old: hashes + second stage)", wall_old, mib_old, cpu_old))

    load1 = os.getloadavg()
    print(
        f"\nseizure: {args.n} files, {seizure_bytes / 2**20:.0f} MiB; load average "
        f"{load0[0]:.1f} -> {load1[0]:.1f}"
    )
    print(
        f"{'command':44} {'wall s':>8} {'files/s':>8} {'x hash':>7} {'peak MiB':>9} "
        f"{'CPU s':>7} {'x hash CPU':>10}"
    )
    for name, wall, mib, cpu in rows:
        print(
            f"{name:44} {wall:8.1f} {args.n / wall:8.1f} {wall_h / wall:7.2f} {mib:9d} "
            f"{cpu:7.1f} {cpu_h / max(cpu, 1e-9):10.2f}"
        )
    print(
        "CPU s: user + system of the command and its workers (holds on a loaded machine; "
        "x hash CPU = hash's CPU over the row's, i.e. throughput per CPU second)"
    )
    lead_s = max(1e-9, wall_f - t_verdicts)
    lead_cpu = max(1e-9, cpu_f - cpu_verdicts)
    print(
        f"leads stage alone (end - verdicts): {lead_s:.1f} s, {args.n / lead_s:.1f} seizure "
        f"files/s; {lead_cpu:.1f} CPU s, {args.n / lead_cpu:.2f} files a CPU second; "
        f"{n_leads} files with leads streamed"
    )
    if args.old:
        old_second = max(1e-9, wall_old - wall_old_v)
        old_cpu = max(1e-9, cpu_old - cpu_old_v)
        print(
            f"OLD second stage (OLD triage - OLD triage --no-scenes): {old_second:.1f} s, "
            f"{args.n / old_second:.1f} files/s; {old_cpu:.1f} CPU s, "
            f"{args.n / old_cpu:.2f} files a CPU second; leads stage vs it: "
            f"{old_second / lead_s:.2f}x the throughput in wall time, "
            f"{old_cpu / lead_cpu:.2f}x per CPU second"
        )

    for label, table in (("--no-scenes", v["table"]), ("full (--stream, last line)", f["table"])):
        print(f"\nverdicts, triage {label} (rows: what the file is; columns: verdict)")
        cols = ("known", "near", "new", "error")
        print(f"{'file':10} {'n':>5} " + " ".join(f"{c:>6}" for c in cols) + "  found")
        for kind in (*EDITS, "new"):
            c = Counter(table.get(kind, {}))
            total = sum(c.values())
            if not total:
                continue
            found = (c["known"] + c["near"]) / total if kind != "new" else c["new"] / total
            print(
                f"{kind:10} {total:5d} " + " ".join(f"{c[v]:6d}" for v in cols) + f"  {found:.3f}"
            )
    by_stage = f["by_stage"]
    print(f"first match found by: {by_stage}")

    x = args.extrapolate
    print(
        f"\nextrapolated to {x:,} seizure files (linear in files; the search grows slowly "
        f"with the database, verification does not): hash {wall_h / args.n * x / 60:.0f} "
        f"min, verdicts {t_verdicts / args.n * x / 60:.0f} min, verdicts + leads "
        f"{wall_f / args.n * x / 60:.0f} min; database of {x:,} pictures: "
        f"{db_size / max(1, n_db) * x / 2**30:.1f} GiB, ingest "
        f"{ing['wall'] / n_db * x / 3600:.1f} h at this machine's load"
    )


if __name__ == "__main__":
    main()
