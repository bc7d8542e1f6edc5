"""``tessera runs`` and ``tessera ingest undo RUN_ID``.

``ingest`` stays ``tessera ingest PATH ...``; ``IngestGroup`` sends a first
argument that names no subcommand (a path) to the ingest itself, so ``undo`` can
live beside it. A folder literally named ``undo`` is given as ``./undo``.
"""

from __future__ import annotations

import click

from tessera.app import runs
from tessera.cli.context import CliContext, emit, pass_app


class IngestGroup(click.Group):
    """``tessera ingest PATH ...`` (the ``run`` subcommand) or ``tessera ingest undo ID``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        help_names = set(ctx.help_option_names)
        if args and args[0] not in self.commands and args[0] not in help_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def ingest_group(run_command: click.Command) -> click.Group:
    """The ``ingest`` group: ``run_command`` as the default, ``undo`` beside it."""
    group = IngestGroup(
        "ingest",
        help="Ingest PATH into the database (`tessera ingest PATH --agency CODE --case "
        "NUMBER`, options: `tessera ingest run --help`), or undo a run "
        "(`tessera ingest undo RUN_ID`).",
        no_args_is_help=True,
    )
    group.add_command(run_command, "run")
    group.add_command(ingest_undo)
    return group


@click.command("undo")
@click.argument("run_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def ingest_undo(cli: CliContext, run_id: int, as_json: bool) -> None:
    """Remove what ingest run RUN_ID added, and nothing else (soft: recorded, restorable)."""
    r = runs.undo(cli.app, cli.caller, run_id)
    text = (
        f"run {r.run_id} undone by {r.undone_by}: {r.sightings_removed} sightings, "
        f"{len(r.media_removed)} media removed ({r.index_entries_removed} index entries)"
    )
    emit(r, as_json, text)


@click.command("runs")
@click.option("--limit", type=int, help="Only the newest N runs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def runs_command(cli: CliContext, limit: int | None, as_json: bool) -> None:
    """Ingest runs, newest first, with their counts."""
    rows = runs.list_runs(cli.app, cli.caller, limit=limit)
    lines = []
    for r in rows:
        c = r.counts
        lines.append(
            f"{r.id:>5d}  {r.state:10s} {r.agency_code:10s} case {r.case_number:14s} "
            f"files={c['files']} new={c['new']} known={c['known']} errors={c['error']} "
            f"skipped={c['skipped']} sightings={c['sightings']}  {r.root}"
        )
    emit(rows, as_json, "\n".join(lines) or "(no ingest runs)")
