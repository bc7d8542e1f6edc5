"""Report thumbnails: one small JPEG data URI a picture, made by a few threads in order.

A seizure's report pictures thousands of files, and one file after the other that
is minutes of one core (3.4 CPU ms a 640-2,048 px JPEG: 3.4 CPU s for 1,000).
Threads, not processes: Pillow lets go of the GIL while it decodes, resizes, blurs
and encodes. A probe thread asking for the GIL every 0.2 ms (switch interval
0.5 s, so only a released GIL lets it in; ``benchmarks/bench_html_report.py
--gil``) got it ~2,900 times a second while another thread made thumbnails, ~3,700
during sha256 (which runs without the GIL), once in 1.5 s of pure Python: threads
get most of what processes would, with no start-up and nothing to pickle. The results
come back in the order asked, at most ``ahead`` pictures decoded ahead of the
writer, so memory stays a few decoded pictures whatever the seizure's size.

Blurring is done in the pixels themselves (not with CSS a click could undo): a
reviewer's exposure is part of the job's risk.
"""

from __future__ import annotations

import base64
import io
import os
import stat
import warnings
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

from PIL import Image, ImageFilter

from tessera.media.decode import DecodeLimits, decode_image
from tessera.pipeline.label import parse_label

Thumbnails = Literal["blurred", "clear", "none"]
Thumb = Callable[[str, Thumbnails], str | None]

_THUMB_LIMITS = DecodeLimits()
WORKERS = min(4, os.cpu_count() or 1)
"""Threads making thumbnails: one a core, at most 4 (the writer is one thread)."""


def _read_regular(path: str, limit: int) -> bytes | None:
    """The bytes of a regular file, not through a symlink, never blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return fh.read(limit + 1)


def thumbnail_data_uri(path: str, mode: Thumbnails, size: int = 128) -> str | None:
    """A small JPEG data URI of a local picture (blurred unless ``clear``), or None.

    The file is read as the hashing read it (a regular file, no symlink followed, no
    FIFO waited on) and decoded by ``tessera.media`` with its limits, so a report
    never opens what triage refused.
    """
    if mode == "none" or "!/" in path:
        return None
    try:
        data = _read_regular(os.fspath(parse_label(path)), _THUMB_LIMITS.max_bytes)
        if not data:
            return None
        decoded = decode_image(data, fast=True, limits=_THUMB_LIMITS)
        small = Image.fromarray(decoded.rgb)
        small.thumbnail((size, size))
        if mode == "blurred":
            small = small.filter(ImageFilter.GaussianBlur(radius=max(4, size // 12)))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=70)
    except Exception:  # a thumbnail is a convenience; never fail the report for it
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ThumbnailCache:
    """Thumbnails already made, kept for the next report of the same run (triage
    writes its report when the verdicts are known and again with the leads), up to
    ``budget`` bytes of data URIs (~2.5 KB a blurred one: 64 MB is ~25,000); past
    the budget pictures are made again rather than kept."""

    def __init__(self, budget: int = 64 << 20) -> None:
        self.budget = budget
        self.used = 0
        self._uris: dict[tuple[str, Thumbnails], str | None] = {}

    def get(self, path: str, mode: Thumbnails) -> tuple[bool, str | None]:
        key = (path, mode)
        return (key in self._uris, self._uris.get(key))

    def put(self, path: str, mode: Thumbnails, uri: str | None) -> None:
        size = len(path) + len(uri or "") + 100
        if self.used + size <= self.budget:
            self._uris[(path, mode)] = uri
            self.used += size


def _safe(thumb: Thumb, path: str, mode: Thumbnails) -> str | None:
    try:
        return thumb(path, mode)
    except Exception:  # a thumbnail is a convenience; never fail the report for it
        return None


def thumbnails_in_order(
    paths: Iterable[str | None],
    mode: Thumbnails,
    *,
    thumb: Thumb = thumbnail_data_uri,
    workers: int = WORKERS,
    ahead: int | None = None,
    cache: ThumbnailCache | None = None,
) -> Generator[str | None, None, None]:
    """For each of ``paths`` in order, its thumbnail (None for a None path, for
    ``mode == "none"`` and for a picture that cannot be made).

    ``workers`` threads make them; at most ``ahead`` (default 4 a worker) are asked
    for before the caller has taken the earlier ones. ``decode_image`` silences
    Pillow's warnings with ``warnings.catch_warnings``, which is not thread-safe
    (threads restore each other's filters): the pool runs with warnings ignored
    (the caller's code between two results too) and the caller's filters are
    restored when it ends.
    """
    if mode == "none":
        for _ in paths:
            yield None
        return
    window = max(1, ahead if ahead is not None else 4 * workers)
    pending: deque[tuple[str | None, Future[str | None] | None, str | None]] = deque()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="tessera-thumb")
        try:
            for path in paths:
                hit, uri = (False, None) if path is None or cache is None else cache.get(path, mode)
                if path is None or hit:
                    pending.append((None, None, uri))
                else:
                    pending.append((path, pool.submit(_safe, thumb, path, mode), None))
                if len(pending) >= window:
                    yield _take(pending, mode, cache)
            while pending:
                yield _take(pending, mode, cache)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _take(
    pending: deque[tuple[str | None, Future[str | None] | None, str | None]],
    mode: Thumbnails,
    cache: ThumbnailCache | None,
) -> str | None:
    path, fut, uri = pending.popleft()
    if fut is None or path is None:
        return uri
    made = fut.result()
    if cache is not None:
        cache.put(path, mode, made)
    return made


__all__ = [
    "WORKERS",
    "Thumb",
    "ThumbnailCache",
    "Thumbnails",
    "thumbnail_data_uri",
    "thumbnails_in_order",
]
