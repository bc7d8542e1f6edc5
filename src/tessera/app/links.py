"""Links: victims, offenders and locations tied to a series or a media item."""

from __future__ import annotations

from typing import Literal

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.retry import retried
from tessera.app.visibility import Level, require_role, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.storage import repo
from tessera.storage.media_queries import resolve_media
from tessera.storage.models import Location, Offender, Victim

LinkKind = Literal["victim", "offender", "location"]


class LinkResult(Result):
    """What was linked to what; ``added`` is False when the link existed already."""

    kind: LinkKind
    value: str
    target_id: int
    owner: Literal["series", "media"]
    owner_id: int
    added: bool


@retried
def link(
    app: App,
    caller: Caller,
    kind: LinkKind,
    value: str,
    *,
    series_name: str | None = None,
    media_sha256: str | None = None,
    identified: bool | None = None,
    by_code: str | None = None,
    country: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> LinkResult:
    """Link a victim / offender (pseudonym ``value``) or a location (description ``value``)
    to exactly one of a series or a media item (by id, or SHA-256/SHA-1/MD5 hex)."""
    if (series_name is None) == (media_sha256 is None):
        raise InvalidInput("give exactly one of a series or a media item")
    with transaction(app, caller) as (s, vis):
        # the owner first: a caller who may not change it learns nothing else
        owner: Literal["series", "media"]
        if series_name is not None:
            series = repo.get_series(s, series_name)
            vis.require_series_owner(series)
            owner, owner_id = "series", series.id
        else:
            # a media id, as everywhere else, or a SHA-256 / SHA-1 / MD5 in hex
            media = resolve_media(s, media_sha256 or "")
            if vis.media_level(media.id) < Level.FULL:
                raise NotFound(f"no media item {media_sha256}")
            require_role(caller, Role.CURATOR)
            owner, owner_id = "media", media.id
        target: Victim | Offender | Location
        if kind == "victim":
            target = repo.get_or_create_victim(s, value)
        elif kind == "offender":
            target = repo.get_or_create_offender(s, value)
        else:
            target = repo.create_location(s, value, country, lat, lon)
        if identified is not None and isinstance(target, Victim | Offender):
            by = repo.get_agency(s, by_code) if by_code else None
            repo.set_person_identified(s, target, identified, by=by)
        added = repo.link(s, owner, owner_id, kind, target.id)
        audit.record_in(
            s,
            app,
            caller,
            f"link.{kind}",
            series=series_name,
            target=f"series:{series_name}" if series_name else f"media:{media_sha256}",
            params={"value": value, "identified": identified, "by": by_code},
            result_count=int(added),
        )
        return LinkResult(
            kind=kind, value=value, target_id=target.id, owner=owner, owner_id=owner_id, added=added
        )


__all__ = ["LinkKind", "LinkResult", "link"]
