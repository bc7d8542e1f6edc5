"""PDQ hashing speed and agreement: Tessera against its peers, same data, one run.

Runs on one core (affinity pinned, BLAS threads = 1) over generated photo-like
JPEGs held in memory, in three size classes. For every pass, every method hashes
every image of a class; a pass gives images/s; the table shows the median over
passes. Methods:

* ``pdqhash+PIL``     Meta's C++ PDQ (``pdqhash``) on Pillow's full RGB decode
                      (what python-threatexchange and HMA do);
* ``imagehash.phash`` the common 64-bit DCT hash, Pillow full decode;
* ``decode floor``    Pillow DCT-domain decode at 1/8 scale and nothing else;
* ``tessera fast``    Tessera's default ingest path (scaled decode + PDQ);
* ``tessera ref``     Tessera's reference mode (full decode, bit-exact PDQ);
* ``tessera file``    the whole per-file job of ``tessera hash``: MD5, SHA-1,
                      SHA-256 and fast PDQ from one read.

Usage: ``python benchmarks/bench_pdq.py [--quick] [--passes N] [--json FILE]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import io
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import PIL
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import generate
from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.fingerprints.value import hamming
from tessera.media.decode import decode_image
from tessera.pipeline.fingerprint import hash_bytes
from tessera.pipeline.options import HashOptions

DATA = Path(__file__).resolve().parent / "_data" / "jpeg"
FULL_COUNTS = {"640x480": 60, "1920x1080": 30, "4000x3000": 12}
QUICK_COUNTS = {"640x480": 6, "1920x1080": 3, "4000x3000": 2}


def pdqhash_pil(b: bytes) -> bytes:
    rgb = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
    bits, _q = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes()


def phash(b: bytes) -> object:
    return imagehash.phash(Image.open(io.BytesIO(b)))


def decode_floor(b: bytes) -> object:
    im = Image.open(io.BytesIO(b))
    w, h = im.size
    im.draft("RGB", (max(1, w // 8), max(1, h // 8)))
    im.load()
    return im.size


def tessera_fast(b: bytes) -> bytes:
    d = decode_image(b, fast=True)
    return pdq_hash_rgb(d.rgb, d.grid, exact="never").fingerprint.payload


def tessera_ref(b: bytes) -> bytes:
    return pdq_hash_rgb(decode_image(b).rgb).fingerprint.payload


_FILE_OPTIONS = HashOptions()


def tessera_file(b: bytes) -> object:
    return hash_bytes(b, "-", _FILE_OPTIONS).pdq


METHODS: dict[str, Callable[[bytes], object]] = {
    "pdqhash+PIL": pdqhash_pil,
    "imagehash.phash": phash,
    "decode floor (PIL 1/8)": decode_floor,
    "tessera fast": tessera_fast,
    "tessera ref": tessera_ref,
    "tessera file (md5+sha1+sha256+pdq)": tessera_file,
}


def run(counts: dict[str, int], passes: int) -> dict[str, object]:
    images = {k: [p.read_bytes() for p in v] for k, v in generate(DATA, counts).items()}
    rates: dict[str, dict[str, list[float]]] = {m: {k: [] for k in images} for m in METHODS}
    for label, blobs in images.items():
        n_passes = passes if label != "4000x3000" else max(2, passes - 2)
        for fn in METHODS.values():  # warm-up: caches, page faults, lazy imports
            for b in blobs[:2]:
                fn(b)
        for _ in range(n_passes):
            for name, fn in METHODS.items():  # interleaved, so drift hits all alike
                t0 = time.perf_counter()
                for b in blobs:
                    fn(b)
                rates[name][label].append(len(blobs) / (time.perf_counter() - t0))
    agreement = {}
    for label, blobs in images.items():
        ref_vs_cpp, fast_vs_ref = [], []
        for b in blobs:
            cpp, ref, fast = pdqhash_pil(b), tessera_ref(b), tessera_fast(b)
            ref_vs_cpp.append(hamming(ref, cpp))
            fast_vs_ref.append(hamming(fast, ref))
        agreement[label] = {
            "n": len(blobs),
            "mean_kb": round(sum(map(len, blobs)) / len(blobs) / 1024, 1),
            "ref_vs_pdqhash_max_bits": max(ref_vs_cpp),
            "ref_vs_pdqhash_exact": sum(d == 0 for d in ref_vs_cpp),
            "fast_vs_ref_mean_bits": round(float(np.mean(fast_vs_ref)), 2),
            "fast_vs_ref_max_bits": max(fast_vs_ref),
        }
    medians = {m: {k: statistics.median(v) for k, v in per.items()} for m, per in rates.items()}
    return {"medians": medians, "rates": rates, "agreement": agreement}


def report(result: dict[str, object]) -> str:
    medians: dict[str, dict[str, float]] = result["medians"]  # type: ignore[assignment]
    agreement: dict[str, dict[str, object]] = result["agreement"]  # type: ignore[assignment]
    labels = list(next(iter(medians.values())))
    base, floor = medians["pdqhash+PIL"], medians["decode floor (PIL 1/8)"]
    lines = [
        "images/s, one core, median over passes "
        "(x = ratio to pdqhash+PIL; % = share of the 1/8 decode floor)",
        f"{'method':36s}" + "".join(f"{lb:>26s}" for lb in labels),
    ]
    for m, per in medians.items():
        cells = []
        for lb in labels:
            cells.append(
                f"{per[lb]:8.1f} {per[lb] / base[lb]:6.1f}x {100 * per[lb] / floor[lb]:5.0f}%"
            )
        lines.append(f"{m:36s}" + "".join(f"{c:>26s}" for c in cells))
    lines.append("")
    lines.append("agreement (Hamming bits):")
    for lb, a in agreement.items():
        lines.append(
            f"  {lb}: n={a['n']} ({a['mean_kb']} KB avg)  tessera ref vs pdqhash: "
            f"{a['ref_vs_pdqhash_exact']}/{a['n']} identical, max {a['ref_vs_pdqhash_max_bits']}; "
            f"fast vs ref: mean {a['fast_vs_ref_mean_bits']}, max {a['fast_vs_ref_max_bits']}"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few images, for a smoke run")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write raw figures here")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, Pillow {PIL.__version__}, "
        f"pdqhash {getattr(pdqhash, '__version__', '?')}, imagehash {imagehash.__version__}"
    )
    result = run(counts, 1 if args.quick else args.passes)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
