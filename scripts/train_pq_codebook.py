"""Train a product- or residual-quantisation codebook for stored RootSIFT descriptors.

Deterministic and self-contained: the training pictures are generated (the
"busy" pictures of ``benchmarks/bench_scenes.py``: Tessera's synthetic picture plus
random shapes, lines, text and sensor noise, at seeds no benchmark uses), so the
codebook can be rebuilt anywhere and checked against the SHA-256 pinned in
``tessera.features.codebook.CODEBOOKS``. No photograph goes into it.

Usage: ``python scripts/train_pq_codebook.py --id 2 --m 8 --pictures 300`` (codebook 2;
codebook 1 was ``--id 1 --m 16 --pictures 1500``; codebook 3, residual, was ``--id 3
--m 12 --kind residual --pictures 300 --sample 60000``); writes
``src/tessera/features/data/pq-<id>.npy`` and prints its SHA-256 (add it to
``CODEBOOKS`` under a *new* id: released codebooks never change).

``--kind residual`` trains ``M`` full-dimension codebooks of 256 centroids, each
quantising what the previous ones left (faiss ``ResidualQuantizer``, greedy, as
``tessera.features.codebook`` encodes); the file is ``M x 256 x 128``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # faiss k-means reproducible

import argparse
import hashlib
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

SEED_BASES = {1: 50_000_000, 2: 70_000_000, 3: 90_000_000}
"""First picture seed of each codebook (far from the benchmarks' seeds 0..n; codebook 1's
range is also bench_robust's fresh negatives, so codebook 2 moved away from it)."""


def _descriptors(seed: int) -> np.ndarray:
    from bench_scenes import busy_picture  # noqa: PLC0415 (path set above)
    from tessera.features.local import extract  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    w, h = int(rng.integers(320, 960)), int(rng.integers(240, 720))
    return extract(busy_picture(seed, w, h)).float_desc()


def main() -> None:
    import faiss  # noqa: PLC0415

    ap = argparse.ArgumentParser()
    ap.add_argument("--id", type=int, required=True)
    ap.add_argument("--m", type=int, default=32, help="sub-quantisers (bytes per descriptor)")
    ap.add_argument("--pictures", type=int, default=1500)
    ap.add_argument("--sample", type=int, default=300_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--kind", choices=("product", "residual"), default="product")
    args = ap.parse_args()
    seeds = [SEED_BASES.get(args.id, 10_000_000 * (args.id + 5)) + i for i in range(args.pictures)]
    with Pool(args.workers) as pool:
        parts = pool.map(_descriptors, seeds, chunksize=16)
    x = np.concatenate(parts)
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(x[rng.permutation(len(x))[: args.sample]], dtype=np.float32)
    if args.kind == "residual":
        pq = faiss.ResidualQuantizer(128, args.m, 8)
        pq.max_beam_size = 1  # greedy, as the codebook encodes
        pq.train_type = faiss.ResidualQuantizer.Train_progressive_dim
        pq.cp.seed = 1234
        pq.train(x)
        cent = faiss.vector_to_array(pq.codebooks).reshape(args.m, 256, 128)
    else:
        pq = faiss.ProductQuantizer(128, args.m, 8)
        pq.cp.seed = 1234
        pq.train(x)
        cent = faiss.vector_to_array(pq.centroids).reshape(args.m, 256, 128 // args.m)
    out = args.out or REPO / "src/tessera/features/data" / f"pq-{args.id}.npy"
    np.save(out, cent.astype(np.float32), allow_pickle=False)
    err = ((pq.decode(pq.compute_codes(x)) - x) ** 2).sum(axis=1).mean()
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: M={args.m}, {len(x)} descriptors from {args.pictures} pictures")
    print(f"mean squared reconstruction error {err:.4f} (descriptors have unit norm)")
    print(f"sha256 {digest}")


if __name__ == "__main__":
    main()
