"""``tessera serve --workers N``: one listening socket a worker (``SO_REUSEPORT``).

uvicorn's supervisor binds one socket and every worker accepts on it; the kernel then
hands a burst of new connections to whichever worker wakes first, and keep-alive
clients stay where they landed: measured at 10M with 16 connections, often 16 / 0
between 2 workers, and one worker's threads serving all 16 cost 2.3-2.4 ms of CPU a
near-copy lookup against 1.0 when shared (the GIL), half the throughput. With a socket
of its own per worker, all bound with ``SO_REUSEPORT`` to the same address, the kernel
spreads connections over the workers by their address hash.

The supervision itself (health checks, restarting a dead worker, signals) stays
uvicorn's: :class:`ReusePortSupervisor` only gives each worker process it starts a
fresh socket, bound here (so a busy port fails at start, in this process) and put to
listening by the worker. This process closes its copy once the worker has it, so when
a worker dies its socket and the connections queued on it go with it (clients see a
reset and reconnect) instead of queueing behind a socket nobody accepts on; its
replacement joins with a new socket. Linux only lets sockets of the same user join a
port's group.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config
from uvicorn.supervisors.multiprocess import Multiprocess

from tessera.errors import ConfigError


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class ReusePortSupervisor(Multiprocess):
    """uvicorn's ``Multiprocess`` where every worker it starts gets its own socket."""

    def __init__(self, config: Config) -> None:
        self._handed: list[socket.socket] = []
        try:
            self._first: socket.socket | None = reuseport_socket(config.host, config.port)
        except OSError as exc:  # the port is taken (or the address is not ours)
            raise ConfigError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
            ) from exc
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """Read once for each worker process uvicorn creates (start, restart, more
        workers): a new socket each time, the first one bound in ``__init__``."""
        sock, self._first = self._first, None
        fresh = sock if sock is not None else reuseport_socket(self.config.host, self.config.port)
        self._handed.append(fresh)
        return [fresh]

    @sockets.setter
    def sockets(self, _value: Any) -> None:
        pass  # uvicorn's ``__init__`` stores the shared list; there is none

    def _close_handed(self) -> None:
        """Close this process's copy of the sockets handed out: uvicorn starts each
        worker right after creating it, and a spawned child receives its descriptors
        as it is started (``Process.start`` returns after), so the workers hold them."""
        for s in self._handed:
            s.close()
        self._handed = []

    def init_processes(self) -> None:
        super().init_processes()
        self._close_handed()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._close_handed()

    def restart_all(self) -> None:
        super().restart_all()
        self._close_handed()

    def handle_ttin(self) -> None:
        super().handle_ttin()
        self._close_handed()


__all__ = ["ReusePortSupervisor", "reuseport_socket"]
