"""Pictures for reviewers: downscaled thumbnails and audited reveals.

The web UI shows every picture blurred until the reviewer reveals it, one at a
time; each reveal is recorded in the audit trail (who looked at which item).
A thumbnail is made from the item's stored original path when that file is
readable on this server and the caller sees the item at ``full`` (their own
agency's media always is); otherwise the caller gets none and the page shows a
neutral placeholder. The full-size original is never sent.
"""

from __future__ import annotations

import os
from pathlib import Path

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.visibility import Level, transaction
from tessera.errors import MediaError, NotFound
from tessera.media.thumbnail import THUMB_SIZE, make_thumbnail
from tessera.storage import media_queries

MAX_VIEW_SIZE = 1024
"""The largest rendition a page gets (the media item page's picture): never the original."""
MAX_SOURCE_BYTES = 64 * 1024 * 1024
"""Originals larger than this are not read for a thumbnail (placeholder instead)."""
CACHE = "thumbs"
"""Folder under the node's home keeping made thumbnails (mode 0700, files 0600): a
grid page then decodes no original twice. Who may see one is decided on every
request, before the cache is read; a cached one is used only while its original
is still readable on the server."""


class Thumbnail(Result):
    """``jpeg`` is None when no picture may or can be shown (placeholder)."""

    media_id: int
    jpeg: bytes | None


class Revealed(Result):
    media_id: int
    audit_seq: int


def _visible(app: App, caller: Caller, media_id: int) -> tuple[Level, list[str]]:
    with transaction(app, caller) as (s, vis):
        media = media_queries.resolve_media(s, str(media_id))
        level = vis.media_level(media.id)
        if level < Level.STATUS:
            raise NotFound(f"no media item with id {media_id}")
        paths: list[str] = []
        if level >= Level.FULL:
            paths = [x.original_path for x in media_queries.media_detail(s, media).sightings]
    return level, paths


def _cache_file(app: App, media_id: int, size: int) -> Path:
    folder = app.settings.home / CACHE
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f"{media_id}-{size}.jpg"


def _keep(cached: Path, jpeg: bytes) -> None:
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(jpeg)
        os.replace(tmp, cached)  # atomic: a concurrent reader sees all or nothing
    except OSError:
        pass  # no cache this time (read-only home...): the answer stands


def thumbnail(app: App, caller: Caller, media_id: int, *, size: int = THUMB_SIZE) -> Thumbnail:
    """A small JPEG of media ``media_id`` for the caller (at most ``size`` px on its
    longer side, at most ``MAX_VIEW_SIZE``), or none (``NotFound`` if unseen)."""
    size = max(16, min(size, MAX_VIEW_SIZE))
    _level, paths = _visible(app, caller, media_id)
    readable = []
    for p in paths:
        path = Path(p)
        try:
            if path.is_file() and path.stat().st_size <= MAX_SOURCE_BYTES:
                readable.append(path)
        except OSError:
            continue
    if not readable:
        return Thumbnail(media_id=media_id, jpeg=None)
    cached = _cache_file(app, media_id, size)
    try:
        return Thumbnail(media_id=media_id, jpeg=cached.read_bytes())
    except OSError:
        pass
    for path in readable:
        try:
            jpeg = make_thumbnail(path.read_bytes(), limits=app.settings.decode_limits, size=size)
        except (OSError, MediaError):
            continue
        _keep(cached, jpeg)
        return Thumbnail(media_id=media_id, jpeg=jpeg)
    return Thumbnail(media_id=media_id, jpeg=None)


def reveal(app: App, caller: Caller, media_id: int) -> Revealed:
    """Record that the caller unblurred media ``media_id`` (``NotFound`` if unseen)."""
    _visible(app, caller, media_id)
    entry = audit.record(app, caller, "media.reveal", target=f"media:{media_id}")
    return Revealed(media_id=media_id, audit_seq=entry.seq)


def page_view(app: App, caller: Caller, page: str, *, result_count: int | None = None) -> None:
    """Audit one page of the web UI shown to the caller."""
    audit.record(app, caller, "web.view", target=page[:500], result_count=result_count)


__all__ = ["Revealed", "Thumbnail", "page_view", "reveal", "thumbnail"]
