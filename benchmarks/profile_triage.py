"""Where triage's time goes, step by step (issue 16 item 1).

On a sample of a ``bench_seizure.py`` seizure and its ingested home, one process
times each step of a file's way through triage (CPU seconds per file, ``time.
process_time``, so the figures hold on a loaded machine):

read, digests, decode (fast, as ``tessera hash``), PDQ, dihedral PDQ (8 variants
instead of 1), SIFT of the decoded picture (as triage's first stage extracts it),
SIFT of its mirror image, the compact encoding (``to_bytes``), and for files no
hash matched: retrieval (``SceneIndex.search``), loading the candidates' stored
features, and verification of the whole shortlist; then the copy check of every
sampled file as triage runs it (``matching.triage.copies.copy_check``, a chunk of
``VERDICT_CHUNK`` files at a time: retrieval, one read of the chunk's candidates,
verification of its top few), hash-matched files included.

Usage: ``nice python benchmarks/profile_triage.py --seizure
benchmarks/_data/seizure/db2000-side4000/seizure-300 --home
benchmarks/_data/seizure/db2000-side4000/home --sample 150``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tessera.features.local import LocalFeatures, extract, extract_mirrored, rescale
from tessera.features.scene import match_pair
from tessera.fingerprints.pdq import pdq_dihedral_rgb, pdq_hash_rgb
from tessera.matching.scene_store import SceneStore, parse_key
from tessera.matching.triage.copies import COPY_SHORTLIST, copy_check
from tessera.matching.triage.run import VERDICT_CHUNK
from tessera.media.decode import decode_image
from tessera.media.vpdq_file import blas_threads
from tessera.pipeline.fingerprint import COPY_MAX_SIDE, COPY_NFEATURES
from tessera.pipeline.result import FileResult
from tessera.storage.db import Database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seizure", type=Path, required=True, help="a bench_seizure.py seizure")
    ap.add_argument("--home", type=Path, required=True, help="its ingested database home")
    ap.add_argument("--sample", type=int, default=150)
    ap.add_argument("--shortlist", type=int, default=15)
    args = ap.parse_args()
    files = sorted(args.seizure.iterdir())
    step = max(1, len(files) // args.sample)
    files = files[::step][: args.sample]
    home = args.home
    db = Database(f"sqlite:///{(home / 'tessera.sqlite').resolve()}")
    scene = SceneStore(db, home / "scene-index", read_only=True)
    t: dict[str, float] = defaultdict(float)

    def clock(name: str, t0: float) -> float:
        now = time.process_time()
        t[name] += now - t0
        return now

    cache: dict[str, LocalFeatures | None] = {}
    checked: list[tuple[int, FileResult]] = []
    for p in files:
        t0 = time.process_time()
        data = p.read_bytes()
        t0 = clock("read", t0)
        for algo in ("md5", "sha1", "sha256"):
            hashlib.new(algo, data).digest()
        t0 = clock("digests (md5, sha1, sha256)", t0)
        dec = decode_image(data, fast=True)
        t0 = clock("decode (fast, as hash)", t0)
        pdq_hash_rgb(dec.rgb, dec.grid, exact="never")
        t0 = clock("PDQ", t0)
        pdq_dihedral_rgb(dec.rgb, dec.grid, exact="never")
        t0 = clock("PDQ dihedral (8 variants; instead of PDQ)", t0)
        h, w = dec.full_shape
        f = rescale(extract(dec.rgb), w, h)
        t0 = clock("SIFT of the decoded picture (1000 kp)", t0)
        rescale(extract_mirrored(dec.rgb), w, h)
        t0 = clock("SIFT of its mirror image", t0)
        blob = f.to_bytes()
        t0 = clock("compact encoding (to_bytes, PQ)", t0)
        q = LocalFeatures.from_bytes(blob)
        t0 = clock("decoding it back (from_bytes)", t0)
        small = rescale(extract(dec.rgb, max_side=COPY_MAX_SIDE, nfeatures=COPY_NFEATURES), w, h)
        t0 = clock(f"copy-check SIFT (<= {COPY_MAX_SIDE} px, {COPY_NFEATURES} kp)", t0)
        blob_c = small.to_bytes_full()
        t0 = clock("copy-check keypoints to bytes (v1, no PQ)", t0)
        checked.append((len(checked), FileResult(p.name, "ok", copy_features=blob_c)))
        if scene.index is None:
            continue
        cands = scene.index.search(q, args.shortlist)
        t0 = clock("retrieval (index.search, shortlist)", t0)
        for c in cands:
            if c.media_id not in cache:
                cache[c.media_id] = scene.features_of(*parse_key(c.media_id))
        t0 = clock("candidates' stored features (cached)", t0)
        for c in cands:
            feats = cache[c.media_id]
            if feats is not None:
                match_pair(q, feats, c.media_id, c)
        t0 = clock(f"verification of {args.shortlist} candidates", t0)
    # the copy check as triage runs it: a chunk at a time (retrieval, one read of the
    # chunk's candidates, verification of <= COPY_SHORTLIST a file), one BLAS thread
    t0 = time.process_time()
    with blas_threads(1):
        for a in range(0, len(checked), VERDICT_CHUNK):
            copy_check(scene, checked[a : a + VERDICT_CHUNK])
    clock(f"copy check (chunks of {VERDICT_CHUNK}, verify <= {COPY_SHORTLIST})", t0)
    n = len(files)
    print(
        f"{n} files of {args.seizure}; load average {os.getloadavg()[0]:.1f}; "
        f"scene index {scene.status()}"
    )
    print(f"{'step':48} {'ms CPU/file':>12}")
    for name, s in t.items():
        print(f"{name:48} {1000 * s / n:12.1f}")


if __name__ == "__main__":
    main()
