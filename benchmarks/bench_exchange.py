"""Exchange formats at scale: a generated N-record VICS file read, imported and exported.

The file is a VICS 2.0 ``#Media`` document written record by record (MD5/SHA1 in
upper case, string booleans, PhotoDNA, series among 200 names, tags, a MediaFiles
entry: what real Griffeye/Project VIC exports look like), then, in one run:

* ``stdlib json.load``      the whole document in memory with the standard library
                             (a subprocess, so its peak memory is its own);
* ``ijson items``            the streaming parse floor: ``ijson.items(f, "value.item")``
                             with the C backend, dicts only, no validation;
* ``tessera read``           ``tessera.exchange.vics.read``: parse, depth guard,
                             validation into ``ExchangeRecord`` values;
* ``tessera import``         the whole use case (``tessera.app.exchange.import_file``)
                             into a fresh SQLite database: one transaction, hash-only
                             media, entries, series links (a subprocess: its VmRSS is
                             sampled at every 10 % of the records; "flat" means the
                             last sample is within a few MB of the 20 % one);
* ``tessera export``         ``tessera export vics`` of everything just imported
                             (``import_file`` / ``export`` use cases, VICS writer).

Parse rows are medians of ``--repeat`` passes; import/export are timed once per
pass on a fresh database when ``--repeat-db`` is given (default one pass: the
import of 1M records takes about a minute). Ratios are against the ijson floor.

Usage: ``python benchmarks/bench_exchange.py [--n 1000000] [--repeat 3] [--repeat-db 1]
[--keep DIR] [--db postgresql+psycopg://...] [--against OTHER/src]``. Use ``--n 100000``
for a quick run. ``--against`` runs the import/export child alternately with another
checkout's ``src`` (e.g. main's) and with this one, ``--repeat-db`` times each, and
prints CPU seconds per run, their medians and ratio, and whether the exports are
byte-identical (their SHA-256).
With ``--db`` the import/export run on that PostgreSQL server, in a fresh schema
dropped afterwards (its server's CPU is not in the "per CPU-second" figure).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

V2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def generate(path: Path, n: int, seed: int = 1) -> None:
    """A VICS file of ``n`` distinct media records, written in one streaming pass."""
    rng = np.random.default_rng(seed)
    md5s = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    sha1s = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    with path.open("w", encoding="utf-8") as f:
        f.write('{"@odata.context": "' + V2 + '",\n"value": [\n')
        for i in range(n):
            md5 = md5s[i].tobytes().hex().upper()
            rec = {
                "MediaID": i + 1,
                "Category": int(i % 5),
                "MD5": md5,
                "SHA1": sha1s[i].tobytes().hex().upper(),
                "PhotoDNA": md5s[i].tobytes().hex() * 6,
                "VictimIdentified": "true" if i % 7 == 0 else "false",
                "OffenderIdentified": "false",
                "IsDistributed": "true" if i % 3 == 0 else "false",
                "Series": f"Series {i % 200:03d}" if i % 4 == 0 else None,
                "Tags": "indoor,poster" if i % 2 else "",
                "MediaSize": str(10_000 + i),
                "MimeType": "image/jpeg",
                "MediaFiles": [{"MD5": md5, "FileName": f"IMG_{i:07d}.jpg", "Deleted": "false"}],
            }
            f.write(("" if i == 0 else ",\n") + json.dumps(rec))
        f.write("\n]}\n")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def time_ijson(path: Path) -> tuple[float, int]:
    import ijson

    t = time.perf_counter()
    with path.open("rb") as f:
        n = sum(1 for _ in ijson.items(f, "value.item", use_float=True))
    return time.perf_counter() - t, n


def time_read(path: Path) -> tuple[float, int]:
    from tessera.exchange import vics

    t = time.perf_counter()
    with path.open("rb") as f:
        n = sum(1 for _ in vics.read(f))
    return time.perf_counter() - t, n


def child_stdlib(path: str) -> None:
    t = time.perf_counter()
    with open(path, "rb") as f:
        doc = json.load(f)
    n = len(doc["value"])
    print(json.dumps({"s": time.perf_counter() - t, "n": n, "peak_mb": _peak_mb()}))


def child_import(path: str, home: str) -> None:
    """Import then export in this process; print timings and the RSS samples."""
    from tessera.app import App, Caller, Settings
    from tessera.app import exchange as ex
    from tessera.exchange import vics
    from tessera.storage import repo

    url = os.environ.get("BENCH_DB_URL") or None
    app = App(Settings.for_home(Path(home), database_url=url))
    app.migrate()
    caller = Caller.local_operator()
    with app.transaction() as s:
        repo.create_agency(s, "BENCH", "NL", "Benchmark unit")
    samples: list[tuple[int, float]] = []
    total = int(os.environ["BENCH_N"])
    marks = {max(1, total * k // 10) for k in range(1, 11)}
    real_read = vics.read

    def counted(stream):  # type: ignore[no-untyped-def]
        for i, r in enumerate(real_read(stream), 1):
            if i in marks:
                samples.append((i, _rss_mb()))
            yield r

    ex_reader = ex._reader
    ex._reader = lambda fmt, ht: counted if fmt == "vics" else ex_reader(fmt, ht)  # type: ignore[assignment]
    base = _rss_mb()
    t, c = time.perf_counter(), time.process_time()
    summary = ex.import_file(app, caller, "vics", Path(path), agency_code="BENCH")
    t_import, c_import = time.perf_counter() - t, time.process_time() - c
    out = Path(home) / "export.json"
    t, c = time.perf_counter(), time.process_time()
    with out.open("w", encoding="utf-8") as f:
        exported = ex.export(app, caller, "vics", f)
    t_export, c_export = time.perf_counter() - t, time.process_time() - c
    print(
        json.dumps(
            {
                "import_s": t_import,
                "import_cpu_s": c_import,
                "export_cpu_s": c_export,
                "records": summary.records,
                "new_media": summary.new_media,
                "export_s": t_export,
                "exported": exported.records,
                "export_mb": out.stat().st_size / 2**20,
                "rss_base_mb": base,
                "rss_samples": samples,
                "peak_mb": _peak_mb(),
            }
        )
    )


def _run_child(*args: str, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    r = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if r.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@contextlib.contextmanager
def _database(url: str | None) -> Iterator[str]:
    """ "" for SQLite, else a fresh schema on the PostgreSQL server, dropped afterwards."""
    if not url:
        yield ""
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def compare(src: Path, work: Path, n: int, runs: int, *, against: Path, db: str | None) -> None:
    """Import/export children alternated: ``against`` (another ``src``) then this one."""
    import hashlib

    this = Path(__file__).resolve().parents[1] / "src"
    cpu: dict[str, list[tuple[float, float]]] = {"against": [], "this": []}
    digests: set[str] = set()
    print(
        f"{'run':10s} {'load':>14s} {'import CPU s':>13s} {'wall s':>7s} "
        f"{'export CPU s':>13s} {'wall s':>7s}"
    )
    for _ in range(runs):
        for label, path in (("against", against.resolve()), ("this", this)):
            home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
            load = _load()
            with _database(db) as url:
                r = _run_child(
                    "--child-import",
                    str(src),
                    str(home),
                    env={"BENCH_N": str(n), "BENCH_DB_URL": url, "PYTHONPATH": str(path)},
                )
            assert r["records"] == n == r["exported"], r
            exported = home / "export.json"
            digests.add(hashlib.sha256(exported.read_bytes()).hexdigest())
            exported.unlink()
            cpu[label].append((r["import_cpu_s"], r["export_cpu_s"]))
            print(
                f"{label:10s} {load:>14s} {r['import_cpu_s']:13.2f} {r['import_s']:7.2f} "
                f"{r['export_cpu_s']:13.2f} {r['export_s']:7.2f}"
            )
    print(f"\nmedians of {runs} runs each, {n:,} records ({against} vs {this}):")
    for i, what in enumerate(("import", "export")):
        old = statistics.median(c[i] for c in cpu["against"])
        new = statistics.median(c[i] for c in cpu["this"])
        print(
            f"  {what}: {old:.2f} -> {new:.2f} s CPU ({n / old:,.0f} -> {n / new:,.0f} "
            f"records per CPU-s, x{old / new:.2f})"
        )
    print(f"  exports byte-identical: {'yes' if len(digests) == 1 else 'NO'}")
    print(f"load average after: {_load()}")


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-db", type=int, default=1)
    ap.add_argument("--skip-stdlib", action="store_true")
    ap.add_argument("--keep", type=Path, help="generate into / reuse this folder")
    ap.add_argument("--db", help="a PostgreSQL URL (default: SQLite in a temp home)")
    ap.add_argument("--against", type=Path, help="another checkout's src: alternate with it")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="bench-exchange-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"vics-{a.n}.json"
    if not src.exists():
        t = time.perf_counter()
        generate(src, a.n)
        print(
            f"generated {a.n:,} records, {src.stat().st_size / 2**20:.0f} MiB "
            f"in {time.perf_counter() - t:.1f} s"
        )
    print(f"load average before: {_load()}")
    if a.against is not None:
        compare(src, work, a.n, a.repeat_db, against=a.against, db=a.db)
        return
    rows: list[tuple[str, float, str]] = []
    if not a.skip_stdlib:
        r = _run_child("--child-stdlib", str(src))
        rows.append(
            ("stdlib json.load (whole document)", r["n"] / r["s"], f"peak {r['peak_mb']:.0f} MB")
        )
    ij = [time_ijson(src) for _ in range(a.repeat)]
    ij_rate = a.n / statistics.median(t for t, _ in ij)
    rows.insert(0, ("ijson items (parse floor)", ij_rate, "dicts only"))
    rd = [time_read(src) for _ in range(a.repeat)]
    assert all(n == a.n for _, n in rd)
    rows.append(("tessera read (parse + validate)", a.n / statistics.median(t for t, _ in rd), ""))
    imports, exports, flat, cpu = [], [], [], []
    for _ in range(a.repeat_db):
        home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
        with _database(a.db) as url:
            r = _run_child(
                "--child-import",
                str(src),
                str(home),
                env={"BENCH_N": str(a.n), "BENCH_DB_URL": url},
            )
        assert r["records"] == a.n == r["new_media"] == r["exported"], r
        imports.append(r["import_s"])
        exports.append(r["export_s"])
        cpu.append((r["import_cpu_s"], r["export_cpu_s"]))
        samples = r["rss_samples"]
        flat.append((samples, r["rss_base_mb"], r["peak_mb"]))
    rows.append(
        (
            f"tessera import ({'PostgreSQL' if a.db else 'SQLite'}, 1 transaction)",
            a.n / statistics.median(imports),
            "target >= 20,000/s",
        )
    )
    rows.append(
        ("tessera export (VICS 2.0)", a.n / statistics.median(exports), "target >= 50,000/s")
    )
    print(
        f"\n{a.n:,} VICS records; medians of {a.repeat} parse passes, {a.repeat_db} import/export"
    )
    print(f"{'method':42s} {'records/s':>12s} {'vs ijson':>9s}  note")
    for name, rate, note in rows:
        print(f"{name:42s} {rate:12,.0f} {rate / ij_rate:8.2f}x  {note}")
    ci, ce = cpu[-1]
    print(
        f"per CPU-second of the importing process: import {a.n / ci:,.0f} records/s, "
        f"export {a.n / ce:,.0f} records/s (wall rates above include waiting for a CPU)"
    )
    samples, base, peak = flat[-1]
    print("\nimport memory (VmRSS MB) at each 10% of records:")
    print("  " + "  ".join(f"{i * 100 // a.n}%:{mb:.0f}" for i, mb in samples))
    growth = samples[-1][1] - samples[1][1] if len(samples) > 1 else 0.0
    print(f"  before import {base:.0f} MB, peak {peak:.0f} MB, growth 20%->100%: {growth:+.0f} MB")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-stdlib":
        child_stdlib(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-import":
        child_import(sys.argv[2], sys.argv[3])
    else:
        main()
