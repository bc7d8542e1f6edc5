"""Database housekeeping commands: init, agency, series, link, stats, index."""

from __future__ import annotations

import click

from tessera.app import agencies, audit, indexes, links, series, sharing, stats
from tessera.app.series import SharingGrantInfo
from tessera.cli.context import CliContext, emit, pass_app


@click.command("init")
@click.option(
    "--node-name",
    help="Name of this node's signing key, e.g. tessera.example.org/nl-npu "
    "(default: tessera-node/<database id>). Used only when the key is created.",
)
@pass_app
def init_command(cli: CliContext, node_name: str | None) -> None:
    """Create the database (or upgrade its schema), the index folder and the node key."""
    r = indexes.init(cli.app, cli.caller)
    click.echo(f"database ready: {r.dialect} ({r.database_url}); index: {r.index_dir}")
    key = audit.ensure_node_key(cli.app, node_name)
    audit.record(cli.app, cli.caller, "init", params={"node_name": node_name})
    made = "created" if key.created else "kept"
    click.echo(f"node key {made}: {key.key_file}\nnode verifier key: {key.verifier_key}")


@click.group("agency")
def agency_group() -> None:
    """Agencies: units of member countries that own cases and series."""


@agency_group.command("create")
@click.argument("code")
@click.option("--country", required=True, help="ISO 3166 alpha-2, e.g. NL.")
@click.option("--name", required=True, help="Unit name.")
@click.option("--contact", help="Whom to contact about this agency's series.")
@pass_app
def agency_create(cli: CliContext, code: str, country: str, name: str, contact: str | None) -> None:
    """Register agency CODE."""
    a = agencies.create(cli.app, cli.caller, code, country=country, name=name, contact=contact)
    click.echo(f"agency {a.code} ({a.country}) created")


@agency_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def agency_list(cli: CliContext, as_json: bool) -> None:
    """List agencies."""
    rows = agencies.list_agencies(cli.app, cli.caller)
    text = "\n".join(f"{r.code:16s} {r.country}  {r.name}  {r.contact or ''}" for r in rows)
    emit(rows, as_json, text or "(no agencies)")


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
    cli: CliContext,
    name: str,
    agency_code: str,
    baseline: bool,
    category_profile: str | None,
    category: int | None,
    notes: str | None,
) -> None:
    """Create series NAME."""
    series.create(
        cli.app,
        cli.caller,
        name,
        agency_code,
        baseline=baseline,
        category_profile=category_profile,
        category=category,
        notes=notes,
    )
    click.echo(f"series {name!r} created, owned by {agency_code}")


@series_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def series_list(cli: CliContext, as_json: bool) -> None:
    """List series with their status."""
    if cli.server:
        with cli.remote() as remote:
            rows = remote.series_list()
    else:
        rows = series.list_series(cli.app, cli.caller)
    text = "\n".join(
        f"{r.name:30s} {r.owner_code:12s} media={r.media_count:<6d} "
        f"victim={'identified' if r.victim_identified else 'not identified':15s} "
        f"offender={'identified' if r.offender_identified else 'not identified'}"
        for r in rows
    )
    emit(rows, as_json, text or "(no series)")


def _shown(value: object) -> str:
    """A value as people read it: yes/no, '-' for nothing (never Python's None/True)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@series_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def series_show(cli: CliContext, name: str, as_json: bool) -> None:
    """Show one series' status."""
    if cli.server:
        with cli.remote() as remote:
            detail = remote.series_show(name)
    else:
        detail = series.show(cli.app, cli.caller, name)
    data = detail.to_json()
    lines = [
        f"{k:24s} {_shown(v)}"
        for k, v in data.items()
        if k not in ("markers", "linked_media", "sharing")
    ]
    lines += [_grant_line(g) for g in detail.sharing or ()]
    lines += [
        f"marker {m.id:<17d} {m.type} on media {m.media_id}: {m.note or ''}" for m in detail.markers
    ]
    lines += [
        f"linked media {ln.media_id:<11d} {ln.reason} ({ln.detail}) with media {ln.via_media}"
        for ln in detail.linked_media
    ]
    emit(detail, as_json, "\n".join(lines))


def _grant_line(g: SharingGrantInfo) -> str:
    who = "the network" if g.scope == "network" else f"{g.scope} {g.grantee}"
    return f"shared with {who:24s} {g.level}"


@series_group.command("share")
@click.argument("name")
@click.option(
    "--level",
    required=True,
    type=click.Choice(["none", "hash", "status", "full"]),
    help="none: nothing; hash: 'known' + owner contact; status: + name and status; "
    "full: + victims, offenders, locations, markers, text, metadata.",
)
@click.option("--country", "countries", multiple=True, help="Grant to this country (repeat).")
@click.option("--agency", "agencies", multiple=True, help="Grant to this agency (repeat).")
@click.option("--network", is_flag=True, help="Grant to the whole network (the default).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def series_share(
    cli: CliContext,
    name: str,
    level: str,
    countries: tuple[str, ...],
    agencies: tuple[str, ...],
    network: bool,
    as_json: bool,
) -> None:
    """Set what others see of series NAME (the most specific grant wins:
    agency over country over network; new series are 'status' to the network)."""
    result = sharing.share_series(
        cli.app,
        cli.caller,
        name,
        level,
        countries=countries,
        agencies=agencies,
        network=network,
    )
    lines = [f"series {result.series!r}: {', '.join(result.changed)} now at {result.level}"]
    lines += [_grant_line(g) for g in result.grants]
    emit(result, as_json, "\n".join(lines))


@series_group.command("set")
@click.argument("name")
@click.option("--victim-identified/--victim-not-identified", default=None, help="Victim status.")
@click.option(
    "--offender-identified/--offender-not-identified", default=None, help="Offender status."
)
@click.option("--by", "by_code", help="Agency that made the identification.")
@pass_app
def series_set(
    cli: CliContext,
    name: str,
    victim_identified: bool | None,
    offender_identified: bool | None,
    by_code: str | None,
) -> None:
    """Record identification status of series NAME."""
    series.set_status(
        cli.app,
        cli.caller,
        name,
        victim_identified=victim_identified,
        offender_identified=offender_identified,
        by_code=by_code,
    )
    click.echo(f"series {name!r} updated")


@click.command("link")
@click.argument("kind", type=click.Choice(["victim", "offender", "location"]))
@click.argument("value")
@click.option("--series", "series_name", help="Link to this series.")
@click.option(
    "--media",
    "media_sha256",
    help="Link to this media item: its id (as everywhere else) or SHA-256/SHA-1/MD5 hex.",
)
@click.option("--identified/--not-identified", default=None, help="Victim/offender status.")
@click.option("--by", "by_code", help="Identifying agency.")
@click.option("--country", help="Location country (ISO alpha-2).")
@click.option("--lat", type=float, help="Location latitude.")
@click.option("--lon", type=float, help="Location longitude.")
@pass_app
def link_command(
    cli: CliContext,
    kind: links.LinkKind,
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
    r = links.link(
        cli.app,
        cli.caller,
        kind,
        value,
        series_name=series_name,
        media_sha256=media_sha256,
        identified=identified,
        by_code=by_code,
        country=country,
        lat=lat,
        lon=lon,
    )
    click.echo(f"{kind} {value!r} {'linked to' if r.added else 'was already linked to'} {r.owner}")


@click.command("stats")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def stats_command(cli: CliContext, as_json: bool) -> None:
    """Counts: media, sightings, series, identified victims, per agency."""
    st = stats.stats(cli.app, cli.caller)
    lines = [
        f"media                {st.media}",
        f"sightings            {st.sightings}",
        f"series               {st.series}",
        f"victims identified   {st.identified_victims} of {st.victims}",
        f"offenders identified {st.identified_offenders} of {st.offenders}",
    ]
    for code, c in st.per_agency.items():
        lines.append(f"  {code:16s} " + "  ".join(f"{k}={v}" for k, v in c.items()))
    emit(st, as_json, "\n".join(lines))


@click.group("index")
def index_group() -> None:
    """The PDQ and same-scene indexes beside the database."""


@index_group.command("rebuild")
@pass_app
def index_rebuild(cli: CliContext) -> None:
    """Rebuild both indexes from the database (when missing, stale or corrupt).

    The same-scene index's vocabulary is retrained on the stored features.
    """
    r = indexes.rebuild(cli.app, cli.caller)
    click.echo(f"index rebuilt: {r.pdq_fingerprints} PDQ fingerprints in {r.pdq_dir}")
    click.echo(f"scene index rebuilt: {r.scene_media} media with local features in {r.scene_dir}")


@index_group.command("status")
@pass_app
def index_status(cli: CliContext) -> None:
    """Show how many fingerprints the index holds and the database row it is at."""
    st = indexes.status(cli.app, cli.caller)
    click.echo(
        f"{st.pdq_fingerprints} PDQ fingerprints, up to row {st.pdq_last_row}, in {st.pdq_dir}"
    )
    click.echo(
        f"{st.scene_media} media with local features ({st.scene_mode}, "
        f"{st.scene_vocabulary} visual words), up to row {st.scene_last_row}, in {st.scene_dir}"
    )
