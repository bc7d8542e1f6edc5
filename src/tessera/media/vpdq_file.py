"""vPDQ of a video file: decode (``tessera.media.video``), PDQ each sampled frame.

``vpdq_from_video(path)`` uses ``DEFAULT_SAMPLING``, chosen by measurement
(``benchmarks/bench_video.py``, figures in its output and in the module constants
below). Pass ``REFERENCE_SAMPLING`` (every frame, native-resolution RGB24, every frame
decoded) to reproduce upstream vPDQ's C++ hasher (``seconds_per_hash = 0``), or
``Sampling.per_second(1.0)`` for pytx's default of one hash per second.

When a sampling asks for a reduced picture with ``scale`` (2, 4...), each output
pixel is an area average of a ``scale x scale`` block and PDQ weights it as the
reference would weight that block (``SampleGrid``), so the hash stays close to the
native-resolution hash instead of drifting as a plain downscale does (upstream's
benchmark: ~8-17 bits at 180-540 px).
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tessera.fingerprints.letterbox import CropBox
from tessera.fingerprints.letterbox import crop as crop_frame
from tessera.fingerprints.pdq import Exactness, SampleGrid
from tessera.fingerprints.vpdq import FrameHash, hash_frame
from tessera.media.video import (
    DecodeStats,
    Sampling,
    Source,
    VideoLimits,
    iter_frames,
    probe_video,
)

MIN_SPLIT_S = 120.0
"""Videos shorter than this are never split over processes (start-up costs more)."""

REFERENCE_SAMPLING = Sampling.every_frame()
"""Upstream vPDQ's C++ CLI: every frame, native-resolution RGB24."""

DEFAULT_SAMPLING = Sampling.per_second(2.0, scale=2, skip_nonref=True)
"""Two hashes per second of timestamp, frames area-reduced to half size by FFmpeg's
scaler (RGB24, as upstream) and hashed through the matching ``SampleGrid``, and the
decoder told not to decode frames nothing refers to (disposable B-frames).

Chosen by measurement (``benchmarks/bench_video.py`` and the 14 ThreatExchange sample
videos, hashes compared with upstream's at the same frame numbers, quality >= 50):

==========================================  ==========  ============  ========
sampling (2 frames/s)                        mean bits   max bits      CPU
==========================================  ==========  ============  ========
native RGB24, every frame decoded            1.14        6             1.00
half size + grid, every frame decoded        0.81        8
half size + grid, skip non-ref (default)     0.86        8             ~0.55
half size grey + grid, skip non-ref          1.23        8             ~0.51
... + skip deblocking (``FAST_SAMPLING``)    3.07        22            ~0.42
quarter size grey + grid, skip both          4.32        24            ~0.42
==========================================  ==========  ============  ========

(CPU relative to native on the synthetic 720p H.264 benchmark, first 5 minutes.)
Skipping non-reference frames changes *which* frame is hashed (the next decoded one,
within a frame or two of the target time) but not its pixels; skipping the deblocking
filter changes pixels and its error grows through each group of pictures, so it is
left to ``FAST_SAMPLING``. Two hashes per second suit segment matching on timestamps
(``tessera.fingerprints.segments`` needs one or two per second).

The hour of 720p30 H.264 (``bench_video.py``, 2 vCPUs shared with other jobs, load
average ~4.5, so about one core was available): default 88 s wall / 91 CPU-s, 56,747
of 108,000 frames decoded, 7,200 hashed, peak RSS 101 MB; plain PyAV decode of every
frame 134 s / 127 CPU-s; 1 frame/s at native size 130 s; Meta's ``vpdq`` 173 s. Drift
of the default against native full-decode hashes of the same frames: mean 0.44, max 2
bits."""

FAST_SAMPLING = Sampling.per_second(
    2.0, scale=2, skip_nonref=True, skip_loop_filter=True, pixel_format="gray"
)
"""About a fifth less CPU than the default (the hour: 72 s / 72 CPU-s), at a cost in PDQ
drift: mean 3.1 / max 22 bits against upstream on the real camera videos, mean 9.4 /
max 20 bits against native full decoding on the synthetic benchmark (default: 0.86 / 8
and 0.44 / 2). For triage of huge collections where speed matters more than margin."""


_BLAS_LOCK = threading.Lock()


@cache
def _blas_lib(path: str) -> tuple[ctypes.CDLL, str] | None:
    """The OpenBLAS at ``path`` and its thread-count function names, if it is one."""
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in ("scipy_openblas", "openblas"):
        for suffix in ("64_", ""):
            if hasattr(lib, f"{prefix}_set_num_threads{suffix}") and hasattr(
                lib, f"{prefix}_get_num_threads{suffix}"
            ):
                return lib, f"{prefix}_%s_num_threads{suffix}"
    return None


_found: tuple[int, list[tuple[ctypes.CDLL, str]]] | None = None


def _openblases() -> list[tuple[ctypes.CDLL, str]]:
    """Every OpenBLAS loaded in this process (as threadpoolctl finds them): numpy's, and
    the copies that faiss and OpenCV wheels bundle. Read again whenever a module was
    imported since (a library loaded later, faiss on demand, is limited too): reading
    ``/proc/self/maps`` costs ~2 ms, too much once a file (``--workers 1``)."""
    global _found  # noqa: PLW0603 - a per-process cache
    modules = len(sys.modules)
    if _found is not None and _found[0] == modules:
        return _found[1]
    try:
        with open("/proc/self/maps") as fh:
            paths = {
                m.group(1) for line in fh if (m := re.search(r"(/\S*openblas\S*\.so\S*)", line))
            }
    except OSError:  # not Linux
        return []
    libs = [lib for path in sorted(paths) if (lib := _blas_lib(path)) is not None]
    _found = (modules, libs)
    return libs


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit every loaded OpenBLAS to ``n`` threads for the duration (process-wide).

    While a video decodes, FFmpeg's frame threads already keep the cores busy; PDQ's
    matrix products then run fastest on one BLAS thread. Measured on 2 busy cores:
    23 ms per 720p frame with one BLAS thread, 270 ms with two (they spin against
    the decoder). All of them, not the first found: with faiss loaded (triage's copy
    check) the first in path order was faiss's bundled copy, and numpy's products in
    verification kept two spinning threads (0.12 ms with one thread, 2.5 ms CPU with
    two, for a 200 x 128 by 128 x 250 product, measured). A no-op where no OpenBLAS
    can be found.
    """
    libs = _openblases()
    with _BLAS_LOCK:
        before = [int(getattr(lib, pattern % "get")()) for lib, pattern in libs]
        for lib, pattern in libs:
            getattr(lib, pattern % "set")(n)
    try:
        yield
    finally:
        with _BLAS_LOCK:
            for (lib, pattern), was in zip(libs, before, strict=True):
                getattr(lib, pattern % "set")(was)


def vpdq_from_video(
    source: Source | Path,
    sampling: Sampling | None = None,
    limits: VideoLimits | None = None,
    *,
    exact: Exactness = "auto",
    stats: DecodeStats | None = None,
    partial_ok: bool = False,
    workers: int = 1,
    crop: CropBox | None = None,
) -> list[FrameHash]:
    """vPDQ hashes of a video (path or bytes), one per sampled frame, by frame number.

    ``crop`` removes letterbox/pillarbox bars (full-resolution pixels) before hashing;
    with a reduced ``sampling.scale`` the crop is rounded inwards to whole blocks.

    Raises the typed ``MediaError``s of ``tessera.media.video.iter_frames``; with
    ``partial_ok`` a truncated file gives the hashes of the frames that decoded.
    ``exact`` is passed to PDQ for native-resolution frames; reduced frames are hashed
    with the fast computation (they are an approximation anyway).

    ``workers > 1`` splits a long video (a path, at least ``MIN_SPLIT_S`` s) into that
    many time ranges, cut at whole seconds, each decoded by its own process (seeking to
    the key frame before its start). Frame numbers then come from timestamps, and the
    truncation check, which needs the whole stream, is not made.
    """
    sampling = DEFAULT_SAMPLING if sampling is None else sampling
    if workers > 1 and not isinstance(source, bytes | bytearray | memoryview):
        info = probe_video(source, limits)
        if info.duration_s is not None and info.duration_s >= MIN_SPLIT_S:
            return _split(
                Path(os.fspath(source)),
                sampling,
                limits,
                exact=exact,
                stats=stats,
                workers=workers,
                duration_s=info.duration_s,
                crop=crop,
            )
    return _hash_range(
        source,
        sampling,
        limits,
        exact=exact,
        stats=stats,
        partial_ok=partial_ok,
        start_s=None,
        end_s=None,
        threads=0,
        crop=crop,
    )


def _hash_range(
    source: Source | Path,
    sampling: Sampling,
    limits: VideoLimits | None,
    *,
    exact: Exactness,
    stats: DecodeStats | None,
    partial_ok: bool,
    start_s: float | None,
    end_s: float | None,
    threads: int,
    crop: CropBox | None = None,
) -> list[FrameHash]:
    out: list[FrameHash] = []
    box = crop if crop is not None and not crop.is_full_frame else None
    grid: SampleGrid | None = None
    grid_key: tuple[int, int] | None = None
    frames = iter_frames(
        source,
        sampling,
        limits,
        stats=stats,
        partial_ok=partial_ok,
        start_s=start_s,
        end_s=end_s,
        threads=threads,
    )
    with blas_threads(1):
        for f in frames:
            if sampling.scale > 1:
                px, full_h, full_w = _crop_blocks(
                    f.rgb, f.full_height, f.full_width, sampling.scale, box
                )
                key = (full_h, full_w)
                if key != grid_key:
                    grid = SampleGrid.scaled(full_h, full_w, sampling.scale)
                    grid_key = key
                out.append(hash_frame(f.index, f.timestamp_s, px, grid=grid, exact="never"))
            else:
                px = crop_frame(f.rgb, box) if box is not None else f.rgb
                out.append(hash_frame(f.index, f.timestamp_s, px, exact=exact))
    out.sort(key=lambda h: (h.frame_number, h.timestamp))
    return out


def _crop_blocks(
    px: NDArray[np.uint8], full_h: int, full_w: int, s: int, box: CropBox | None
) -> tuple[NDArray[np.uint8], int, int]:
    """Crop a 1/s-scale frame to whole blocks inside ``box``; the full size they cover."""
    if box is None:
        return px, full_h, full_w
    t, b = -(-box.top // s), (full_h - box.bottom) // s
    left, r = -(-box.left // s), (full_w - box.right) // s
    if b <= t or r <= left:
        return px, full_h, full_w
    out = np.ascontiguousarray(px[t:b, left:r])
    return out, (b - t) * s, (r - left) * s


def _range_job(
    args: tuple[
        str,
        Sampling,
        VideoLimits | None,
        Exactness,
        float | None,
        float | None,
        int,
        CropBox | None,
    ],
) -> tuple[list[FrameHash], DecodeStats]:
    path, sampling, limits, exact, start_s, end_s, threads, crop = args
    stats = DecodeStats()
    hashes = _hash_range(
        path,
        sampling,
        limits,
        exact=exact,
        stats=stats,
        partial_ok=True,
        start_s=start_s,
        end_s=end_s,
        threads=threads,
        crop=crop,
    )
    return hashes, stats


def _split(
    path: Path,
    sampling: Sampling,
    limits: VideoLimits | None,
    *,
    exact: Exactness,
    stats: DecodeStats | None,
    workers: int,
    duration_s: float,
    crop: CropBox | None = None,
) -> list[FrameHash]:
    step = math.ceil(duration_s / workers)
    cuts = [float(k * step) for k in range(workers)]
    bounds = [
        (c if k else None, cuts[k + 1] if k + 1 < len(cuts) else None) for k, c in enumerate(cuts)
    ]
    threads = max(1, (os.cpu_count() or workers) // workers)
    jobs = [(str(path), sampling, limits, exact, a, b, threads, crop) for a, b in bounds]
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        results = list(pool.map(_range_job, jobs))
    out: list[FrameHash] = []
    for hashes, st in results:
        out.extend(hashes)
        if stats is not None:
            stats.frames_decoded += st.frames_decoded
            stats.frames_selected += st.frames_selected
            stats.packets += st.packets
            stats.decode_errors += st.decode_errors
            stats.truncated |= st.truncated
            stats.notes.extend(st.notes)
    out.sort(key=lambda h: (h.timestamp, h.frame_number))
    return out


__all__ = [
    "DEFAULT_SAMPLING",
    "FAST_SAMPLING",
    "REFERENCE_SAMPLING",
    "blas_threads",
    "vpdq_from_video",
]
