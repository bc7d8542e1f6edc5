"""``tessera demo``: build a demo database and triage a generated seizure against it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tessera.app import App, Caller, demo, triage
from tessera.cli.exit_codes import ExitCode
from tessera.cli.triage_cmd import print_summary
from tessera.errors import InvalidInput
from tessera.report import html as html_report


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tessera-demo"),
    show_default=True,
    help="Where to build the demo (recreated on each run).",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.pass_context
def demo_command(ctx: click.Context, folder: Path, workers: int | None) -> None:
    """Build a demo database of generated pictures, then triage a generated seizure.

    Writes FOLDER/report.html (thumbnails blurred) and FOLDER/triage.json.
    """
    try:
        settings = demo.prepare(folder)
    except InvalidInput as exc:
        raise click.UsageError(exc.message) from None
    app, caller = App(settings), Caller.local_operator()
    click.echo("building the demo database:")
    built = demo.build(app, caller, workers=workers)
    for x in built.series:
        click.echo(f"  {x.name} ({x.owner}): {x.pictures} pictures")
    seizure = built.seizure
    click.echo(f"\ntriage of {seizure}:")
    report = triage.run(app, caller, [seizure], dihedral=True, scenes=True, workers=workers)
    print_summary(report)
    for it in report.items:
        detail = ""
        if it.matches:
            m = it.matches[0]
            how = m.detail.get("reason", "") if m.via == "local-features" else f"d={m.distance}"
            detail = f"{m.via} {how} {', '.join(m.series)}"
        elif it.status == "error":
            detail = f"{it.file.reason}"
        elif it.group is not None:
            detail = f"group {it.group}"
        click.echo(f"  {it.status:7s} {Path(it.path).relative_to(seizure)}  {detail}")
    (folder / "triage.json").write_text(json.dumps(report.to_json(), indent=1, default=str))
    html_report.write(report, folder / "report.html", thumbnails="blurred")
    click.echo(f"\nreport: {folder / 'report.html'}  json: {folder / 'triage.json'}")
    ctx.exit(ExitCode.OK)
