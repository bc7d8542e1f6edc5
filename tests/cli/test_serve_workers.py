"""``tessera serve --workers 2``: a listening socket per worker, connections spread
over both, and a killed worker's socket gone with it (no connection left waiting on a
socket nobody accepts on). Sockets are read from /proc (Linux), not asked of the server."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.serving import Server, free_port
from tests.api.serving import tessera as _tessera

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

LISTEN, ESTABLISHED = "0A", "01"


def _tcp_states(port: int) -> dict[int, str]:
    """socket inode -> TCP state of the IPv4 sockets whose local port is ``port``."""
    out: dict[int, str] = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            out[int(f[9])] = f[3]
    return out


def _sockets(pid: int, port: int) -> list[str]:
    """States of the TCP sockets on ``port`` that process ``pid`` holds."""
    states = _tcp_states(port)
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = int(target[8:-1])
            if inode in states:
                held.append(states[inode])
    return held


def _workers(server: Server) -> list[int]:
    """The processes listening on the server's port (its workers)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != server.proc.pid:
            try:
                if os.getsid(int(p.name)) == server.proc.pid and LISTEN in _sockets(
                    int(p.name), server.port
                ):
                    pids.append(int(p.name))
            except (OSError, FileNotFoundError):
                continue
    return sorted(pids)


def _wait_workers(server: Server, n: int, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _workers(server)
        if len(pids) == n:
            return pids
        time.sleep(0.2)
    pytest.fail(f"{n} listening workers not seen within {timeout:.0f} s: {server.output()}")


def _get_status(port: int) -> socket.socket:
    """A keep-alive connection that has had one answer (so a worker accepted it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    return s


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "TESSERA_HOME": str(tmp_path / "home")}
    env.pop("TESSERA_DATABASE_URL", None)
    assert _tessera("init", env=env).returncode == 0
    server = Server(env, workers=2)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_each_worker_listens_on_its_own_socket_and_both_get_connections(served: Server) -> None:
    workers = _wait_workers(served, 2)
    # the supervisor keeps no socket on the port: a dead worker's goes with it
    assert _sockets(served.proc.pid, served.port) == []
    conns = [_get_status(served.port) for _ in range(24)]
    try:
        held = {pid: _sockets(pid, served.port).count(ESTABLISHED) for pid in workers}
        assert sum(held.values()) == 24
        # spread by address hash: all 24 on one worker has probability 2 ** -23
        assert min(held.values()) >= 1, held
    finally:
        for c in conns:
            c.close()


def test_a_killed_workers_place_is_taken_and_no_connection_hangs(served: Server) -> None:
    first, second = _wait_workers(served, 2)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # uvicorn's supervisor starts a replacement
        now = _workers(served)
        if len(now) == 2 and first not in now:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no replacement worker: {served.output()}")
    assert second in now
    # every new connection is answered: none lands on a socket nobody accepts on
    with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        for _ in range(40):
            assert client.get(f"{served.base}/status").status_code == 200
    assert _sockets(served.proc.pid, served.port) == []


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "TESSERA_HOME": str(tmp_path / "home")}
    env.pop("TESSERA_DATABASE_URL", None)
    assert _tessera("init", env=env).returncode == 0
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        r = _tessera("serve", "--port", str(port), "--workers", "2", env=env)
    assert r.returncode == 3, r.stderr  # ConfigError
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr
