"""Text search: media whose text (read by OCR at ingest with ``--ocr``) has every word."""

from __future__ import annotations

from typing import Any

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.paging import visible_page
from tessera.app.results import Result
from tessera.app.visibility import Level, transaction
from tessera.storage import repo
from tessera.storage.text_search import search_text, text_of_media


class TextSearchHit(Result):
    """One media item whose text matched, with the boxes of the words asked for."""

    media_id: int
    sha256: str | None
    series: tuple[str, ...]
    language: str
    text: str
    boxes: tuple[tuple[Any, ...], ...]
    """(x0, y0, x1, y1, word, ...) of each occurrence of a query word."""


class TextSearchResult(Result):
    query: str
    hits: tuple[TextSearchHit, ...]
    next_offset: int | None = None
    """Where the next page starts (``offset``), None on the last page."""


def search(
    app: App,
    caller: Caller,
    query: str,
    *,
    limit: int = 50,
    offset: int = 0,
    sort: str = "relevance",
    descending: bool = False,
) -> TextSearchResult:
    """Media whose stored text contains every word of ``query`` (``park*``: a prefix),
    best match first or in another ``TEXT_SORTS`` order (sorted and cut in SQL).

    Only media the caller sees in ``full`` (OCR text is a full-level fact). With
    ``offset`` a later page of the same order (for a caller who does not see
    everything, ``offset`` counts rows before the sharing filter, as
    ``next_offset`` does)."""
    words = {w.casefold() for w in query.split()}
    with transaction(app, caller) as (s, vis):
        # text is a full-level fact: only media the caller sees in full are hits
        page = visible_page(
            s,
            vis,
            lambda n: search_text(s, query, n, offset, sort=sort, descending=descending),
            lambda h: h.media_id,
            limit=limit,
            overfetch=True,
        )
    return TextSearchResult(
        query=query,
        hits=tuple(
            TextSearchHit(
                media_id=h.media_id,
                sha256=page.sha256.get(h.media_id),
                series=tuple(page.series.get(h.media_id, [])),
                language=h.language,
                text=h.text,
                boxes=tuple(
                    tuple(b)
                    for b in h.boxes
                    if isinstance(b, list)
                    and len(b) > 4
                    and str(b[4]).casefold().strip(".,:;!?") in words
                ),
            )
            for h in page.rows
        ),
        next_offset=page.next_offset(offset),
    )


class TextWord(Result):
    """One word read by OCR and where: ``(x, y, width, height)`` in picture pixels."""

    word: str
    x: int
    y: int
    width: int
    height: int
    confidence: float | None


class TextBlock(Result):
    position: int
    """0 for a still; for a video frame, 1 + its time in milliseconds."""
    language: str
    text: str
    words: tuple[TextWord, ...]


class MediaWords(Result):
    """The text read from one media item, with each word's box (a ``full`` fact)."""

    media_id: int
    blocks: tuple[TextBlock, ...]


def _word(raw: list[Any]) -> TextWord | None:
    try:
        x, y, w, h, word = (int(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]), str(raw[4]))
        conf = float(raw[5]) if len(raw) > 5 and raw[5] is not None else None
    except (IndexError, TypeError, ValueError):
        return None  # a malformed stored box is left out, not a failed page
    return TextWord(word=word, x=x, y=y, width=w, height=h, confidence=conf)


def of_media(app: App, caller: Caller, media_id: int) -> MediaWords:
    """The OCR text of media ``media_id`` with its boxes (``NotFound`` below ``full``)."""
    with transaction(app, caller) as (s, vis):
        repo.media_by_id(s, media_id)
        vis.require_media(media_id, Level.FULL)
        rows = text_of_media(s, media_id)
    return MediaWords(
        media_id=media_id,
        blocks=tuple(
            TextBlock(
                position=r.position,
                language=r.language,
                text=r.text,
                words=tuple(w for w in (_word(b) for b in r.boxes) if w is not None),
            )
            for r in rows
        ),
    )


__all__ = [
    "MediaWords",
    "TextBlock",
    "TextSearchHit",
    "TextSearchResult",
    "TextWord",
    "of_media",
    "search",
]
