"""The ``tessera`` command.

Each command is a thin loop over a library call; output formatting and exit codes
live here and nowhere else. Errors from the library reach the user through
``tessera.cli.exit_codes``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from tessera import __version__
from tessera.app import Settings
from tessera.cli import terminal
from tessera.cli.account_cmds import token_group, user_group
from tessera.cli.audit_cmds import audit_group, node_group
from tessera.cli.case_cmds import case_group
from tessera.cli.catalog_cmds import AGENCY_COMMANDS, SERIES_COMMANDS
from tessera.cli.context import CliContext
from tessera.cli.coop_cmds import (
    baseline_review_group,
    confirm_command,
    delivery_command,
    dispute_command,
    flood_command,
    negative_group,
    notifications_command,
    outbox_command,
    overlap_group,
    quarantine_group,
)
from tessera.cli.db_cmds import (
    agency_group,
    index_group,
    init_command,
    link_command,
    series_group,
    stats_command,
)
from tessera.cli.demo_cmd import demo_command
from tessera.cli.exchange_cmds import export_command, import_command
from tessera.cli.exit_codes import ExitCode, exit_code_for
from tessera.cli.federation_cmds import federation_group, peer_group, sync_command
from tessera.cli.hash_cmd import hash_command
from tessera.cli.ingest_cmd import ingest_command
from tessera.cli.lookup_cmd import lookup_command
from tessera.cli.media_cmds import media_group
from tessera.cli.runs_cmds import ingest_group, runs_command
from tessera.cli.samples_cmd import samples_command
from tessera.cli.serve_cmd import serve_command
from tessera.cli.similar_cmds import marker_group, search_text_command, similar_command
from tessera.cli.triage_cmd import triage_command
from tessera.errors import TesseraError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tessera")
@click.option(
    "--db",
    "db_url",
    envvar="TESSERA_DATABASE_URL",
    help="Database URL (default: sqlite file in --home). Env: TESSERA_DATABASE_URL.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TESSERA_HOME",
    help="Folder for the embedded database and the index (default ./tessera-data).",
)
@click.option(
    "--server",
    envvar="TESSERA_SERVER",
    help="Run against this Tessera server (lookup, triage); token from TESSERA_TOKEN. "
    "Env: TESSERA_SERVER.",
)
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, home: Path | None, server: str | None) -> None:
    """Tessera: has this media been seen before, and by whom?

    Exact (MD5, SHA-1, SHA-256) and perceptual (PDQ) fingerprints for seized media,
    for victim-identification work. Hashes and metadata travel; media never does.
    """
    ctx.obj = CliContext(
        Settings.resolve(db=db_url, home=home),
        server=server or None,
        token=os.environ.get("TESSERA_TOKEN") or None,  # never an argument (ps shows those)
    )


for _command in (
    hash_command,
    samples_command,
    init_command,
    agency_group,
    series_group,
    link_command,
    stats_command,
    index_group,
    ingest_group(ingest_command),
    runs_command,
    lookup_command,
    media_group,
    case_group,
    triage_command,
    similar_command,
    search_text_command,
    marker_group,
    demo_command,
    serve_command,
    user_group,
    token_group,
    audit_group,
    node_group,
    import_command,
    export_command,
    notifications_command,
    overlap_group,
    delivery_command,
    confirm_command,
    dispute_command,
    negative_group,
    quarantine_group,
    peer_group,
    federation_group,
    sync_command,
    flood_command,
    baseline_review_group,
    outbox_command,
):
    cli.add_command(_command)
for _sub in SERIES_COMMANDS:
    series_group.add_command(_sub)
for _sub in AGENCY_COMMANDS:
    agency_group.add_command(_sub)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn Tessera errors into exit codes."""
    terminal.install()  # no name reaches the terminal with its control characters
    os.umask(0o077)  # the database, indexes and reports are the investigator's alone
    try:
        rv = cli.main(args=argv, prog_name="tessera", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except TesseraError as exc:
        click.echo(f"tessera: error: {exc.message} [{exc.reason}]", err=True)
        sys.exit(exit_code_for(exc))
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: say so plainly, keep the traceback on request
        if os.environ.get("TESSERA_DEBUG"):
            raise
        click.echo(
            f"tessera: internal error: {type(exc).__name__}: {exc} "
            "(set TESSERA_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)
    # click returns ctx.exit(code) as the return value when not standalone
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # python -m tessera.cli.main (tests run the CLI this way)
    main()
