"""``tessera notifications``, ``tessera overlap list|mark`` and ``tessera delivery``."""

from __future__ import annotations

import click

from tessera.app import coop
from tessera.cli.context import CliContext, emit, pass_app


@click.command("notifications")
@click.option("--unread", is_flag=True, help="Only notifications not read yet.")
@click.option("--agency", help="Only this agency's (the node's operator sees every agency's).")
@click.option("--mark-read", "mark", type=int, multiple=True, help="Mark this id read (repeat).")
@click.option("--all-read", is_flag=True, help="Mark every notification read.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def notifications_command(
    cli: CliContext,
    unread: bool,
    agency: str | None,
    mark: tuple[int, ...],
    all_read: bool,
    as_json: bool,
) -> None:
    """List notifications (deconfliction hits, overlaps between cases), newest first."""
    if mark or all_read:
        r = coop.mark_read(cli.app, cli.caller, None if all_read else list(mark))
        emit(r, as_json, f"{r.marked} notification(s) marked read")
        return
    rows = coop.list_notifications(cli.app, cli.caller, unread=unread, agency=agency)
    text = "\n".join(
        f"{n.id:>6} {'  ' if n.read else '* '}{n.created_at.isoformat(timespec='seconds')} "
        f"[{n.agency}] {n.title}"
        for n in rows
    )
    emit(rows, as_json, text or "(no notifications)")


@click.group("overlap")
def overlap_group() -> None:
    """Where agencies' work met: hits on another's series, shared new media."""


@overlap_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def overlap_list(cli: CliContext, as_json: bool) -> None:
    """Overlaps (as each side's sharing level shows them), newest first."""
    rows = coop.list_overlaps(cli.app, cli.caller)
    text = "\n".join(
        f"{o.id:>6} {o.kind:<6} {o.via:<7} {o.files:>5} file(s) series={o.series or '-'} "
        f"other={o.other_agency or '-'} marks={o.my_mark or '-'}/{o.other_mark or '-'}"
        for o in rows
    )
    emit(rows, as_json, text or "(no overlaps)")


@overlap_group.command("mark")
@click.argument("overlap_id", type=int)
@click.argument("mark", type=click.Choice(coop.MARKS))
@click.option("--note", help="Why (at most 4000 characters).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def overlap_mark(
    cli: CliContext, overlap_id: int, mark: str, note: str | None, as_json: bool
) -> None:
    """Mark your side of an overlap."""
    r = coop.mark_overlap(cli.app, cli.caller, overlap_id, mark, note)
    emit(r, as_json, f"overlap {r.id} marked {r.my_mark}")


@click.command("delivery")
@click.argument("agency")
@click.option("--webhook-url")
@click.option("--webhook-secret-env", help="Name of the environment variable holding the secret.")
@click.option("--email-to")
@click.option("--smtp-host")
@click.option("--smtp-port", type=click.IntRange(1, 65535))
@click.option("--smtp-from")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def delivery_command(
    cli: CliContext,
    agency: str,
    webhook_url: str | None,
    webhook_secret_env: str | None,
    email_to: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_from: str | None,
    as_json: bool,
) -> None:
    """Set where AGENCY's notifications are also delivered (webhook, e-mail)."""
    import os  # noqa: PLC0415

    secret = os.environ.get(webhook_secret_env) if webhook_secret_env else None
    r = coop.set_delivery(
        cli.app,
        cli.caller,
        agency,
        webhook_url=webhook_url,
        webhook_secret=secret,
        email_to=email_to,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_from=smtp_from,
    )
    emit(
        r,
        as_json,
        f"delivery of {r.agency}: webhook={r.webhook_url or '-'} email={r.email_to or '-'}",
    )


__all__ = ["delivery_command", "notifications_command", "overlap_group"]
