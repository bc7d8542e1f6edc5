"""OCR character accuracy and time per image on the shared scene-text sets.

For each image of ``ocr-opencv-contrib-scenetext`` and ``ocr-easyocr-signs`` (read in
place from ``../shared/data``, or ``$TESSERA_SHARED/data``): decode, ``read_text`` with
the defaults (or ``--psm``/``--min-confidence``/``--upscale-below``/``--lang``), and
compare ``full_text`` with the README transcription by character accuracy
(1 - Levenshtein / longer length, case-folded, whitespace collapsed). Prints a table
per image, then mean and median accuracy and time per image for each set.

Usage: ``python benchmarks/bench_ocr.py [--psm 11 --psm 6] [--lang eng] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

from tessera.media.decode import decode_image
from tessera.media.ocr import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_PSMS,
    DEFAULT_UPSCALE_BELOW,
    char_accuracy,
    full_text,
    read_text,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TESSERA_SHARED", REPO.parent / "shared"))
SETS = ("ocr-opencv-contrib-scenetext", "ocr-easyocr-signs")


def transcriptions(readme: Path) -> dict[str, str]:
    """``file -> text`` from a README ground-truth table (same rules as the tests)."""
    out: dict[str, str] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*([\w.-]+\.(?:jpg|png))\s*\|\s*(.+?)\s*\|\s*$", line)
        if not m or "_char" in m.group(1):
            continue
        name, text = m.groups()
        text = text.split(" (")[0]
        if "(twice" in line:
            text = f"{text} / {text}"
        out[name] = " ".join(t.strip() for t in text.split(" / "))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--psm", type=int, action="append", help=f"default {DEFAULT_PSMS}")
    ap.add_argument("--lang", action="append", help="Tesseract language (repeatable)")
    ap.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE)
    ap.add_argument("--upscale-below", type=int, default=DEFAULT_UPSCALE_BELOW)
    ap.add_argument("--json", type=Path, help="also write the per-image results here")
    args = ap.parse_args()
    data = SHARED / "data"
    if not data.exists():
        print(f"shared data not found at {data} (set TESSERA_SHARED)", file=sys.stderr)
        return 2
    psms = tuple(args.psm or DEFAULT_PSMS)
    langs = tuple(args.lang or ("eng",))
    print(
        f"psm={psms} lang={'+'.join(langs)} min_confidence={args.min_confidence:g} "
        f"upscale_below={args.upscale_below}"
    )
    rows: list[dict[str, object]] = []
    summary: list[tuple[str, float, float, float, float, int]] = []
    for name in SETS:
        folder = data / name
        accs: list[float] = []
        times: list[float] = []
        print(f"\n{name}")
        print(f"{'file':34} {'acc':>6} {'s':>6}  text read")
        for file, truth in transcriptions(folder / "README.md").items():
            raw = (folder / file).read_bytes()
            t0 = time.perf_counter()
            rgb = decode_image(raw).rgb
            got = full_text(
                read_text(
                    rgb,
                    languages=langs,
                    psms=psms,
                    min_confidence=args.min_confidence,
                    upscale_below=args.upscale_below,
                )
            )
            dt = time.perf_counter() - t0
            acc = char_accuracy(got, truth)
            accs.append(acc)
            times.append(dt)
            shown = got.replace("\n", " | ")
            print(f"{file:34} {acc:6.3f} {dt:6.2f}  {shown[:60]!r}")
            rows.append({"set": name, "file": file, "accuracy": acc, "seconds": dt, "text": got})
        summary.append(
            (
                name,
                statistics.mean(accs),
                statistics.median(accs),
                statistics.mean(times),
                statistics.median(times),
                len(accs),
            )
        )
    print(f"\n{'set':32} {'n':>3} {'acc mean':>9} {'acc med':>8} {'s mean':>7} {'s med':>6}")
    for name, am, amed, tm, tmed, n in summary:
        print(f"{name:32} {n:3d} {am:9.3f} {amed:8.3f} {tm:7.2f} {tmed:6.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
