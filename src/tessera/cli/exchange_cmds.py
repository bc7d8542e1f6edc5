"""``tessera import`` and ``tessera export``: exchange files in and out (thin over
``tessera.app.exchange``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tessera.app import exchange
from tessera.cli.context import CliContext, emit, pass_app


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(exchange.IMPORT_FORMATS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--agency", required=True, help="Agency the file comes from (its records' owner).")
@click.option("--case", "case", help="Case to record the media under (created on first use).")
@click.option("--series", help="Series for records that name none (created on first use).")
@click.option(
    "--hash-type",
    type=click.Choice(["md5", "sha1", "sha256", "pdq"]),
    help="hashlist: the type of bare hashes (default: by length; 64 needs this).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def import_command(
    cli: CliContext,
    fmt: str,
    file: Path,
    agency: str,
    case: str | None,
    series: str | None,
    hash_type: str | None,
    as_json: bool,
) -> None:
    """Import an exchange FILE: all of it or, on any bad record, nothing.

    FORMAT: vics, icse-csv, hashlist, te-csv, ncmec-xml, bundle.
    """
    r = exchange.import_file(
        cli.app,
        cli.caller,
        fmt,
        file,
        agency_code=agency,
        case=case,
        series=series,
        hash_type=hash_type,
    )
    text = (
        f"{r.path}: imported {r.records} records ({r.new_media} new media, "
        f"{r.matched_media} already known; entries {r.new_entries} new, "
        f"{r.updated_entries} updated, {r.unchanged_entries} unchanged, "
        f"{r.deleted_entries} deleted)"
    )
    if r.series_created:
        text += f"\nseries created: {', '.join(r.series_created)}"
    if r.series_updated:
        text += f"\nseries updated: {', '.join(r.series_updated)}"
    emit(r, as_json, text)


@click.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(exchange.EXPORT_FORMATS))
@click.option("--series", help="Only this series' media.")
@click.option("--case", "case", help="Only media of this case.")
@click.option("--agency", help="Only media this agency submitted, imported or owns a series of.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: standard output).",
)
@click.option(
    "--hash-type",
    type=click.Choice(["md5", "sha1", "sha256", "pdq"]),
    help="hashlist: bare hashes of this type only (default: '<type> <hash>' lines).",
)
@click.option(
    "--vics-version", type=click.Choice(["1.2", "1.3", "2.0"]), default="2.0", show_default=True
)
@click.option(
    "--vics-root",
    type=click.Choice(["Media", "Cases"]),
    default="Media",
    show_default=True,
    help="vics: a #Media list, or #Cases (media grouped by their case number).",
)
@click.option(
    "--level",
    type=click.Choice(["full", "hashes"]),
    default="full",
    show_default=True,
    help="bundle: what it carries (hashes only, or hashes and metadata).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (to stderr).")
@pass_app
def export_command(
    cli: CliContext,
    fmt: str,
    series: str | None,
    case: str | None,
    agency: str | None,
    output: Path | None,
    hash_type: str | None,
    vics_version: str,
    vics_root: str,
    level: str,
    as_json: bool,
) -> None:
    """Export known media as FORMAT: vics, icse-csv, hashlist, te-csv, bundle.

    Hashes and metadata only; media never leaves. An incomplete file is never left
    behind: output goes to FILE.partial and is renamed when complete.
    """
    kwargs = {
        "series": series,
        "case": case,
        "agency": agency,
        "hash_type": hash_type,
        "vics_version": vics_version,
        "vics_root": vics_root,
        "level": level,
    }
    if output is None:
        r = exchange.export(cli.app, cli.caller, fmt, sys.stdout, path="-", **kwargs)  # type: ignore[arg-type]
    else:
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as out:
                r = exchange.export(
                    cli.app,
                    cli.caller,
                    fmt,
                    out,
                    path=str(output),
                    **kwargs,  # type: ignore[arg-type]
                )
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    text = f"{r.path}: exported {r.records} records as {r.format}"
    if as_json or output is None:
        click.echo(to_text(r, as_json, text), err=True)
    else:
        emit(r, as_json, text)


def to_text(r: exchange.ExportSummary, as_json: bool, text: str) -> str:
    return json.dumps(r.to_json(), indent=2) if as_json else text
