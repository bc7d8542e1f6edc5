"""Changing a series after ``create``: edit, take media out, delete (soft), restore.

A series name is unique over live and deleted series alike, so a deleted series
can always be restored under its name; renaming onto any existing name is a
``Conflict``. Removals keep the rows and record who and when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.storage.models import Media, Series, series_media, utcnow

MAX_CATEGORY = 99


@dataclass(frozen=True)
class SeriesEdit:
    """Fields to change; None leaves a field as it is (``clear_notes`` empties notes)."""

    rename: str | None = None
    notes: str | None = None
    clear_notes: bool = False
    category: int | None = None
    category_profile: str | None = None
    baseline: bool | None = None

    @property
    def empty(self) -> bool:
        return (
            self.rename is None
            and self.notes is None
            and not self.clear_notes
            and self.category is None
            and self.category_profile is None
            and self.baseline is None
        )


def edit_series(s: Session, series: Series, change: SeriesEdit) -> list[str]:
    """Apply ``change``; returns the names of the fields that changed."""
    if change.empty:
        raise InvalidInput("nothing to change: give --rename, --notes, --category or --baseline")
    changed: list[str] = []
    if change.rename is not None and change.rename != series.name:
        new = change.rename.strip()
        if not new or new != change.rename:
            raise InvalidInput("a series name must not be empty or start/end with spaces")
        if len(new) > 200:
            raise InvalidInput("a series name has at most 200 characters")
        clash = s.scalar(select(Series).where(Series.name == new, Series.id != series.id))
        if clash is not None:
            gone = " (a deleted series keeps its name)" if clash.deleted_at else ""
            raise Conflict(f"series {new!r} already exists{gone}")
        series.name = new
        changed.append("name")
    if change.clear_notes or change.notes is not None:
        notes = None if change.clear_notes else change.notes
        if notes != series.notes:
            series.notes = notes
            changed.append("notes")
    if change.category is not None:
        if not 0 <= change.category <= MAX_CATEGORY:
            raise InvalidInput(f"category must be between 0 and {MAX_CATEGORY}")
        if change.category != series.category:
            series.category = change.category
            changed.append("category")
    if change.category_profile is not None and change.category_profile != series.category_profile:
        if not change.category_profile.strip() or len(change.category_profile) > 32:
            raise InvalidInput("a category profile is 1-32 characters, e.g. US or UK")
        series.category_profile = change.category_profile
        changed.append("category_profile")
    if change.baseline is not None and change.baseline != series.baseline:
        series.baseline = change.baseline
        changed.append("baseline")
    s.flush()
    return changed


def remove_media(s: Session, series: Series, media_ids: Sequence[int], by: str) -> list[int]:
    """Take media out of a series (soft: the membership row records who and when).

    Every id must be a live member, else ``NotFound`` and nothing changes.
    """
    if not media_ids:
        raise InvalidInput("give at least one media id")
    wanted = sorted(set(media_ids))
    members = set(
        s.scalars(
            select(series_media.c.media_id)
            .join(Media, Media.id == series_media.c.media_id)
            .where(
                series_media.c.series_id == series.id,
                series_media.c.media_id.in_(wanted),
                series_media.c.deleted_at.is_(None),
                Media.deleted_at.is_(None),
            )
        )
    )
    missing = [m for m in wanted if m not in members]
    if missing:
        raise NotFound(
            f"media {', '.join(map(str, missing))} not in series {series.name!r}; nothing removed"
        )
    s.execute(
        update(series_media)
        .where(series_media.c.series_id == series.id, series_media.c.media_id.in_(wanted))
        .values(deleted_at=utcnow(), deleted_by=by)
    )
    return wanted


def delete_series(s: Session, series: Series, by: str) -> None:
    """Soft-delete a series: gone from every read path, kept for restore."""
    series.deleted_at, series.deleted_by = utcnow(), by
    s.flush()


def list_deleted(s: Session) -> list[Series]:
    """Deleted series (restorable), most recently deleted first."""
    return list(
        s.scalars(
            select(Series)
            .where(Series.deleted_at.is_not(None))
            .order_by(Series.deleted_at.desc(), Series.name)
        )
    )


def restore_series(s: Session, name: str) -> Series:
    """Bring back a deleted series (its memberships were never touched)."""
    series = s.scalar(select(Series).where(Series.name == name, Series.deleted_at.is_not(None)))
    if series is None:
        raise NotFound(f"no deleted series {name!r}")
    series.deleted_at, series.deleted_by = None, None
    s.flush()
    return series


__all__ = [
    "SeriesEdit",
    "delete_series",
    "edit_series",
    "list_deleted",
    "remove_media",
    "restore_series",
]
