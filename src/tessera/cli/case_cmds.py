"""``tessera case show|edit|list``."""

from __future__ import annotations

import click

from tessera.app import cases
from tessera.app.cases import CaseSummary
from tessera.cli.context import CliContext, emit, pass_app


def _text(c: CaseSummary) -> str:
    runs = ", ".join(map(str, c.runs)) or "none"
    return (
        f"{c.agency_code:12s} {c.number:20s} sightings={c.sightings:<6d} media={c.media:<6d} "
        f"runs={runs}  {c.title or ''}"
    )


@click.group("case")
def case_group() -> None:
    """Cases: an agency's investigations; sightings belong to a case."""


@case_group.command("show")
@click.argument("number")
@click.option("--agency", "agency_code", help="The case's agency (when several use NUMBER).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def case_show(cli: CliContext, number: str, agency_code: str | None, as_json: bool) -> None:
    """Show case NUMBER with its counts and ingest runs."""
    c = cases.show(cli.app, cli.caller, number, agency=agency_code)
    emit(c, as_json, _text(c))


@case_group.command("list")
@click.option("--agency", "agency_code", help="Only this agency's cases.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def case_list(cli: CliContext, agency_code: str | None, as_json: bool) -> None:
    """List cases with their counts."""
    rows = cases.list_cases(cli.app, cli.caller, agency=agency_code)
    emit(rows, as_json, "\n".join(_text(c) for c in rows) or "(no cases)")


@case_group.command("edit")
@click.argument("number")
@click.option("--agency", "agency_code", help="The case's agency (when several use NUMBER).")
@click.option("--title", help="New title ('' clears it).")
@click.option("--number", "new_number", help="New case number (unique within the agency).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def case_edit(
    cli: CliContext,
    number: str,
    agency_code: str | None,
    title: str | None,
    new_number: str | None,
    as_json: bool,
) -> None:
    """Change the title or number of case NUMBER."""
    c = cases.edit(
        cli.app, cli.caller, number, agency=agency_code, title=title, new_number=new_number
    )
    emit(c, as_json, "case updated: " + _text(c))
