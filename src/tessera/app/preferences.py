"""Reviewer wellness: how pictures are shown to one user.

Viewing seized material harms the people who review it; the defaults protect
them (every picture blurred until revealed one at a time, duplicates collapsed
into one tile with a count, video never auto-played and audio muted: those two
are not settings). A user may keep greyscale on, or turn blur or dedup off for
themselves; the choice is stored per user and audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.retry import retried
from tessera.errors import PermissionDenied
from tessera.storage import preferences as store


class ReviewerPreferences(Result):
    blur: bool = True
    """Pictures blurred until revealed (one at a time, each reveal audited)."""
    greyscale: bool = False
    dedup: bool = True
    """One tile per distinct picture, with a count."""


DEFAULTS = ReviewerPreferences()


def get(app: App, caller: Caller) -> ReviewerPreferences:
    """The caller's settings (the protective defaults when they chose none)."""
    if caller.user_id is None:
        return DEFAULTS
    with app.transaction() as s:
        row = store.get(s, caller.user_id)
        if row is None:
            return DEFAULTS
        return ReviewerPreferences(blur=row.blur, greyscale=row.greyscale, dedup=row.dedup)


@retried
def put(
    app: App, caller: Caller, *, blur: bool, greyscale: bool, dedup: bool
) -> ReviewerPreferences:
    """Keep the caller's own settings (an account is needed: the CLI shows no pictures)."""
    if caller.user_id is None:
        raise PermissionDenied("reviewer settings belong to an account")
    with app.transaction() as s:
        row = store.put(
            s, caller.user_id, blur=blur, greyscale=greyscale, dedup=dedup, at=datetime.now(UTC)
        )
        audit.record_in(
            s,
            app,
            caller,
            "preferences.set",
            target=f"user:{caller.email}",
            params={"blur": blur, "greyscale": greyscale, "dedup": dedup},
        )
        return ReviewerPreferences(blur=row.blur, greyscale=row.greyscale, dedup=row.dedup)


__all__ = ["DEFAULTS", "ReviewerPreferences", "get", "put"]
