"""Changing series and agencies after ``create``: ``series edit``, ``remove-media``,
``delete``, ``restore``, ``deleted``; ``agency show|edit``. Registered on the
``series`` and ``agency`` groups in ``main``."""

from __future__ import annotations

import click

from tessera.app import agencies, series
from tessera.app.agencies import AgencyDetail
from tessera.cli.context import CliContext, emit, pass_app


@click.command("edit")
@click.argument("name")
@click.option("--rename", help="New name (must not exist).")
@click.option("--notes", help="New notes ('' clears them).")
@click.option("--category", type=int, help="Category number in the series' scheme.")
@click.option("--category-profile", help="Category scheme, e.g. US, UK.")
@click.option("--baseline/--no-baseline", default=None, help="On Interpol's Baseline list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def series_edit(
    cli: CliContext,
    name: str,
    rename: str | None,
    notes: str | None,
    category: int | None,
    category_profile: str | None,
    baseline: bool | None,
    as_json: bool,
) -> None:
    """Rename series NAME or change its notes, category or Baseline flag."""
    st = series.edit(
        cli.app,
        cli.caller,
        name,
        rename=rename,
        notes=notes,
        category=category,
        category_profile=category_profile,
        baseline=baseline,
    )
    emit(st, as_json, f"series {st.name!r} updated")


@click.command("remove-media")
@click.argument("name")
@click.argument("media_ids", nargs=-1, required=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def series_remove_media(
    cli: CliContext, name: str, media_ids: tuple[int, ...], as_json: bool
) -> None:
    """Take media MEDIA_IDS out of series NAME (all or none)."""
    r = series.remove_media(cli.app, cli.caller, name, media_ids)
    emit(r, as_json, f"{len(r.media_ids)} media removed from series {r.series!r}")


@click.command("delete")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def series_delete(cli: CliContext, name: str, as_json: bool) -> None:
    """Delete series NAME (kept with who and when; `series restore` brings it back)."""
    r = series.delete(cli.app, cli.caller, name)
    emit(r, as_json, f"series {r.series!r} deleted by {r.removed_by}")


@click.command("restore")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def series_restore(cli: CliContext, name: str, as_json: bool) -> None:
    """Bring back deleted series NAME with its media."""
    st = series.restore(cli.app, cli.caller, name)
    emit(st, as_json, f"series {st.name!r} restored ({st.media_count} media)")


@click.command("deleted")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def series_deleted(cli: CliContext, as_json: bool) -> None:
    """List deleted series, who deleted them and when (restorable)."""
    rows = series.list_deleted(cli.app, cli.caller)
    text = "\n".join(
        f"{r.name:30s} {r.owner_code:12s} deleted {r.deleted_at.isoformat()} by {r.deleted_by}"
        for r in rows
    )
    emit(rows, as_json, text or "(no deleted series)")


def _agency_text(a: AgencyDetail) -> str:
    lines = [
        f"{a.code} ({a.country})  {a.name}",
        f"  contact  {a.contact or ''}",
        f"  created  {a.created_at.isoformat()}",
    ]
    if a.series is not None:
        lines.append(f"  series={a.series} cases={a.cases} sightings={a.sightings} media={a.media}")
    return "\n".join(lines)


@click.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def agency_show(cli: CliContext, code: str, as_json: bool) -> None:
    """Show agency CODE with its counts."""
    a = agencies.show(cli.app, cli.caller, code)
    emit(a, as_json, _agency_text(a))


@click.command("edit")
@click.argument("code")
@click.option("--name", help="New unit name.")
@click.option("--contact", help="New contact ('' clears it).")
@click.option("--country", help="ISO 3166 alpha-2, e.g. NL.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def agency_edit(
    cli: CliContext,
    code: str,
    name: str | None,
    contact: str | None,
    country: str | None,
    as_json: bool,
) -> None:
    """Correct agency CODE's name, contact or country (the code itself is fixed)."""
    a = agencies.edit(cli.app, cli.caller, code, name=name, contact=contact, country=country)
    emit(a, as_json, "agency updated\n" + _agency_text(a))


SERIES_COMMANDS = (series_edit, series_remove_media, series_delete, series_restore, series_deleted)
AGENCY_COMMANDS = (agency_show, agency_edit)
