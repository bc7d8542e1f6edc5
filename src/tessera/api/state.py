"""What every request of one server process shares: the App, the live index, auth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from tessera.app import App, Caller
from tessera.app.audit import AuditQueue
from tessera.matching.index_keeper import IndexKeeper
from tessera.matching.live_index import LivePdqIndex

Authenticator = Callable[[App, str], Caller]
"""Bearer token -> caller; raises ``Unauthenticated`` for any token it does not accept."""


@dataclass
class ApiState:
    app: App
    index: LivePdqIndex
    authenticate: Authenticator
    upload_limit: int
    keeper: IndexKeeper | None = None
    audit_queue: AuditQueue | None = None


def state_of(request: Request) -> ApiState:
    st = request.app.state.tessera
    assert isinstance(st, ApiState)
    return st


__all__ = ["ApiState", "Authenticator", "state_of"]
