"""The caller: who a use case acts for.

Every use case takes the caller explicitly, so sharing rules, visibility (what a
caller may not see does not exist for them) and the audit log can be applied in
the application layer, in one place, for every interface. Today the CLI acts as
the node's local operator; the network service adds users of agencies with roles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a user may do, least to most (the network service assigns them)."""

    VIEWER = "viewer"
    """Reads what is shared with their agency."""
    ANALYST = "analyst"
    """Also triages, looks up and searches."""
    CURATOR = "curator"
    """Also ingests and edits series, cases, links and markers."""
    ADMIN = "admin"
    """Also manages their agency's users and sharing rules."""
    OPERATOR = "operator"
    """Runs the node: settings, indexes, migrations; the local CLI acts as one."""


def _request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Caller:
    """One user (or the local operator) of one agency, for one request."""

    role: Role
    user_id: int | None = None
    email: str | None = None
    agency_code: str | None = None
    request_id: str = field(default_factory=_request_id)

    @classmethod
    def local_operator(cls, request_id: str | None = None) -> Caller:
        """The person at this node's command line: no account, every right."""
        return cls(role=Role.OPERATOR, request_id=request_id or _request_id())

    @property
    def is_local_operator(self) -> bool:
        return self.user_id is None and self.role is Role.OPERATOR


__all__ = ["Caller", "Role"]
