"""``tessera demo``: build a demo database and triage a generated seizure against it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from tessera.app import App, Settings
from tessera.cli.exit_codes import ExitCode
from tessera.cli.triage_cmd import print_summary
from tessera.demo.scenario import AGENCIES, SERIES, write_known, write_seizure
from tessera.ingest.expand import ExpandOptions
from tessera.ingest.filehash import HashOptions
from tessera.ingest.parallel import default_workers
from tessera.ingest.runner import ingest
from tessera.matching.triage import fingerprint_paths, triage
from tessera.report import html as html_report
from tessera.storage import repo

_MARKER = ".tessera-demo"


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
    if folder.exists():
        if not (folder / _MARKER).exists():
            raise click.UsageError(
                f"{folder} exists and is not a Tessera demo folder; choose --dir"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / _MARKER).write_text("created by `tessera demo`; safe to delete\n")
    n = workers or default_workers()
    app = App(Settings.for_home(folder))
    db = app.migrate()
    with app.transaction() as s:
        agencies = {
            code: repo.create_agency(s, code, c, name, contact)
            for code, c, name, contact in AGENCIES
        }
        for name, owner, victim_by, offender_by, _seeds in SERIES:
            series = repo.create_series(s, name, agencies[owner])
            if victim_by:
                repo.set_identified(s, series, "victim", True, by=agencies[victim_by])
            if offender_by:
                repo.set_identified(s, series, "offender", True, by=agencies[offender_by])
    store = app.pdq_store()
    scene = app.scene_store()
    known = write_known(folder / "known")
    click.echo("building the demo database:")
    for name, owner, *_ in SERIES:
        sub = known[name][0].parent
        summary = ingest(
            db,
            store,
            sub,
            agency_code=owner,
            case_number=f"{owner}-2026-001",
            series_name=name,
            options=ExpandOptions(hash=HashOptions(features=True, metadata=True)),
            workers=n,
            scene=scene,
        )
        click.echo(f"  {name} ({owner}): {summary.new_media} pictures")
    seizure = folder / "seizure"
    write_seizure(seizure)
    click.echo(f"\ntriage of {seizure}:")
    options = HashOptions(dihedral=True, features=True, features_mirrored=True, metadata=True)
    files = fingerprint_paths([seizure], ExpandOptions(hash=options), workers=n)
    report = triage(db, store, files, dihedral=True, scene=scene)
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
