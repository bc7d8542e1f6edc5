"""``tessera audit verify|show|checkpoint`` and ``tessera node key``."""

from __future__ import annotations

from typing import TextIO

import click

from tessera.app import audit
from tessera.cli.context import CliContext, emit, pass_app


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail (RFC 9162 Merkle tree, signed checkpoints)."""


@audit_group.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.File("r", encoding="utf-8"),
    help="Also check against a signed checkpoint kept outside this database.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_verify(cli: CliContext, checkpoint_file: TextIO | None, as_json: bool) -> None:
    """Recompute the tree and check every signed checkpoint (exit 1 when tampered with)."""
    trusted = checkpoint_file.read(1 << 20) if checkpoint_file else None
    r = audit.verify(cli.app, cli.caller, trusted=trusted)
    if r.ok:
        text = (
            f"audit trail intact: {r.entries} entries, {r.checkpoints_verified} signed "
            f"checkpoints verified, root {r.root}"
        )
    else:
        text = f"audit trail BROKEN at entry {r.broken_at} ({r.problem}): {r.message}"
    for note in r.notes:
        text += f"\nnote: {note}"
    emit(r, as_json, text)
    if not r.ok:
        click.get_current_context().exit(1)


@audit_group.command("show")
@click.option("--user", "user", help="Only this account's entries (e-mail).")
@click.option("--series", help="Only entries about this series.")
@click.option("--since", help="Only entries at or after this date (YYYY-MM-DD) or time.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_show(
    cli: CliContext,
    user: str | None,
    series: str | None,
    since: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List audit entries, oldest first."""
    rows = audit.show(
        cli.app,
        cli.caller,
        user=user,
        series=series,
        since=audit.parse_since(since) if since else None,
        limit=limit,
    )
    text = "\n".join(
        f"{e.seq:>7} {e.at.isoformat(timespec='seconds')} {e.user} "
        f"[{e.agency or '-'}/{e.role}] {e.action} {e.target or ''}"
        f"{'' if e.result_count is None else f' -> {e.result_count}'}"
        for e in rows
    )
    emit(rows, as_json, text or "(no entries)")


@audit_group.command("checkpoint")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_checkpoint(cli: CliContext, as_json: bool) -> None:
    """Print the newest signed checkpoint (C2SP signed note) to keep or publish."""
    cp = audit.latest_checkpoint(cli.app, cli.caller)
    emit(cp, as_json, cp.note.rstrip("\n"))


@click.group("node")
def node_group() -> None:
    """This node's identity."""


@node_group.command("key")
@pass_app
def node_key(cli: CliContext) -> None:
    """Print this node's public verifier key (name+id+Ed25519 key)."""
    click.echo(audit.node_verifier_text(cli.app))


__all__ = ["audit_group", "node_group"]
