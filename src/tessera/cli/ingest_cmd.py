"""``tessera ingest PATH --agency CODE --case NUMBER [--series NAME]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tessera.app import ingest
from tessera.cli.context import CliContext
from tessera.cli.exit_codes import ExitCode
from tessera.cli.progress import StageBars

_LISTED = 20  # failed or skipped files named in the text summary


@click.command("ingest")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--agency", "agency_code", required=True, help="Submitting agency code.")
@click.option("--case", "case_number", required=True, help="Case number (created on first use).")
@click.option("--series", "series_name", help="Link every ingested media item to this series.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.option(
    "--cluster",
    metavar="tcp://HOST:8786",
    help="Dask scheduler: hashing and features run on its workers (files at the same "
    "path on every worker); writes and results stay here.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--no-archives", is_flag=True, help="Treat archives as plain files.")
@click.option(
    "--features/--no-features",
    default=True,
    show_default=True,
    help="Extract local features for same-scene and marker search (about 0.1 s per image).",
)
@click.option(
    "--ocr",
    "ocr_langs",
    multiple=True,
    metavar="LANG",
    help="Read text in pictures with Tesseract in LANG (e.g. eng, fra); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
@click.pass_context
def ingest_command(
    ctx: click.Context,
    path: Path,
    agency_code: str,
    case_number: str,
    series_name: str | None,
    workers: int | None,
    cluster: str | None,
    batch_size: int,
    no_archives: bool,
    features: bool,
    ocr_langs: tuple[str, ...],
    as_json: bool,
    progress: bool | None,
) -> None:
    """Fingerprint everything under PATH (folders and archives) into the database.

    Exact digests, PDQ, camera metadata and (unless --no-features) local features
    are stored; --ocr adds the text read in pictures, searchable with
    `tessera search-text`. Re-running the same command after an interruption
    resumes the run: nothing is written twice and nothing is left out. Exit status
    1 if any file failed.
    """
    cli = ctx.find_object(CliContext) or ctx.ensure_object(CliContext)
    show = progress if progress is not None else sys.stderr.isatty()
    summary = ingest.run(
        cli.app,
        cli.caller,
        path,
        agency_code=agency_code,
        case_number=case_number,
        series_name=series_name,
        features=features,
        ocr_languages=ocr_langs,
        open_archives=not no_archives,
        workers=workers,
        batch_size=batch_size,
        progress=StageBars(enabled=show),
        cluster=cluster,
    )
    data = summary.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        errs = ", ".join(f"{k}: {v}" for k, v in data["errors_by_reason"].items())
        click.echo(
            f"run {data['run_id']}{' (resumed)' if data['resumed'] else ''}: "
            f"{data['files_seen']} files seen, {data['new_media']} new media, "
            f"{data['already_known']} already known, {data['errors']} errors"
            + (f" ({errs})" if errs else "")
            + (f", {data['skipped']} skipped" if data["skipped"] else "")
            + (
                f", {data['already_done_in_earlier_attempt']} done in an earlier attempt"
                if data["already_done_in_earlier_attempt"]
                else ""
            )
            + f" in {data['seconds']:.1f} s"
        )
        problems = data["failed_files"]
        for item in problems[:_LISTED]:
            click.echo(f"  {item['status']}: {item['path']}: {item['reason']}: {item['message']}")
        if len(problems) > _LISTED:
            click.echo(f"  ... and {len(problems) - _LISTED} more (--json lists every file)")
    ctx.exit(ExitCode.FILES_FAILED if data["errors"] else ExitCode.OK)


__all__ = ["ingest_command"]
