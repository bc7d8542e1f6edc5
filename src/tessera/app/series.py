"""Series: media of the same victim(s), owned by an agency, with identification status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from tessera.app import audit, trust
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import Level, redact, require_role, shared_at, transaction
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import camera_links, markers, repo, series_changes, sharing
from tessera.storage.db import Session


class SeriesSummary(Result):
    """A series' owner, identification status, category and size."""

    series_id: int
    name: str
    owner_code: str
    owner_country: str
    owner_name: str
    contact: str | None
    victim_identified: bool
    victim_identified_by: str | None
    victim_identified_at: Timestamp | None
    offender_identified: bool
    offender_identified_by: str | None
    offender_identified_at: Timestamp | None
    baseline: bool
    category_profile: str | None
    category: int | None
    media_count: int
    level: Literal["status", "full"] = "full"
    """What the caller sees of this series (``tessera.app.visibility``)."""

    @classmethod
    def of(cls, st: repo.SeriesStatus, level: Level = Level.FULL) -> SeriesSummary:
        return cls(**st.__dict__, level="full" if level >= Level.FULL else "status")


class SeriesMarker(Result):
    """A marker recorded for the series (see ``tessera.app.markers`` for the full form)."""

    id: int
    media_id: int
    type: str
    note: str | None


class LinkedMedia(Result):
    """Media linked to the series through metadata (same camera body, GPS nearby)."""

    media_id: int
    via_media: int
    reason: str
    detail: str


class SharingGrantInfo(Result):
    """One sharing grant of a series: to the network (``*``), a country or an agency."""

    scope: Literal["network", "country", "agency"]
    grantee: str
    level: Literal["none", "hash", "status", "full"]
    granted_by: str | None
    granted_at: Timestamp


class SeriesDetail(SeriesSummary):
    """``series show``: the summary, the series' markers and metadata-linked media.

    Markers and linked media are shown at ``full``; the grants only to the owner.
    """

    markers: tuple[SeriesMarker, ...] = shared_at(Level.FULL, ())
    linked_media: tuple[LinkedMedia, ...] = shared_at(Level.FULL, ())
    sharing: tuple[SharingGrantInfo, ...] | None = None
    """The series' grants (owner and local operator only; ``None`` for others)."""


@retried
def create(
    app: App,
    caller: Caller,
    name: str,
    agency_code: str,
    *,
    baseline: bool = False,
    category_profile: str | None = None,
    category: int | None = None,
    notes: str | None = None,
) -> SeriesSummary:
    """Create series ``name`` owned by ``agency_code`` (the caller's own, curator or up).

    A new series is shared at ``status`` with the whole network until its owner
    says otherwise (no grant row: the default of ``tessera.app.visibility``).
    """
    with transaction(app, caller) as (s, vis):
        agency = repo.get_agency(s, agency_code)
        if not vis.is_owner(agency.id):
            raise PermissionDenied("a series can only be created for the caller's own agency")
        require_role(caller, Role.CURATOR)
        rule = trust.require_baseline_rule(s, caller, None) if baseline else {}
        series = repo.create_series(
            s,
            name,
            agency,
            baseline=baseline,
            category_profile=category_profile,
            category=category,
            notes=notes,
        )
        audit.record_in(
            s,
            app,
            caller,
            "series.create",
            target=f"series:{name}",
            series=name,
            params={
                "agency": agency_code,
                "baseline": baseline,
                "category_profile": category_profile,
                "category": category,
                **rule,
            },
        )
        return SeriesSummary.of(repo.series_status(s, series))


def list_series(app: App, caller: Caller) -> list[SeriesSummary]:
    """Every series the caller sees at ``status`` or more, with its status, by name."""
    with transaction(app, caller) as (s, vis):
        all_series = repo.list_series(s)
        levels = vis.series_levels(x.id for x in all_series)
        return [
            SeriesSummary.of(repo.series_status(s, x), levels[x.id])
            for x in all_series
            if levels[x.id] >= Level.STATUS
        ]


class SeriesPage(Result):
    """One page of the series a caller sees, ordered and counted in the database."""

    items: tuple[SeriesSummary, ...]
    total: int
    offset: int
    limit: int
    sort: str
    descending: bool


MAX_PAGE = 200


def list_page(
    app: App,
    caller: Caller,
    *,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> SeriesPage:
    """The series the caller sees at ``status`` or more, one page in ``sort`` order
    (``repo.SERIES_SORTS``: name, owner, created, changed)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: 1..{MAX_PAGE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset: 0 or more, got {offset}")
    with transaction(app, caller) as (s, vis):
        visible = vis.visible_series(Level.STATUS)
        rows, total = repo.series_page(
            s, visible, sort=sort, descending=descending, limit=limit, offset=offset
        )
        levels = vis.series_levels(r.id for r in rows)
        items = tuple(SeriesSummary.of(repo.series_status(s, r), levels[r.id]) for r in rows)
    return SeriesPage(
        items=items, total=total, offset=offset, limit=limit, sort=sort, descending=descending
    )


def _grants(s: Session, series_id: int) -> tuple[SharingGrantInfo, ...]:
    return tuple(
        SharingGrantInfo(
            scope=g.scope,  # type: ignore[arg-type]
            grantee=g.grantee,
            level=g.level,  # type: ignore[arg-type]
            granted_by=g.granted_by,
            granted_at=g.granted_at,
        )
        for g in sharing.grants_of(s, "series", series_id)
    )


def show(app: App, caller: Caller, name: str) -> SeriesDetail:
    """One series: status, markers, and media linked to it by camera or GPS.

    ``NotFound`` unless the caller sees it at ``status``; markers and linked media
    only at ``full``; the sharing grants only to its owner.
    """
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        level = vis.require_series(series)
        st = repo.series_status(s, series)
        grants = _grants(s, series.id) if vis.is_owner(series.agency_id) else None
        marks = tuple(
            SeriesMarker(id=m.id, media_id=m.media_id, type=m.kind, note=m.note)
            for m in markers.list_markers(s, series_id=series.id)
        )
        found = camera_links.series_links(s, series.id)
        # other media are shown only where the caller sees them in full (as media links
        # do): without RLS the query returns every agency's media of that camera or place
        full = vis.seen_media({ln.media_id for _, ln in found}, Level.FULL)
        links = tuple(
            LinkedMedia(media_id=ln.media_id, via_media=mid, reason=ln.reason, detail=ln.detail)
            for mid, ln in found
            if ln.media_id in full
        )
    detail = SeriesDetail(
        **st.__dict__,
        level="full" if level >= Level.FULL else "status",
        markers=marks,
        linked_media=links,
        sharing=grants,
    )
    return redact(detail, level)


@retried
def set_status(
    app: App,
    caller: Caller,
    name: str,
    *,
    victim_identified: bool | None = None,
    offender_identified: bool | None = None,
    by_code: str | None = None,
) -> SeriesSummary:
    """Record whether the series' victim / offender is identified, and by which agency.

    Only the owner agency's curators (and up) change a series.
    """
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series)
        by = repo.get_agency(s, by_code) if by_code else None
        changes: list[tuple[Literal["victim", "offender"], bool | None]] = [
            ("victim", victim_identified),
            ("offender", offender_identified),
        ]
        for who, value in changes:
            if value is not None:
                repo.set_identified(s, series, who, value, by=by)
        audit.record_in(
            s,
            app,
            caller,
            "series.set",
            target=f"series:{name}",
            series=name,
            params={
                "victim_identified": victim_identified,
                "by": by_code,
                "offender_identified": offender_identified,
            },
        )
        return SeriesSummary.of(repo.series_status(s, series))


class SeriesRemoval(Result):
    """What ``series remove-media`` / ``series delete`` removed, by whom (soft: restorable)."""

    series: str
    removed_by: str
    media_ids: tuple[int, ...] = ()
    """Media taken out of the series (empty for a delete)."""
    deleted: bool = False
    """True when the series itself was deleted."""


@retried
def edit(
    app: App,
    caller: Caller,
    name: str,
    *,
    rename: str | None = None,
    notes: str | None = None,
    category: int | None = None,
    category_profile: str | None = None,
    baseline: bool | None = None,
) -> SeriesSummary:
    """Rename a series or change its notes, category or Baseline flag (owner curators).

    Renaming onto any existing name (a deleted series' included) is a ``Conflict``;
    ``notes=""`` clears the notes.
    """
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series)
        old_name = series.name
        rule = (
            trust.require_baseline_rule(s, caller, series.id)
            if baseline and not series.baseline
            else {}
        )
        changed = series_changes.edit_series(
            s,
            series,
            series_changes.SeriesEdit(
                rename=rename,
                notes=notes or None,
                clear_notes=notes == "",
                category=category,
                category_profile=category_profile,
                baseline=baseline,
            ),
        )
        audit.record_in(
            s,
            app,
            caller,
            "series.edit",
            target=f"series:{old_name}",
            series=series.name,
            params={"changed": changed, "rename": rename, **rule},
        )
        return SeriesSummary.of(repo.series_status(s, series))


@retried
def remove_media(app: App, caller: Caller, name: str, media_ids: Sequence[int]) -> SeriesRemoval:
    """Take media out of a series; every id must be a member, else nothing changes."""
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series)
        by = audit.actor(caller)
        removed = series_changes.remove_media(s, series, media_ids, by)
        audit.record_in(
            s,
            app,
            caller,
            "series.remove-media",
            target=f"series:{series.name}",
            series=series.name,
            params={"media": removed},
            result_count=len(removed),
        )
        return SeriesRemoval(series=series.name, removed_by=by, media_ids=tuple(removed))


@retried
def delete(app: App, caller: Caller, name: str) -> SeriesRemoval:
    """Delete a series (soft: kept with who and when, gone from every read path)."""
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series)
        by = audit.actor(caller)
        series_changes.delete_series(s, series, by)
        audit.record_in(
            s, app, caller, "series.delete", target=f"series:{series.name}", series=series.name
        )
        return SeriesRemoval(series=series.name, removed_by=by, deleted=True)


class DeletedSeries(Result):
    """A deleted series: who deleted it and when (``series restore`` brings it back)."""

    name: str
    owner_code: str
    deleted_at: Timestamp
    deleted_by: str | None


def list_deleted(app: App, caller: Caller) -> list[DeletedSeries]:
    """Deleted series of the caller's agency (all of them for the local operator)."""
    with transaction(app, caller) as (s, vis):
        return [
            DeletedSeries(
                name=x.name,
                owner_code=x.agency.code,
                deleted_at=x.deleted_at,
                deleted_by=x.deleted_by,
            )
            for x in series_changes.list_deleted(s)
            if x.deleted_at is not None and vis.is_owner(x.agency_id)
        ]


@retried
def restore(app: App, caller: Caller, name: str) -> SeriesSummary:
    """Bring back a deleted series with its members (owner curators, or the operator)."""
    with transaction(app, caller) as (s, vis):
        series = series_changes.restore_series(s, name)
        if not vis.is_owner(series.agency_id):
            raise NotFound(f"no deleted series {name!r}")
        require_role(caller, Role.CURATOR)
        audit.record_in(
            s, app, caller, "series.restore", target=f"series:{series.name}", series=series.name
        )
        return SeriesSummary.of(repo.series_status(s, series))


__all__ = [
    "DeletedSeries",
    "LinkedMedia",
    "SeriesDetail",
    "SeriesMarker",
    "SeriesPage",
    "SeriesRemoval",
    "SeriesSummary",
    "SharingGrantInfo",
    "create",
    "delete",
    "edit",
    "list_deleted",
    "list_page",
    "list_series",
    "remove_media",
    "restore",
    "set_status",
    "show",
]
