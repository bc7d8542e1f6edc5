"""Product-quantisation codebooks for stored RootSIFT descriptors.

Stored local features must stay small (about 16 KB a picture, so 4.3M pictures
fit in ~70 GB): a 128-byte descriptor is stored as ``M`` one-byte codes, one per
sub-vector of ``128 / M`` components, each naming the nearest of 256 centroids of
its sub-space (Jegou, Douze, Schmid 2011, "Product quantization for nearest
neighbor search"). Matching decodes the codes back to the centroids, so the ratio
test compares reconstructions (a few per cent of the descriptor's norm off).

Why a *shipped* codebook and not one trained per database: a stored blob must be
decodable by any Tessera (another node of the network, a Dask worker, a restored
backup) without the database that wrote it, and codes from two databases must be
comparable. The codebooks are package data (``data/pq-<id>.npy``, float32,
``M x 256 x 128/M``), each pinned by its SHA-256 below; every stored blob names the
codebook id it was coded with (the feature header), and a codebook file never
changes once released. Retraining means *adding* a codebook with the next id and
making it ``CURRENT``: new blobs use it, old blobs still decode with theirs, and
``scripts/train_pq_codebook.py --id N`` writes it (deterministically, from
generated pictures, so anyone can rebuild and check the digest). Re-coding old
blobs with a new codebook would quantise twice; a database that wants one
codebook throughout re-extracts from the media (``tessera index rebuild`` does
not: it re-indexes the stored features).

Two kinds of codebook (:data:`KINDS`): *product* (``M x 256 x 128/M``: each code
names a centroid of its own sub-vector) and *residual* (``M x 256 x 128``: each code
names a full-length centroid of what the previous codes left, the reconstruction is
their sum; encoded greedily, stage by stage). A residual codebook
reconstructs RootSIFT as well as a product one with fewer bytes: mean squared error on
the descriptors of the 159 shared photos the benchmarks use (unit-norm RootSIFT, every
third descriptor, none of them trained on): codebook 1 (16 product codes) 0.053,
codebook 2 (8 product codes) 0.097, codebook 3 (12 residual codes) 0.052. The 4 bytes
saved a keypoint keep 908 keypoints in 16 KiB instead of 743. Encoding is greedy, 12
matrix products a picture (no beam search: faiss' beam of 4 gains ~15 % error at 2-4x
the time, too slow for ingest).
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from tessera.errors import ConfigError, InvalidInput

DIM = 128
"""RootSIFT dimension."""

CENTROIDS = 256
"""Centroids per sub-space (one byte per code)."""

CURRENT = 3
"""The codebook new blobs are coded with: codebook 3 (12 residual codes, 18 bytes a
keypoint with its geometry, the strongest 908 keypoints in 16 KiB where codebook 1's
22 bytes keep 743), read with its ratio slack. Measured with ``benchmarks/bench_compact.py``
(figures in the README) against full descriptors and codebook 1 on the same data.
Codebook 2 (8 product codes, all 1,000 keypoints) decodes but was never made current:
its coarser codes lose edited copies of repetitive textures (brick, a star field) and
scene recall@10 with a file as the query. Blobs of codebooks 1 and 2 keep decoding with
their own codebook (no slack): re-coding them would quantise twice and cannot bring
back the keypoints they dropped."""

RATIO_SLACK: dict[int, float] = {3: 0.02}
"""Codebook id -> squared distance the ratio test takes off both neighbours when a
side was coded with it (``LocalFeatures.ratio_slack``; not stored in blobs, so it can be
re-tuned without re-coding). Measured for codebook 3 with ``bench_compact.py`` (figures
in the README): 0.02 keeps the edited copies full descriptors find (near 417 of 421
verified directly, as full) with scene recall@10 0.957 (full 0.962, codebook 1 0.885);
0.04 gave the same scene recall but cost triage's 320-pixel copy check edited copies
(captions, overlays): recall 0.765 of 421 against 0.789 at 0.02 and codebook 1's 0.781."""

KINDS: dict[int, str] = {3: "residual"}
"""Codebook id -> ``"residual"``; ids not listed are product codebooks."""

CODEBOOKS: dict[int, tuple[int, str]] = {
    1: (16, "72350ba0b58d988a658b965a22c4d1943dfd93af552d33a03d0dec3d62435ab8"),
    2: (8, "c0897466534c0a2754e014698b4078ba707494b21a4bee6dac5b0ef6ec30ec9f"),
    3: (12, "68bc03b0eb11d264caa4d1cd54d6b7644883a28773cb69339c7ea1d7d951cebd"),
}
"""Codebook id -> (sub-quantisers M, SHA-256 of its ``.npy`` file). Never edited
once released; a retrained codebook gets a new id."""

Float32Array = NDArray[np.float32]
UInt8Array = NDArray[np.uint8]


class Codebook:
    """``M`` codebooks of 256 centroids each (product or residual); encode and decode."""

    def __init__(self, ident: int, centroids: Float32Array, *, residual: bool = False) -> None:
        m, k, dsub = centroids.shape
        if residual and (k != CENTROIDS or dsub != DIM):
            raise InvalidInput(f"codebook {ident}: shape {centroids.shape} is not M x 256 x 128")
        if not residual and (k != CENTROIDS or m * dsub != DIM):
            raise InvalidInput(f"codebook {ident}: shape {centroids.shape} is not M x 256 x 128/M")
        self.ident = ident
        self.residual = residual
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self._norms = (self.centroids**2).sum(axis=2)  # M x 256

    @property
    def m(self) -> int:
        return int(self.centroids.shape[0])

    def encode(self, desc: Float32Array) -> UInt8Array:
        """N x 128 float descriptors -> N x M codes (nearest centroid per sub-space)."""
        x = np.ascontiguousarray(desc, dtype=np.float32)
        n = x.shape[0]
        codes = np.empty((n, self.m), np.uint8)
        if self.residual:  # greedy: each stage codes what the previous ones left
            rest = x.copy()
            for j in range(self.m):
                d = self._norms[j][None, :] - 2.0 * (rest @ self.centroids[j].T)
                codes[:, j] = d.argmin(axis=1)
                rest -= self.centroids[j][codes[:, j]]
            return codes
        dsub = DIM // self.m
        for j in range(self.m):
            sub = x[:, j * dsub : (j + 1) * dsub]
            d = self._norms[j][None, :] - 2.0 * (sub @ self.centroids[j].T)
            codes[:, j] = d.argmin(axis=1)
        return codes

    def decode(self, codes: UInt8Array) -> Float32Array:
        """N x M codes -> N x 128 reconstructed descriptors."""
        c = np.asarray(codes, np.intp)
        if self.residual:
            out = np.zeros((c.shape[0], DIM), np.float32)
            for j in range(self.m):
                out += self.centroids[j][c[:, j]]
            return out
        parts = [self.centroids[j][c[:, j]] for j in range(self.m)]
        if not parts or c.shape[0] == 0:
            return np.zeros((c.shape[0], DIM), np.float32)
        return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def codebook_file(ident: int) -> str:
    return f"pq-{ident}.npy"


@cache
def load(ident: int = CURRENT) -> Codebook:
    """The shipped codebook ``ident``, its file checked against the pinned digest."""
    if ident not in CODEBOOKS:
        raise InvalidInput(
            f"local features coded with unknown codebook {ident} "
            f"(this Tessera knows {sorted(CODEBOOKS)}): written by a newer version?",
            reason="invalid-features",
        )
    m, digest = CODEBOOKS[ident]
    try:
        data = (resources.files("tessera.features") / "data" / codebook_file(ident)).read_bytes()
    except OSError as exc:
        raise ConfigError(f"codebook {ident} missing from the installation: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != digest:
        raise ConfigError(f"codebook {ident} does not match its pinned SHA-256 (damaged install?)")
    import io  # noqa: PLC0415

    arr = np.load(io.BytesIO(data), allow_pickle=False)
    book = Codebook(ident, np.asarray(arr, np.float32), residual=KINDS.get(ident) == "residual")
    if book.m != m:
        raise ConfigError(f"codebook {ident} has {book.m} sub-quantisers, expected {m}")
    return book


__all__ = ["CODEBOOKS", "CURRENT", "KINDS", "RATIO_SLACK", "Codebook", "codebook_file", "load"]
