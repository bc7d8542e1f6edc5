"""``tessera peer add|list|remove``, ``tessera federation status|key``, ``tessera sync``."""

from __future__ import annotations

from pathlib import Path

import click

from tessera.app.federation import air_gap
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import peers as fed_peers
from tessera.app.federation import pull as fed_pull
from tessera.app.federation import status as fed_status
from tessera.cli.context import CliContext, emit, pass_app
from tessera.client.federation import sync as run_sync
from tessera.errors import UnreadableFile


@click.group("peer")
def peer_group() -> None:
    """Hubs and nodes this node exchanges with (federation)."""


@peer_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--key", "key", required=True, help="The peer's verifier key (tessera federation key)."
)
@click.option(
    "--country",
    default=None,
    help="On a hub: the country (ISO code) this node serves; series shared with it reach it.",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help="On a hub: an agency code this node serves (repeatable).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def peer_add(
    cli: CliContext,
    name: str,
    url: str,
    key: str,
    country: str | None,
    agencies: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register peer NAME at URL with its Ed25519 verifier key."""
    p = fed_peers.add_peer(cli.app, cli.caller, name, url, key, country=country, agencies=agencies)
    emit(p, as_json, f"peer {p.name} added: {p.url} key {p.origin}")


@peer_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def peer_list(cli: CliContext, as_json: bool) -> None:
    """List peers with their last accepted checkpoint and feed position."""
    peers = fed_peers.list_peers(cli.app, cli.caller)
    text = "\n".join(
        f"{p.name}\t{p.url or '-'}\t{p.origin}\tcheckpoint {p.checkpoint_size}\t"
        f"feed {p.feed_after}\tlast delta {p.last_delta}"
        for p in peers
    )
    emit(list(peers), as_json, text or "(no peers)")


@peer_group.command("remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def peer_remove(cli: CliContext, name: str, as_json: bool) -> None:
    """Forget peer NAME (what it sent stays until revoked)."""
    p = fed_peers.remove_peer(cli.app, cli.caller, name)
    emit(p, as_json, f"peer {p.name} removed")


@click.group("federation")
def federation_group() -> None:
    """This node in the federation: its key and what is pending."""


@federation_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def federation_status(cli: CliContext, as_json: bool) -> None:
    """What is pending, the last checkpoints, what is shared and received."""
    st = fed_status.status(cli.app, cli.caller)
    lines = [
        f"node {st.node}",
        f"key {st.key}",
        f"pending: {st.pending_deltas} signed deltas ({st.pending_records} records) "
        f"and {st.unsent_changes} changes and {st.unsent_notices} notices not yet prepared",
        f"shared: {st.shared_records} records",
        "received: "
        + (", ".join(f"{o} {n}" for o, n in sorted(st.received_records.items())) or "nothing"),
    ]
    if st.hub_log_size:
        lines.append(f"hub log: {st.hub_log_size} deltas")
    for p in st.peers:
        lines.append(
            f"peer {p.name}: checkpoint {p.checkpoint_size}, feed {p.feed_after}, "
            f"last delta {p.last_delta}, synced {p.synced_at or 'never'}"
        )
    emit(st, as_json, "\n".join(lines))


@federation_group.command("key")
@pass_app
def federation_key(cli: CliContext) -> None:
    """Print this node's verifier key (give it to peers: tessera peer add ... --key)."""
    click.echo(fed_peers.signer_of(cli.app).verifier.text())


@click.command("sync")
@click.option("--peer", "peer", help="The hub to sync with (default: the only peer with a URL).")
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Air-gapped: write the signed deltas (on a hub: the feed for --peer) to FILE.",
)
@click.option(
    "--import",
    "import_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Air-gapped: apply a file of signed deltas (hub) or feed pages (node).",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 200_000),
    default=50_000,
    show_default=True,
    help="Records per feed page pulled (each page is applied and committed on its own).",
)
@click.option(
    "--delta-size",
    type=click.IntRange(1, 20_000),
    default=20_000,
    show_default=True,
    help="Records per signed delta pushed (each is accepted or rejected whole).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def sync_command(
    cli: CliContext,
    peer: str | None,
    export_file: Path | None,
    import_file: Path | None,
    page_size: int,
    delta_size: int,
    as_json: bool,
) -> None:
    """Push this node's changes to the hub and pull what others share."""
    if export_file and import_file:
        raise click.UsageError("give --export or --import, not both")
    if import_file is not None:
        try:
            data = import_file.read_bytes()
        except OSError as exc:
            raise UnreadableFile.from_os_error(exc) from None
        results = air_gap.import_bundles(cli.app, cli.caller, data, peer)
        text = "\n".join(
            f"{import_file}: "
            + (
                f"delta {r.delta_no} of {r.origin} {r.status} at log entry {r.seq}"
                if isinstance(r, fed_hub.DeltaAccepted)
                else f"feed entries {r.after}..{r.end}: {r.applied} of {r.records} applied"
                if isinstance(r, fed_pull.FeedApplied)
                else str(r)
            )
            for r in results
        )
        emit({"path": str(import_file), "status": "imported", "bundles": results}, as_json, text)
        return
    if export_file is not None:
        exported = air_gap.export_bundles(cli.app, cli.caller, peer)
        export_file.write_bytes(exported.data)
        emit(
            {"path": str(export_file), "status": "exported", **exported.summary()},
            as_json,
            f"{export_file}: {exported.bundles} signed {exported.kind} bundles, "
            f"{exported.records} records",
        )
        return
    report = run_sync(cli.app, cli.caller, peer, page_size=page_size, delta_size=delta_size)
    emit(
        report,
        as_json,
        f"synced with {report.peer} ({report.url}): checkpoint {report.checkpoint_size}, "
        f"pushed {report.pushed_deltas} deltas ({report.pushed_records} records), "
        f"pulled {report.pages} pages ({report.applied} of {report.received} records new)",
    )


__all__ = ["federation_group", "peer_group", "sync_command"]
