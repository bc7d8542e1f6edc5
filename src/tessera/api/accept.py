"""One new connection per wakeup: ``tessera serve --workers N`` shares connections out.

Why: the workers accept from one listening socket, and asyncio's accept handler
takes every connection waiting (up to the listen backlog, 2,048 under uvicorn) each
time the socket is ready. Clients that connect together, like a load generator's
16 keep-alive connections or an agency's script starting its pool, then all land
on whichever worker woke first, and stay there: measured at 10M hashes
(``bench_api.py --only single``), 12,880 requests on one worker and 8 on the other,
or 9,978 against 2,217, with the busy worker's p99 77.8 ms against 14.2 ms on the
idle one. Taking one connection per wakeup leaves the next to the other workers,
which the same readiness woke.

The listen backlog is unchanged (the kernel still queues a burst of connections);
only how many one wakeup takes. asyncio's own event loop only: another loop (uvloop)
is left as it is.
"""

from __future__ import annotations

from asyncio import selector_events
from collections.abc import Callable
from typing import Any

_Loop = selector_events.BaseSelectorEventLoop
_MARK = "_tessera_one_per_wakeup"


def accept_one_per_wakeup() -> None:
    """Make asyncio's selector loops accept one connection each time a listening
    socket is ready (idempotent; for a server process, before it starts serving)."""
    accept: Callable[..., Any] = _Loop._accept_connection  # type: ignore[attr-defined]
    if getattr(accept, _MARK, False):
        return

    def one(  # noqa: PLR0917 (asyncio's own signature, called positionally)
        self: Any,
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        del backlog  # the listen queue's size, passed on as the count to take at once
        return accept(self, protocol_factory, sock, sslcontext, server, 1, *args, **kwargs)

    setattr(one, _MARK, True)
    setattr(_Loop, "_accept_connection", one)  # noqa: B010 (a private method of asyncio)


__all__ = ["accept_one_per_wakeup"]
