"""Database housekeeping commands: init, agency, series, link, stats, index."""

from __future__ import annotations

import json
from typing import Any

import click

from tessera.cli.context import AppContext, pass_app
from tessera.errors import NotFound
from tessera.fingerprints.value import Fingerprint
from tessera.storage import camera_links, markers, repo
from tessera.storage.models import Location, Offender, Victim, utcnow


def _emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@click.command("init")
@pass_app
def init_command(app: AppContext) -> None:
    """Create the database (or upgrade its schema) and the index folder."""
    db = app.database(migrate=True)
    store = app.pdq_store()
    click.echo(f"database ready: {db.dialect} ({_safe_url(db.url)}); index: {store.folder}")


def _safe_url(url: str) -> str:
    # never echo a password
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@click.group("agency")
def agency_group() -> None:
    """Agencies: units of member countries that own cases and series."""


@agency_group.command("create")
@click.argument("code")
@click.option("--country", required=True, help="ISO 3166 alpha-2, e.g. NL.")
@click.option("--name", required=True, help="Unit name.")
@click.option("--contact", help="Whom to contact about this agency's series.")
@pass_app
def agency_create(app: AppContext, code: str, country: str, name: str, contact: str | None) -> None:
    """Register agency CODE."""
    with app.database().session() as s:
        a = repo.create_agency(s, code, country, name, contact)
        click.echo(f"agency {a.code} ({a.country}) created")


@agency_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def agency_list(app: AppContext, as_json: bool) -> None:
    """List agencies."""
    with app.database().session() as s:
        rows = [
            {"code": a.code, "country": a.country, "name": a.name, "contact": a.contact}
            for a in repo.list_agencies(s)
        ]
    text = "\n".join(
        f"{r['code']:16s} {r['country']}  {r['name']}  {r['contact'] or ''}" for r in rows
    )
    _emit(rows, as_json, text or "(no agencies)")


@click.group("series")
def series_group() -> None:
    """Series: media of the same victim(s), owned by an agency."""


@series_group.command("create")
@click.argument("name")
@click.option("--agency", "agency_code", required=True, help="Owning agency code.")
@click.option("--baseline", is_flag=True, help="On Interpol's Baseline list.")
@click.option("--category-profile", help="Category scheme, e.g. US, UK.")
@click.option("--category", type=int, help="Raw category number in that scheme.")
@click.option("--notes")
@pass_app
def series_create(
    app: AppContext,
    name: str,
    agency_code: str,
    baseline: bool,
    category_profile: str | None,
    category: int | None,
    notes: str | None,
) -> None:
    """Create series NAME."""
    with app.database().session() as s:
        agency = repo.get_agency(s, agency_code)
        repo.create_series(
            s,
            name,
            agency,
            baseline=baseline,
            category_profile=category_profile,
            category=category,
            notes=notes,
        )
    click.echo(f"series {name!r} created, owned by {agency_code}")


def _status_json(st: repo.SeriesStatus) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in st.__dict__.items()}


@series_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def series_list(app: AppContext, as_json: bool) -> None:
    """List series with their status."""
    with app.database().session() as s:
        rows = [repo.series_status(s, x) for x in repo.list_series(s)]
    text = "\n".join(
        f"{r.name:30s} {r.owner_code:12s} media={r.media_count:<6d} "
        f"victim={'identified' if r.victim_identified else 'not identified':15s} "
        f"offender={'identified' if r.offender_identified else 'not identified'}"
        for r in rows
    )
    _emit([_status_json(r) for r in rows], as_json, text or "(no series)")


@series_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def series_show(app: AppContext, name: str, as_json: bool) -> None:
    """Show one series' status."""
    with app.database().session() as s:
        series = repo.get_series(s, name)
        st = repo.series_status(s, series)
        marks = [
            {"id": m.id, "media_id": m.media_id, "type": m.kind, "note": m.note}
            for m in markers.list_markers(s, series_id=series.id)
        ]
        links = [
            {
                "media_id": link.media_id,
                "via_media": mid,
                "reason": link.reason,
                "detail": link.detail,
            }
            for mid, link in camera_links.series_links(s, series.id)
        ]
    data = _status_json(st)
    data["markers"] = marks
    data["linked_media"] = links
    text = {k: v for k, v in data.items() if k not in ("markers", "linked_media")}
    lines = [f"{k:24s} {v}" for k, v in text.items()]
    lines += [
        f"marker {m['id']:<17d} {m['type']} on media {m['media_id']}: {m['note'] or ''}"
        for m in marks
    ]
    lines += [
        f"linked media {ln['media_id']:<11d} {ln['reason']} ({ln['detail']}) "
        f"with media {ln['via_media']}"
        for ln in links
    ]
    _emit(data, as_json, "\n".join(lines))


@series_group.command("set")
@click.argument("name")
@click.option("--victim-identified/--victim-not-identified", default=None, help="Victim status.")
@click.option(
    "--offender-identified/--offender-not-identified", default=None, help="Offender status."
)
@click.option("--by", "by_code", help="Agency that made the identification.")
@pass_app
def series_set(
    app: AppContext,
    name: str,
    victim_identified: bool | None,
    offender_identified: bool | None,
    by_code: str | None,
) -> None:
    """Record identification status of series NAME."""
    with app.database().session() as s:
        series = repo.get_series(s, name)
        by = repo.get_agency(s, by_code) if by_code else None
        if victim_identified is not None:
            repo.set_identified(s, series, "victim", victim_identified, by=by)
        if offender_identified is not None:
            repo.set_identified(s, series, "offender", offender_identified, by=by)
    click.echo(f"series {name!r} updated")


@click.command("link")
@click.argument("kind", type=click.Choice(["victim", "offender", "location"]))
@click.argument("value")
@click.option("--series", "series_name", help="Link to this series.")
@click.option("--media", "media_sha256", help="Link to this media item (SHA-256 hex).")
@click.option("--identified/--not-identified", default=None, help="Victim/offender status.")
@click.option("--by", "by_code", help="Identifying agency.")
@click.option("--country", help="Location country (ISO alpha-2).")
@click.option("--lat", type=float, help="Location latitude.")
@click.option("--lon", type=float, help="Location longitude.")
@pass_app
def link_command(
    app: AppContext,
    kind: str,
    value: str,
    series_name: str | None,
    media_sha256: str | None,
    identified: bool | None,
    by_code: str | None,
    country: str | None,
    lat: float | None,
    lon: float | None,
) -> None:
    """Link a victim or offender (pseudonym VALUE) or a location (description VALUE)
    to a series or a media item."""
    if (series_name is None) == (media_sha256 is None):
        raise click.UsageError("give exactly one of --series or --media")
    with app.database().session() as s:
        target: Victim | Offender | Location
        if kind == "victim":
            target = repo.get_or_create_victim(s, value)
        elif kind == "offender":
            target = repo.get_or_create_offender(s, value)
        else:
            target = repo.create_location(s, value, country, lat, lon)
        if identified is not None and isinstance(target, Victim | Offender):
            by = repo.get_agency(s, by_code) if by_code else None
            target.identified = identified
            target.identified_by = by.id if (by and identified) else None
            target.identified_at = utcnow() if identified else None
        if series_name is not None:
            owner, owner_id = "series", repo.get_series(s, series_name).id
        else:
            digest = Fingerprint.from_hex("sha256", media_sha256 or "").payload  # checks hex
            media = repo.media_by_sha256(s, [digest]).get(digest)
            if media is None:
                raise NotFound(f"no media with SHA-256 {media_sha256}")
            owner, owner_id = "media", media.id
        added = repo.link(s, owner, owner_id, kind, target.id)
    click.echo(f"{kind} {value!r} {'linked to' if added else 'was already linked to'} {owner}")


@click.command("stats")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def stats_command(app: AppContext, as_json: bool) -> None:
    """Counts: media, sightings, series, identified victims, per agency."""
    with app.database().session() as s:
        st = repo.stats(s)
    data = st.__dict__
    lines = [
        f"media                {st.media}",
        f"sightings            {st.sightings}",
        f"series               {st.series}",
        f"victims identified   {st.identified_victims} of {st.victims}",
        f"offenders identified {st.identified_offenders} of {st.offenders}",
    ]
    for code, c in st.per_agency.items():
        lines.append(f"  {code:16s} " + "  ".join(f"{k}={v}" for k, v in c.items()))
    _emit(data, as_json, "\n".join(lines))


@click.group("index")
def index_group() -> None:
    """The PDQ and same-scene indexes beside the database."""


@index_group.command("rebuild")
@pass_app
def index_rebuild(app: AppContext) -> None:
    """Rebuild both indexes from the database (when missing, stale or corrupt).

    The same-scene index's vocabulary is retrained on the stored features.
    """
    store = app.pdq_store()
    n = store.rebuild()
    click.echo(f"index rebuilt: {n} PDQ fingerprints in {store.folder}")
    scene = app.scene_store()
    m = scene.rebuild()
    click.echo(f"scene index rebuilt: {m} media with local features in {scene.folder}")


@index_group.command("status")
@pass_app
def index_status(app: AppContext) -> None:
    """Show how many fingerprints the index holds and the database row it is at."""
    store = app.pdq_store()
    click.echo(f"{len(store.index)} PDQ fingerprints, up to row {store.last_id}, in {store.folder}")
    scene = app.scene_store()
    st = scene.status()
    click.echo(
        f"{st['media']} media with local features ({st['mode']}, "
        f"{st['vocabulary']} visual words), up to row {st['last_row']}, in {scene.folder}"
    )
