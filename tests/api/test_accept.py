"""``tessera serve --workers N``: a worker takes one new connection per wakeup.

The oracle is asyncio's own accept handler, unpatched: it takes every connection
waiting at once (what let one worker take a whole burst); patched, one readiness
event takes one, and the rest stay queued for the other workers.
"""

from __future__ import annotations

import asyncio
import socket
from asyncio import selector_events
from concurrent.futures import ThreadPoolExecutor

import pytest

from tessera.api.accept import accept_one_per_wakeup


def _taken_by_one_wakeup(waiting: int) -> tuple[int, int]:
    """(connections one call of the accept handler took, connections still queued),
    on a thread of its own: an event loop another test left running on this thread
    (same worker process) would refuse to run this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_one_wakeup_here, waiting).result()


def _one_wakeup_here(waiting: int) -> tuple[int, int]:
    loop = asyncio.SelectorEventLoop()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(waiting)]
    made: list[asyncio.Protocol] = []

    def factory() -> asyncio.Protocol:
        made.append(asyncio.Protocol())
        return made[-1]

    async def one_wakeup() -> None:
        loop._accept_connection(factory, listener, None, None, 100)  # type: ignore[attr-defined]
        await asyncio.sleep(0.05)  # the accepted connections' set-up tasks run

    try:
        loop.run_until_complete(one_wakeup())
        left = 0
        listener.settimeout(0.5)
        for _ in range(waiting):
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            conn.close()
            left += 1
        return len(made), left
    finally:
        for c in clients:
            c.close()
        listener.close()
        loop.close()


def test_one_connection_per_wakeup(monkeypatch: pytest.MonkeyPatch) -> None:
    loop_class = selector_events.BaseSelectorEventLoop
    real = loop_class._accept_connection  # type: ignore[attr-defined]
    monkeypatch.setattr(loop_class, "_accept_connection", real)  # restored after the test
    assert _taken_by_one_wakeup(3) == (3, 0)  # asyncio as it is: the whole burst
    accept_one_per_wakeup()
    accept_one_per_wakeup()  # idempotent: still one, not wrapped twice
    assert _taken_by_one_wakeup(3) == (1, 2)
