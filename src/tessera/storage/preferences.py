"""Reviewer-wellness settings of users (the web UI's blur, greyscale, dedup)."""

from __future__ import annotations

from datetime import datetime

from tessera.storage.db import Session
from tessera.storage.models import ReviewerPreference


def get(s: Session, user_id: int) -> ReviewerPreference | None:
    return s.get(ReviewerPreference, user_id)


def put(
    s: Session, user_id: int, *, blur: bool, greyscale: bool, dedup: bool, at: datetime
) -> ReviewerPreference:
    row = s.get(ReviewerPreference, user_id)
    if row is None:
        row = ReviewerPreference(user_id=user_id)
        s.add(row)
    row.blur = blur
    row.greyscale = greyscale
    row.dedup = dedup
    row.updated_at = at
    s.flush()
    return row


__all__ = ["get", "put"]
