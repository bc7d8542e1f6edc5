"""``tessera similar``, ``tessera search-text`` and ``tessera marker``: similar features.

These answer "where else is this room, this poster, this sign?" from what the
database holds (local features, OCR text, markers); no picture is needed for a
stored media item. The work is in ``tessera.app.similar``, ``.markers`` and ``.text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from tessera.app import markers, similar, text
from tessera.cli.context import CliContext, emit, pass_app
from tessera.errors import InvalidInput

_KNOWN_BOX_HELP = "Region x0,y0,x1,y1 in pixels of the full picture."


def _print_hits(hits: Sequence[similar.SimilarHit]) -> None:
    if not hits:
        click.echo("  no stored media verified as the same scene or object")
    for h in hits:
        series = ", ".join(h.series) or "no series"
        region = list(h.region_in_hit) if h.region_in_hit is not None else None
        click.echo(
            f"  media {h.media_id}: {h.relation}, {h.inliers} inliers "
            f"({h.geometry}), found at {region} ({series})" + (f"; {h.reason}" if h.reason else "")
        )


@click.command("similar")
@click.argument("target")
@click.option("--box", "box_text", help=_KNOWN_BOX_HELP + " Search with this region only.")
@click.option("-k", "--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def similar_command(
    cli: CliContext, target: str, box_text: str | None, limit: int, as_json: bool
) -> None:
    """Stored media showing the same scene or object as TARGET (a file or a media id).

    Each hit is verified geometrically; it says how many keypoints agree, where in
    the hit the match lies, and whether the hit is an edited copy ("copy") or
    another view of the same place or object ("scene").
    """
    box = markers.parse_box(box_text) if box_text else None
    path = Path(target)
    if not path.exists() and not target.isdigit():
        raise InvalidInput(f"{target!r} is neither an existing file nor a media id")
    if cli.server:  # a file is hashed here: only its keypoints and SHA-256 travel
        with cli.remote() as remote:
            if path.exists():
                query = similar.file_query(cli.settings.decode_limits, path, box=box)
                r = remote.similar_to_file(query, limit=limit)
            else:
                r = remote.similar_to_media(int(target), box=box, limit=limit)
    elif path.exists():
        r = similar.to_file(cli.app, cli.caller, path, box=box, limit=limit)
    else:
        r = similar.to_media(cli.app, cli.caller, int(target), box=box, limit=limit)
    if as_json:
        emit(r, True, "", indent=1)
    else:
        click.echo(f"{target}: {len(r.hits)} similar")
        _print_hits(r.hits)


@click.command("search-text")
@click.argument("query")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def search_text_command(cli: CliContext, query: str, limit: int, as_json: bool) -> None:
    """Media whose text (read by OCR at ingest with --ocr) contains every word of QUERY."""
    if cli.server:
        with cli.remote() as remote:
            r = remote.search_text(query, limit=limit)
    else:
        r = text.search(cli.app, cli.caller, query, limit=limit)
    if as_json:
        emit(r, True, "", indent=1)
        return
    click.echo(f"{len(r.hits)} media with text matching {query!r}")
    for h in r.hits:
        snippet = h.text if len(h.text) <= 80 else h.text[:77] + "..."
        click.echo(f"  media {h.media_id} ({', '.join(h.series) or 'no series'}): {snippet}")


@click.group("marker")
def marker_group() -> None:
    """Markers: a poster, sign or object in a picture, to find elsewhere."""


@marker_group.command("add")
@click.argument("media_id", type=int)
@click.option("--box", "box_text", required=True, help=_KNOWN_BOX_HELP)
@click.option("--type", "kind", required=True, type=click.Choice(markers.KINDS))
@click.option("--note", help="What the marker shows and why it matters.")
@click.option("--series", "series_name", help="Series the marker belongs to.")
@click.option("--location", "location_id", type=int, help="Location id it points to.")
@click.option("--agency", "agency_code", help="Agency recording the marker.")
@click.option(
    "--file",
    "file_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The picture itself: the region is then extracted at full detail.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_add(
    cli: CliContext,
    media_id: int,
    box_text: str,
    kind: str,
    note: str | None,
    series_name: str | None,
    location_id: int | None,
    agency_code: str | None,
    file_path: Path | None,
    as_json: bool,
) -> None:
    """Mark the region --box of MEDIA_ID as a marker of --type."""
    mk = markers.add(
        cli.app,
        cli.caller,
        media_id,
        markers.parse_box(box_text),
        kind,
        note=note,
        series_name=series_name,
        location_id=location_id,
        agency_code=agency_code,
        file_path=file_path,
    )
    emit(
        mk,
        as_json,
        indent=1,
        text=f"marker {mk.id} ({kind}) on media {media_id}, {mk.keypoints} keypoints",
    )


@marker_group.command("list")
@click.option("--series", "series_name", help="Only this series' markers.")
@click.option("--location", "location_id", type=int, help="Only this location's markers.")
@click.option("--media", "media_id", type=int, help="Only markers on this media item.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_list(
    cli: CliContext,
    series_name: str | None,
    location_id: int | None,
    media_id: int | None,
    as_json: bool,
) -> None:
    """List markers, per series, location or media item."""
    rows = markers.list_markers(
        cli.app, cli.caller, series_name=series_name, location_id=location_id, media_id=media_id
    )
    lines = [
        f"marker {m.id}: {m.type} on media {m.media_id} at {list(m.box)}"
        + (f" - {m.note}" if m.note else "")
        for m in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "no markers", indent=1)


@marker_group.command("find")
@click.argument("marker_id", type=int)
@click.option("-k", "--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_find(cli: CliContext, marker_id: int, limit: int, as_json: bool) -> None:
    """Find this marker elsewhere: media showing it, and where in each it is."""
    r = markers.find(cli.app, cli.caller, marker_id, limit=limit)
    if as_json:
        emit(r, True, "", indent=1)
    else:
        click.echo(f"marker {marker_id}: found in {len(r.hits)} other media")
        _print_hits(r.hits)


__all__ = ["marker_group", "search_text_command", "similar_command"]
