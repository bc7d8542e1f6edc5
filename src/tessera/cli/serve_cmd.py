"""``tessera serve``: the network service (REST API, HMA-compatible routes, web UI).

One process (``--workers 1``) serves requests and keeps the saved PDQ index up
to date itself. With ``--workers N`` N worker processes only read (each maps the
saved index and follows the database), each on a listening socket of its own
(``serve_workers``), and this parent process is the single index writer. Loopback
by default: put the node behind a TLS-terminating proxy before giving it any other
address.
"""

from __future__ import annotations

import ipaddress
import os

import click

from tessera.app import sharing
from tessera.app.federation import peers
from tessera.cli.context import CliContext, pass_app

WORKER_HEALTHCHECK_S = 60
KEEP_ALIVE_S = 75
"""Seconds an idle keep-alive connection stays open (uvicorn's default is 5): longer than
clients' and load balancers' idle timeouts (60 s is common), so the server does not close
a connection in the instant a client reuses it, which the client sees as a ReadError
(3 in 1,765 requests of 50 clients on a loaded machine, where a connection can sit idle
for seconds between a starved client's requests)."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each reads the shared, memory-mapped index).",
)
@click.option(
    "--hub",
    is_flag=True,
    help="Also run as a federation hub: accept nodes' signed deltas (/api/v1/federation).",
)
@pass_app
def serve_command(cli: CliContext, host: str, port: int, workers: int, hub: bool) -> None:
    """Serve the web UI (/), the REST API (/api/v1), HMA-compatible routes and /status.

    Every route but GET /status needs `Authorization: Bearer TOKEN`
    (`tessera token create`). OpenAPI at /openapi.json.
    """
    import uvicorn  # noqa: PLC0415 (only this command needs the server)

    from tessera.cli.serve_workers import ReusePortSupervisor  # noqa: PLC0415
    from tessera.matching.index_keeper import IndexKeeper  # noqa: PLC0415
    from tessera.web import create_app  # noqa: PLC0415 (API + web UI)

    settings = cli.settings
    _db = cli.app.db  # ConfigError (exit 3) unless initialised and current
    if not _loopback(host):
        click.echo(
            f"tessera serve: listening on {host}, not loopback: serve it only behind TLS",
            err=True,
        )
    if hub:
        peers.signer_of(cli.app)  # ConfigError (exit 3) without a node key
    rls = sharing.row_security(cli.app, cli.caller)
    if rls.dialect == "postgresql" and not rls.enforced:
        click.echo(
            "tessera serve: PostgreSQL row-level security is NOT enforced for this connection ("
            + "; ".join(rls.reasons)
            + "): sharing rules rest on the application alone. Connect as a role that "
            "neither owns the tables nor has BYPASSRLS (see README, Sharing rules)",
            err=True,
        )
    click.echo(
        f"tessera serve: http://{host}:{port} ({settings.safe_database_url}, "
        f"{workers} worker{'s' if workers > 1 else ''}{', federation hub' if hub else ''})",
        err=True,
    )
    if workers == 1:
        uvicorn.run(
            create_app(settings, hub=hub),
            host=host,
            port=port,
            log_level="info",
            access_log=False,  # the audit trail records every call; a log line each costs
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        return
    keeper = IndexKeeper(cli.app.index_db, settings.index_dir)
    keeper.start()  # the one writer: builds or catches the index up before workers start
    os.environ["TESSERA_HOME"] = str(settings.home.resolve())
    os.environ["TESSERA_DATABASE_URL"] = settings.database_url
    os.environ["TESSERA_SERVE_INDEX_WRITER"] = "0"
    os.environ["TESSERA_SERVE_HUB"] = "1" if hub else "0"
    config = uvicorn.Config(
        "tessera.web.factory:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        # a worker imports NumPy, OpenCV, FAISS... before it can answer the
        # supervisor's ping; on a busy machine that takes longer than uvicorn's 5 s
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
    try:
        # uvicorn's supervision, one listening socket a worker (serve_workers)
        ReusePortSupervisor(config).run()
    except KeyboardInterrupt:
        pass
    finally:
        keeper.stop()


__all__ = ["serve_command"]
