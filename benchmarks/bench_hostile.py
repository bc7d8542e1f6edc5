"""Peak memory per file class over the hostile corpus (issue 10, items 2 and 3).

Generates the corpus (``scripts/hostile_corpus.py``, part ``heavy`` by default: the
full >= 1,000 files plus memory and archive bombs) and, for every file, runs one
fresh worker process that fingerprints it exactly as a ``hash``/``ingest`` worker
does (``tessera.pipeline.expand.expand_path``: archives opened, every member fingerprinted),
reporting its peak RSS. As a baseline
in the same run, a second process decodes each picture with plain Pillow
(``Image.open(...).load()``, Pillow's own 178 MP bomb check raised to the 200 MP cap):
the memory the pixels alone take without Tessera's bounds. Prints, per class: files,
outcomes, peak MB (max / median) for Tessera and the baseline, and the ratio.
Every worker runs under ``RLIMIT_AS`` (default 4 GiB) so a regression cannot take
the machine down; one that hits it is reported as ``killed``.

    python benchmarks/bench_hostile.py [--part heavy|full|light] [--out DIR]
        [--classes image,heavy,...] [--limit-gb 4] [--mode fast|reference]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_WORKER = r"""
import json, resource, sys
path, mode, which = sys.argv[1], sys.argv[2], sys.argv[3]
out = {"status": None}
if which == "tessera":
    from pathlib import Path
    from tessera.pipeline.expand import expand_path
    from tessera.pipeline.options import ExpandOptions, HashOptions
    # what an ingest/triage worker does: archives opened, members hashed
    rs = expand_path(Path(path), ExpandOptions(hash=HashOptions(mode=mode)))
    r = rs[0]
    bad = sorted({x.reason for x in rs if x.status == "error" and x.reason})
    out = {"status": r.status if len(rs) == 1 else f"{len(rs)} results",
           "reason": r.reason if len(rs) == 1 else (",".join(bad) or None), "flags": r.flags}
else:
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = 200_000_000
    try:
        with Image.open(path) as im:
            im.load()
        out = {"status": "ok"}
    except Exception as exc:
        out = {"status": "error", "reason": type(exc).__name__}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _limit(gb: float) -> None:
    import resource

    cap = int(gb * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_one(path: Path, mode: str, which: str, limit_gb: float) -> dict[str, object]:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _WORKER, str(path), mode, which],
            capture_output=True,
            check=False,
            text=True,
            timeout=600,
            preexec_fn=lambda: _limit(limit_gb),
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "peak_mb": None}
    if proc.returncode != 0:
        return {"status": "killed", "peak_mb": None, "reason": proc.stderr.strip()[-200:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--part", default="heavy", choices=["light", "full", "heavy"])
    ap.add_argument("--out", type=Path, help="corpus folder (default: a temporary one)")
    ap.add_argument("--classes", help="comma-separated top classes (image, heavy, ...)")
    ap.add_argument("--limit-gb", type=float, default=4.0)
    ap.add_argument("--mode", default="fast", choices=["fast", "reference"])
    ap.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--per-class", type=int, default=0, help="at most N files per class (0: all)")
    args = ap.parse_args()

    spec = importlib.util.spec_from_file_location("hc", ROOT / "scripts" / "hostile_corpus.py")
    assert spec and spec.loader
    hc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hc)
    out = args.out or Path(tempfile.mkdtemp(prefix="tessera-hostile-")) / "corpus"
    manifest: dict[str, str] = hc.generate(out, args.part)
    wanted = set(args.classes.split(",")) if args.classes else None
    print(f"corpus: {len(manifest)} files in {out} (part {args.part}), mode {args.mode}")
    load = os.getloadavg()
    print(f"load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")

    rows: dict[str, list[tuple[dict[str, object], dict[str, object] | None]]] = defaultdict(list)
    for rel, cls in sorted(manifest.items()):
        top = cls.split(":")[0]
        if wanted and top not in wanted:
            continue
        path = out / rel
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 512 << 20:
            continue  # special files: not decoded by either side
        key = cls if top == "heavy" else top
        if args.per_class and len(rows[key]) >= args.per_class:
            continue
        t = run_one(path, args.mode, "tessera", args.limit_gb)
        b = None
        if args.baseline and top in ("image", "heavy", "metadata", "name"):
            b = run_one(path, args.mode, "pillow", args.limit_gb)
        rows[key].append((t, b))
        if top == "heavy":
            print(f"  {rel}: tessera {t} | pillow {b}", flush=True)

    print()
    print(
        f"{'class':32s} {'files':>5s}  {'outcomes (tessera)':40s} "
        f"{'tessera MB max/med':>20s} {'pillow MB max/med':>20s} {'ratio':>6s}"
    )
    for key, items in sorted(rows.items()):
        peaks = [float(t["peak_mb"]) for t, _ in items if t.get("peak_mb")]
        base = [float(b["peak_mb"]) for _, b in items if b and b.get("peak_mb")]
        outcomes: dict[str, int] = defaultdict(int)
        for t, _ in items:
            outcomes[str(t.get("reason") or t["status"])] += 1
        oc = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))[:40]
        tp = f"{max(peaks):.0f}/{statistics.median(peaks):.0f}" if peaks else "-"
        bp = f"{max(base):.0f}/{statistics.median(base):.0f}" if base else "-"
        ratio = f"{max(peaks) / max(base):.2f}" if peaks and base else "-"
        print(f"{key:32s} {len(items):5d}  {oc:40s} {tp:>20s} {bp:>20s} {ratio:>6s}")
    worst = max(
        (float(t["peak_mb"]) for items in rows.values() for t, _ in items if t.get("peak_mb")),
        default=0.0,
    )
    killed = sum(
        1 for items in rows.values() for t, _ in items if t["status"] in ("killed", "timeout")
    )
    print(
        f"\nworst Tessera worker peak: {worst:.0f} MB (budget 2048 MB); killed/timeouts: {killed}"
    )


if __name__ == "__main__":
    main()
