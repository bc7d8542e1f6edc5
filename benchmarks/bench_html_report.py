"""The ``--html`` triage report at seizure scale: wall, CPU, peak memory and size.

Builds a triage report without a database over the pictures in ``--pictures``
(each used ``--times`` times, so 1,000 files make a 10,000-row report): every 25th
file known, every 40th near, every 30th a new file with a lead, the rest new, and
writes it, each variant in a fresh process (its own peak RSS), alternated
``--repeats`` times:

* ``tessera``: this tree's defaults (thumbnails by a few threads, new files
  beyond ``MAX_NEW_THUMBNAILS`` named without a picture, streamed);
* ``baseline``: ``--baseline-src`` (another tree's ``src``, e.g. the commit
  before this report was bounded) writing the report as it does; without it, this
  tree with every file pictured by one thread (the thumbnails' old work, not its
  old memory).

Prints the medians of both and the ratio. Thumbnails only: triage itself is not
run (its cost is the same with or without ``--html``).

``--gil`` instead tells whether thumbnails hold the GIL: a probe thread asks for it
every 0.2 ms (switch interval 0.5 s, so only a released GIL lets it in) while
another thread makes thumbnails, then sha256 of a large buffer (releases it), then
pure Python (holds it); it prints how often the probe got in and how long it waited.

    nice -n 10 python benchmarks/bench_html_report.py --pictures /work/bench100k/sample1k
    nice -n 10 python benchmarks/bench_html_report.py --pictures DIR --times 10 \\
        --baseline-src /path/to/old/src
    nice -n 10 python benchmarks/bench_html_report.py --pictures DIR --gil
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _report(pictures: Path, times: int):  # type: ignore[no-untyped-def]
    from tessera.matching.triage.report import Match, RelatedMatch, TriageItem, TriageReport
    from tessera.pipeline.result import FileResult

    files = sorted(p for p in pictures.iterdir() if p.is_file())
    items = []
    for i in range(len(files) * times):
        f = FileResult(str(files[i % len(files)]), "ok")
        if i % 25 == 0:
            items.append(TriageItem(f, "known", [Match(i, "sha256", 0, 1, ("A",))]))
        elif i % 40 == 0:
            items.append(TriageItem(f, "near", [Match(i, "pdq", 20, 1, ("A",))]))
        elif i % 30 == 0:
            items.append(TriageItem(f, "new", related=[RelatedMatch(i, "same-camera", ("A",))]))
        else:
            items.append(TriageItem(f, "new"))
    return TriageReport(items=items, series=[], groups=[])


def _child(pictures: Path, times: int, out: Path) -> None:
    from tessera.report import html as html_report

    report = _report(pictures, times)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    html_report.write(report, out, thumbnails="blurred")
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    text = out.read_text("utf-8")
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime,
                "peak_rss_mb": ru1.ru_maxrss / 1024,
                "size_mb": out.stat().st_size / 1e6,
                "pictures": text.count("<img"),
                "rows": len(report.items),
            }
        )
    )


def _run(variant: str, args: argparse.Namespace, out: Path) -> dict[str, float]:
    here = Path(__file__).resolve().parent.parent / "src"
    src = args.baseline_src if variant == "baseline" and args.baseline_src else str(here)
    cmd = [sys.executable, __file__, "--child", str(args.pictures), str(args.times), str(out)]
    if variant == "baseline" and not args.baseline_src:
        cmd.append("--all-serial")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _gil(pictures: Path) -> None:
    import hashlib

    from tessera.report.thumbs import thumbnail_data_uri

    files = sorted(str(p) for p in pictures.iterdir() if p.is_file())[:300]
    buf = b"x" * (64 << 20)

    def thumbs() -> None:
        for f in files:
            thumbnail_data_uri(f, "blurred")

    def sha() -> None:
        for _ in range(10):
            hashlib.sha256(buf).digest()

    def python() -> None:
        t, x = time.perf_counter(), 0
        while time.perf_counter() - t < 1.5:
            x += 1

    sys.setswitchinterval(0.5)
    for name, work in (("thumbnails", thumbs), ("sha256 (no GIL)", sha), ("pure Python", python)):
        wall, probes, waited = _probe(work)
        print(
            f"{name:16s} {wall:.2f} s: the probe got the GIL {probes} times, waited {waited:.2f} s"
        )


def _probe(work: Callable[[], None]) -> tuple[float, int, float]:
    """(wall, times a probe thread got the GIL, its waits) while ``work`` runs."""
    done = threading.Event()
    waited, probes = 0.0, 0

    def probe() -> None:
        nonlocal waited, probes
        while not done.is_set():
            t0 = time.perf_counter()
            time.sleep(0.0002)
            waited += max(0.0, time.perf_counter() - t0 - 0.0002)
            probes += 1

    def run() -> None:
        work()
        done.set()

    threads = [threading.Thread(target=run), threading.Thread(target=probe)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0, probes, waited


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        pictures, times, out = Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
        if "--all-serial" in sys.argv:
            from tessera.report import html as html_report

            real = html_report.write

            def serial(report, path, **kw):  # type: ignore[no-untyped-def]
                real(report, path, max_new_thumbnails=len(report.items), workers=1, **kw)

            html_report.write = serial  # type: ignore[assignment]
        _child(pictures, times, out)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pictures", type=Path, required=True)
    ap.add_argument("--times", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--baseline-src", help="another tree's src folder for the baseline")
    ap.add_argument("--gil", action="store_true", help="only: do thumbnails hold the GIL?")
    args = ap.parse_args()
    if args.gil:
        _gil(args.pictures)
        return
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "tessera": []}
    with tempfile.TemporaryDirectory(prefix="bench-html-") as tmp:
        for _ in range(args.repeats):
            for variant, done in runs.items():
                done.append(_run(variant, args, Path(tmp) / f"{variant}.html"))
                print(variant, done[-1], flush=True)
    med = {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in runs.items()}
    for v, m in med.items():
        print(
            f"{v:9s} rows {m['rows']:.0f}: wall {m['wall']:.2f} s, CPU {m['cpu']:.2f} s, "
            f"peak RSS {m['peak_rss_mb']:.0f} MB, page {m['size_mb']:.1f} MB, "
            f"{m['pictures']:.0f} pictures"
        )
    b, t = med["baseline"], med["tessera"]
    print(
        f"ratio baseline/tessera: wall {b['wall'] / t['wall']:.2f}x, "
        f"CPU {b['cpu'] / t['cpu']:.2f}x, page {b['size_mb'] / t['size_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
