"""Full-text search over words read from pictures (OCR), on SQLite and PostgreSQL alike.

Both backends answer the same question: media whose text contains *every* word
of the query, in any order (case- and accent-insensitive on SQLite,
case-insensitive on PostgreSQL's ``simple`` configuration); a word ending in ``*``
matches as a prefix (``park*``). The query is plain words, never the
engine's own syntax: an analyst typing ``"AND" OR (`` must get an answer, not an
SQL or FTS5 syntax error, so words are extracted and quoted here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Result, select, text
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput
from tessera.storage.models import MediaText

_WORD = re.compile(r"(\w+)(\*?)", re.UNICODE)
MAX_WORDS = 16


@dataclass(frozen=True)
class TextHit:
    """A media item whose stored text matches, with the matched text."""

    media_id: int
    position: int
    language: str
    text: str
    boxes: list[list[object]]


def query_words(query: str) -> list[tuple[str, bool]]:
    """(word, is_prefix) of a plain-text query; ``park*`` is a prefix. Refuses no words."""
    words = [(w, star == "*") for w, star in _WORD.findall(query)][:MAX_WORDS]
    if not words:
        raise InvalidInput("the text query has no words to search for")
    return words


TEXT_SORTS = ("relevance", "media")
"""Sort keys of a text search: best match first (ties by media id), or media id
(oldest first); ``descending`` reverses either, tie-breaks included."""


def search_text(
    s: Session,
    query: str,
    limit: int = 50,
    offset: int = 0,
    *,
    sort: str = "relevance",
    descending: bool = False,
) -> list[TextHit]:
    """Media whose OCR text contains every word of ``query``, in ``TEXT_SORTS`` order
    (best first by default), one page: ``limit`` rows from ``offset``, cut in SQL.
    Every order ends on the text row's id, so equal keys keep one order across pages."""
    if limit < 1 or offset < 0:
        raise InvalidInput("a text search page needs limit >= 1 and offset >= 0")
    if sort not in TEXT_SORTS:
        raise InvalidInput(f"text search: sort {sort!r} is not one of {', '.join(TEXT_SORTS)}")
    words = query_words(query)
    if s.get_bind().dialect.name == "sqlite":
        way = "DESC" if descending else "ASC"
        tail = f"t.media_id {way}, t.id {way}"
        # FTS5's rank: lower is better
        order = f"f.rank {way}, {tail}" if sort == "relevance" else tail
        fts = " AND ".join('"' + w + '"' + ("*" if prefix else "") for w, prefix in words)
        rows = s.execute(
            text(
                "SELECT t.media_id, t.position, t.language, t.text, t.boxes "
                "FROM media_text_fts f JOIN media_text t ON t.id = f.rowid "
                "JOIN media m ON m.id = t.media_id AND m.deleted_at IS NULL "
                f"WHERE media_text_fts MATCH :q ORDER BY {order} LIMIT :n OFFSET :o"
            ),
            {"q": fts, "n": limit, "o": offset},
        )
    else:
        # words are \w+ only, so nothing here is tsquery syntax but & and :*
        q = " & ".join(w.lower() + (":*" if prefix else "") for w, prefix in words)
        rows = _postgres_rows(
            s, q, relevance=sort == "relevance", descending=descending, page=(limit, offset)
        )
    out: list[TextHit] = []
    for media_id, position, language, body, raw in rows:
        # SQLite returns JSON as text through raw SQL; psycopg decodes it
        boxes = json.loads(raw) if isinstance(raw, str) else raw
        out.append(TextHit(int(media_id), int(position), str(language), str(body), list(boxes)))
    return out


def _postgres_rows(
    s: Session, q: str, *, relevance: bool, descending: bool, page: tuple[int, int]
) -> Result[Any]:
    """The page on PostgreSQL. Where Row-Level Security filters this connection (the
    service role), through ``tessera_text_search`` (migration 0031): the match first,
    the read rule after it, the same rows as the policy-filtered query but the rule
    checked on matches only, not on every text row. Elsewhere (the owner) RLS adds
    nothing, so the plain query is the same read."""
    limit, offset = page
    if s.scalar(text("SELECT row_security_active('media_text')")):
        return s.execute(
            text(
                "SELECT f.media_id, f.position, f.language, f.text, f.boxes "
                "FROM tessera_text_search(:q, :rel, :desc, :n, :o) WITH ORDINALITY f "
                "ORDER BY f.ordinality"
            ),
            {"q": q, "rel": relevance, "desc": descending, "n": limit, "o": offset},
        )
    way, best = ("DESC", "ASC") if descending else ("ASC", "DESC")  # ts_rank: higher is better
    tail = f"t.media_id {way}, t.id {way}"
    order = (
        f"ts_rank(to_tsvector('simple', t.text), to_tsquery('simple', :q)) {best}, {tail}"
        if relevance
        else tail
    )
    return s.execute(
        text(
            "SELECT t.media_id, t.position, t.language, t.text, t.boxes FROM media_text t "
            "JOIN media m ON m.id = t.media_id AND m.deleted_at IS NULL "
            "WHERE to_tsvector('simple', t.text) @@ to_tsquery('simple', :q) "
            f"ORDER BY {order} LIMIT :n OFFSET :o"
        ),
        {"q": q, "n": limit, "o": offset},
    )


def text_of_media(s: Session, media_id: int) -> list[TextHit]:
    """The text read from one media item (each frame or page), with its word boxes."""
    rows = s.execute(
        select(
            MediaText.media_id,
            MediaText.position,
            MediaText.language,
            MediaText.text,
            MediaText.boxes,
        )
        .where(MediaText.media_id == media_id)
        .order_by(MediaText.position, MediaText.id)
    )
    return [
        TextHit(int(m), int(p), str(lang), str(body), list(boxes or []))
        for m, p, lang, body, boxes in rows
    ]


__all__ = ["TEXT_SORTS", "TextHit", "query_words", "search_text", "text_of_media"]
