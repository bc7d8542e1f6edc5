"""``tessera notifications``, ``tessera overlap list|mark`` and ``tessera delivery``."""

from __future__ import annotations

import click

from tessera.app import Caller, Role, coop, delivery, trust
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
        f"[{n.agency}{' you' if n.user else ''}] {n.title}"
        + (
            f" (x{n.count}, last {n.updated_at.isoformat(timespec='seconds')})"
            if n.updated_at
            else ""
        )
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


@click.command("confirm")
@click.argument("media_id", type=int)
@click.option("--agency", help="Act for this agency (the node's operator has none).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def confirm_command(cli: CliContext, media_id: int, agency: str | None, as_json: bool) -> None:
    """Confirm a media item's classification for your agency."""
    r = trust.judge(cli.app, _as(cli, agency), media_id, "confirm")
    emit(r, as_json, _counts(r))


@click.command("dispute")
@click.argument("media_id", type=int)
@click.option("--reason", required=True, type=click.Choice(trust.DISPUTE_REASONS))
@click.option("--note")
@click.option("--agency", help="Act for this agency (the node's operator has none).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def dispute_command(
    cli: CliContext,
    media_id: int,
    reason: str,
    note: str | None,
    agency: str | None,
    as_json: bool,
) -> None:
    """Dispute a media item's classification (not-abuse, adult, wrong-series, ...)."""
    r = trust.judge(cli.app, _as(cli, agency), media_id, "dispute", reason=reason, note=note)
    emit(r, as_json, _counts(r))


def _as(cli: CliContext, agency: str | None) -> Caller:
    """The operator at the node's command line acting for one agency (its curator)."""
    if agency is None:
        return cli.caller
    return Caller(role=Role.CURATOR, agency_code=agency, request_id=cli.caller.request_id)


@click.command("outbox")
@click.option("--run", "run_now", is_flag=True, help="Deliver what is due now first.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def outbox_command(cli: CliContext, run_now: bool, as_json: bool) -> None:
    """Deliveries (webhook, e-mail) still owed or given up; --run delivers the due ones."""
    if run_now:
        r = delivery.run_due(cli.app)
        if not as_json:
            click.echo(f"delivered {r.delivered}, retrying later {r.retrying}, failed {r.failed}")
    rows = delivery.list_outbox(cli.app, cli.caller)
    text = "\n".join(
        f"{o.id:>6} notification {o.notification_id} {o.channel:<7} {o.state:<7} "
        f"tries {o.attempts} next {o.next_at.isoformat(timespec='seconds')} {o.last_error or ''}"
        for o in rows
    )
    emit(rows, as_json, text or "(nothing owed)")


@click.group("baseline-review")
def baseline_review_group() -> None:
    """Baseline items flagged for review (disputed by an agency)."""


@baseline_review_group.command("list")
@click.option("--all", "all_", is_flag=True, help="Resolved ones too.")
@click.option("--agency", help="Act for this agency (the node's operator sees every one).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def baseline_review_list(cli: CliContext, all_: bool, agency: str | None, as_json: bool) -> None:
    rows = trust.list_reviews(cli.app, _as(cli, agency), open_only=not all_)
    text = "\n".join(
        f"{r.id:>6} {r.series} media {r.media_id or '-'}: {r.reason}"
        + (f" (resolved by {r.resolved_by})" if r.resolved_by else "")
        for r in rows
    )
    emit(rows, as_json, text or "(nothing to review)")


@baseline_review_group.command("resolve")
@click.argument("review_id", type=int)
@click.option("--drop-baseline", is_flag=True, help="Also take the series off Baseline.")
@click.option("--agency", help="Act for this agency (its curator).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def baseline_review_resolve(
    cli: CliContext, review_id: int, drop_baseline: bool, agency: str | None, as_json: bool
) -> None:
    r = trust.resolve_review(cli.app, _as(cli, agency), review_id, drop_baseline=drop_baseline)
    emit(
        r, as_json, f"review {r.id} resolved" + (" (series off Baseline)" if drop_baseline else "")
    )


@click.command("flood")
@click.option("--files", type=click.IntRange(min=1), help="More than N distinct files...")
@click.option("--agencies", type=click.IntRange(min=1), help="... from at least N agencies...")
@click.option("--window-hours", type=click.FloatRange(min=0, min_open=True), help="... within H h.")
@click.option(
    "--triage-share", type=click.FloatRange(0, 1, min_open=True), help="Or > this share of a triage"
)
@click.option("--triage-min", type=click.IntRange(min=1), help="... and at least N of its files.")
@click.option(
    "--reset",
    "reset",
    multiple=True,
    type=click.Choice(trust.FLOOD_KEYS),
    help="Return this value to the deployment's setting (repeat).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def flood_command(
    cli: CliContext,
    files: int | None,
    agencies: int | None,
    window_hours: float | None,
    triage_share: float | None,
    triage_min: int | None,
    reset: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the flood guard's thresholds; with options, set them for the network."""
    given = {
        "files": files,
        "agencies": agencies,
        "window_hours": window_hours,
        "triage_share": triage_share,
        "triage_min": triage_min,
    }
    values: dict[str, float | None] = {k: v for k, v in given.items() if v is not None}
    values.update(dict.fromkeys(reset))
    if values:
        r = trust.set_flood_rule(cli.app, cli.caller, values)
    else:
        r = trust.get_flood_rule(cli.app, cli.caller)
    emit(
        r,
        as_json,
        f"quarantine when > {r.files} distinct files from >= {r.agencies} agencies within "
        f"{r.window_hours:g} h, or > {r.triage_share:.1%} of one triage's files (at least "
        f"{r.triage_min}); set for the network: {', '.join(r.overridden) or 'none'}",
    )


def _counts(r: trust.VerdictView) -> str:
    c = r.counts
    return (
        f"media {r.media_id}: {r.verdict} recorded; confirmed by {c.confirmed_agencies} agencies "
        f"in {c.confirmed_countries} countries, disputed by {c.disputed_agencies}"
    )


@click.group("negative")
def negative_group() -> None:
    """Negative lists: hashes that must never match (logos, stock photos, blank frames)."""


@negative_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def negative_list(cli: CliContext, as_json: bool) -> None:
    rows = trust.list_negatives(cli.app, cli.caller)
    text = "\n".join(
        f"{e.id:>6} {e.scope:<7} {e.agency or '-':<10} {e.kind:<6} {e.hash}  {e.reason}"
        for e in rows
    )
    emit(rows, as_json, text or "(no entries)")


@negative_group.command("add")
@click.argument("kind", type=click.Choice(sorted(trust.NEGATIVE_KINDS)))
@click.argument("hash_hex")
@click.option("--reason", required=True)
@click.option("--agency", help="The agency's list (default: the network's).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def negative_add(
    cli: CliContext, kind: str, hash_hex: str, reason: str, agency: str | None, as_json: bool
) -> None:
    """Add HASH_HEX of KIND to the network's list (or --agency's)."""
    e = trust.add_negative(
        cli.app, _as(cli, agency), kind, hash_hex, reason, network=agency is None
    )
    emit(e, as_json, f"added entry {e.id} to the {e.agency or 'network'} list")


@negative_group.command("remove")
@click.argument("entry_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def negative_remove(cli: CliContext, entry_id: int, as_json: bool) -> None:
    e = trust.remove_negative(cli.app, cli.caller, entry_id)
    emit(e, as_json, f"removed entry {e.id}")


@click.group("quarantine")
def quarantine_group() -> None:
    """Hashes quarantined by the flood guard."""


@quarantine_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def quarantine_list(cli: CliContext, as_json: bool) -> None:
    rows = trust.list_quarantine(cli.app, cli.caller)
    text = "\n".join(f"media {q.media_id} since {q.since.isoformat()}: {q.reason}" for q in rows)
    emit(rows, as_json, text or "(nothing quarantined)")


@quarantine_group.command("release")
@click.argument("media_id", type=int)
@click.option("--negative", "negative_reason", help="Negative-list it instead, with this reason.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def quarantine_release(
    cli: CliContext, media_id: int, negative_reason: str | None, as_json: bool
) -> None:
    q = trust.release(cli.app, cli.caller, media_id, negative_reason=negative_reason)
    emit(q, as_json, f"media {q.media_id} released")


__all__ = [
    "baseline_review_group",
    "confirm_command",
    "delivery_command",
    "dispute_command",
    "flood_command",
    "negative_group",
    "notifications_command",
    "outbox_command",
    "overlap_group",
    "quarantine_group",
]
