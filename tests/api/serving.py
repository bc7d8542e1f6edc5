"""A real ``tessera serve`` subprocess on 127.0.0.1, for tests that need sockets,
several workers or a crash: start it, wait until it answers, stop or kill it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tessera(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``tessera`` command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "tessera.cli.main", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Server:
    """``tessera serve`` in its own process group (its workers die with it)."""

    def __init__(self, env: Mapping[str, str], *, workers: int = 1, port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--workers", str(workers)]
        # a pipe nobody reads would fill and block the server: a file instead
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop/kill)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tessera.cli.main", *args],
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 120) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"tessera serve exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.base}/status", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        pytest.fail(f"tessera serve did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after 20 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap()

    def kill(self) -> None:
        """``kill -9`` of the server and its workers (a crash: nothing runs a cleanup).
        The group is signalled before the leader is reaped, so its id is still ours."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._reap()

    def output(self) -> str:
        """What the server printed so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def _reap(self) -> None:
        self._log.close()


__all__ = ["Server", "free_port", "tessera"]
