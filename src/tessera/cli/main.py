"""The ``tessera`` command.

Each command is a thin loop over a library call; output formatting and exit codes
live here and nowhere else. Errors from the library reach the user through
``tessera.cli.exit_codes``.
"""

from __future__ import annotations

import sys

import click

from tessera import __version__
from tessera.cli.exit_codes import ExitCode, exit_code_for
from tessera.cli.hash_cmd import hash_command
from tessera.cli.samples_cmd import samples_command
from tessera.errors import TesseraError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tessera")
def cli() -> None:
    """Tessera: has this media been seen before, and by whom?

    Exact (MD5, SHA-1, SHA-256) and perceptual (PDQ) fingerprints for seized media,
    for victim-identification work. Hashes and metadata travel; media never does.
    """


cli.add_command(hash_command)
cli.add_command(samples_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn Tessera errors into exit codes."""
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
    # click returns ctx.exit(code) as the return value when not standalone
    sys.exit(rv if isinstance(rv, int) else 0)
