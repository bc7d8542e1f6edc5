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

CURRENT = 1
"""The codebook new blobs are coded with. Codebook 2 (8 codes of 16 components, 14
bytes a keypoint with its geometry, so all 1,000 keypoints fit in 16 KiB where
codebook 1's 22 bytes leave room for the strongest 743) decodes but is not current:
measured together with the copy-or-other-shot rule (``benchmarks/bench_compact.py``,
figures in the README) it loses edited copies of repetitive textures (brick, a star
field: its coarser codes leave the ratio test too few matches) and scene recall@10
with a file as the query, while it gains scene recall only when both sides are
stored."""

CODEBOOKS: dict[int, tuple[int, str]] = {
    1: (16, "72350ba0b58d988a658b965a22c4d1943dfd93af552d33a03d0dec3d62435ab8"),
    2: (8, "c0897466534c0a2754e014698b4078ba707494b21a4bee6dac5b0ef6ec30ec9f"),
}
"""Codebook id -> (sub-quantisers M, SHA-256 of its ``.npy`` file). Never edited
once released; a retrained codebook gets a new id."""

Float32Array = NDArray[np.float32]
UInt8Array = NDArray[np.uint8]


class Codebook:
    """``M`` sub-space codebooks of 256 centroids each; encode and decode."""

    def __init__(self, ident: int, centroids: Float32Array) -> None:
        m, k, dsub = centroids.shape
        if k != CENTROIDS or m * dsub != DIM:
            raise InvalidInput(f"codebook {ident}: shape {centroids.shape} is not M x 256 x 128/M")
        self.ident = ident
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self._norms = (self.centroids**2).sum(axis=2)  # M x 256

    @property
    def m(self) -> int:
        return int(self.centroids.shape[0])

    def encode(self, desc: Float32Array) -> UInt8Array:
        """N x 128 float descriptors -> N x M codes (nearest centroid per sub-space)."""
        x = np.ascontiguousarray(desc, dtype=np.float32)
        n = x.shape[0]
        dsub = DIM // self.m
        codes = np.empty((n, self.m), np.uint8)
        for j in range(self.m):
            sub = x[:, j * dsub : (j + 1) * dsub]
            d = self._norms[j][None, :] - 2.0 * (sub @ self.centroids[j].T)
            codes[:, j] = d.argmin(axis=1)
        return codes

    def decode(self, codes: UInt8Array) -> Float32Array:
        """N x M codes -> N x 128 reconstructed descriptors."""
        c = np.asarray(codes, np.intp)
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
    book = Codebook(ident, np.asarray(arr, np.float32))
    if book.m != m:
        raise ConfigError(f"codebook {ident} has {book.m} sub-quantisers, expected {m}")
    return book


__all__ = ["CODEBOOKS", "CURRENT", "Codebook", "codebook_file", "load"]
