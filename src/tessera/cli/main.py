"""The ``tessera`` command.

Each command is a thin loop over a library call; output formatting and exit codes
live here and nowhere else. Errors from the library reach the user through
``tessera.cli.exit_codes``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from tessera import __version__
from tessera.app.settings import Settings
from tessera.cli import terminal
from tessera.cli.context import CliContext
from tessera.cli.exit_codes import ExitCode, exit_code_for
from tessera.errors import TesseraError

# Every command, by name: (module, attribute). A command's module (and what it imports:
# the use cases, numpy, faiss, OpenCV...) loads only when that command runs, so each
# invocation pays for its own command alone (click's documented lazy-loading pattern);
# ``tessera --help`` loads them all to show their help.
_COMMANDS: dict[str, tuple[str, str]] = {
    "hash": ("tessera.cli.hash_cmd", "hash_command"),
    "samples": ("tessera.cli.samples_cmd", "samples_command"),
    "init": ("tessera.cli.db_cmds", "init_command"),
    "agency": ("tessera.cli.db_cmds", "agency_group"),
    "series": ("tessera.cli.db_cmds", "series_group"),
    "link": ("tessera.cli.db_cmds", "link_command"),
    "stats": ("tessera.cli.db_cmds", "stats_command"),
    "index": ("tessera.cli.db_cmds", "index_group"),
    "ingest": ("tessera.cli.ingest_cmd", "ingest_command"),
    "runs": ("tessera.cli.runs_cmds", "runs_command"),
    "lookup": ("tessera.cli.lookup_cmd", "lookup_command"),
    "media": ("tessera.cli.media_cmds", "media_group"),
    "case": ("tessera.cli.case_cmds", "case_group"),
    "triage": ("tessera.cli.triage_cmd", "triage_command"),
    "similar": ("tessera.cli.similar_cmds", "similar_command"),
    "search-text": ("tessera.cli.similar_cmds", "search_text_command"),
    "marker": ("tessera.cli.similar_cmds", "marker_group"),
    "demo": ("tessera.cli.demo_cmd", "demo_command"),
    "serve": ("tessera.cli.serve_cmd", "serve_command"),
    "user": ("tessera.cli.account_cmds", "user_group"),
    "token": ("tessera.cli.account_cmds", "token_group"),
    "audit": ("tessera.cli.audit_cmds", "audit_group"),
    "node": ("tessera.cli.audit_cmds", "node_group"),
    "import": ("tessera.cli.exchange_cmds", "import_command"),
    "export": ("tessera.cli.exchange_cmds", "export_command"),
    "notifications": ("tessera.cli.coop_cmds", "notifications_command"),
    "overlap": ("tessera.cli.coop_cmds", "overlap_group"),
    "delivery": ("tessera.cli.coop_cmds", "delivery_command"),
    "confirm": ("tessera.cli.coop_cmds", "confirm_command"),
    "dispute": ("tessera.cli.coop_cmds", "dispute_command"),
    "negative": ("tessera.cli.coop_cmds", "negative_group"),
    "quarantine": ("tessera.cli.coop_cmds", "quarantine_group"),
    "peer": ("tessera.cli.federation_cmds", "peer_group"),
    "federation": ("tessera.cli.federation_cmds", "federation_group"),
    "sync": ("tessera.cli.federation_cmds", "sync_command"),
    "flood": ("tessera.cli.coop_cmds", "flood_command"),
    "baseline-review": ("tessera.cli.coop_cmds", "baseline_review_group"),
    "outbox": ("tessera.cli.coop_cmds", "outbox_command"),
}


def _load(name: str) -> click.Command:
    """Import the command ``name`` (and wire its subcommands that live elsewhere)."""
    module, attr = _COMMANDS[name]
    command = getattr(importlib.import_module(module), attr)
    if name == "ingest":  # ``tessera ingest PATH`` beside ``tessera ingest undo``
        from tessera.cli.runs_cmds import ingest_group  # noqa: PLC0415

        command = ingest_group(command)
    elif name in ("series", "agency"):
        from tessera.cli import catalog_cmds  # noqa: PLC0415

        subs = catalog_cmds.SERIES_COMMANDS if name == "series" else catalog_cmds.AGENCY_COMMANDS
        for sub in subs:
            command.add_command(sub)
    assert isinstance(command, click.Command), (name, command)
    return command


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (``_COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            self.add_command(_load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx.call_on_close(ctx.obj.close)  # its connections closed when the command ends


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
