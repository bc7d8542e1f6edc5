"""Sharing defaults: the level a new series or case of an agency is shared at.

The node's rule stands where an agency chose nothing: a series without a grant
is seen at ``status`` by the network, a case at ``none`` (``app.visibility``).
An agency's curators may choose other defaults for the agency's *new* series and
cases (existing ones keep their grants: changing those is done one by one, on
purpose); the node's admins and operator may do so for any agency. The choice is
applied when a series or case is created, as a network-wide grant in the same
transaction, and every change is audited (``sharing.defaults``).
"""

from __future__ import annotations

from typing import Literal

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import DEFAULT_CASE_LEVEL, DEFAULT_SERIES_LEVEL, require_role
from tessera.errors import NotFound, PermissionDenied
from tessera.storage import repo, sharing

ShareLevel = Literal["none", "hash", "status", "full"]


class SharingDefaults(Result):
    agency: str
    series_level: ShareLevel
    """What the network sees of a new series of the agency."""
    case_level: ShareLevel
    series_chosen: bool
    """False: the node's rule (``status``), nothing chosen by the agency."""
    case_chosen: bool
    set_by: str | None = None
    set_at: Timestamp | None = None


def _check(caller: Caller, agency_code: str) -> None:
    require_role(caller, Role.CURATOR)
    if caller.role is Role.CURATOR and caller.agency_code != agency_code:
        # another agency's settings do not exist for a curator
        raise NotFound(f"no agency {agency_code!r}")


def show(app: App, caller: Caller, agency_code: str | None = None) -> SharingDefaults:
    """The agency's defaults (the caller's own agency by default)."""
    code = agency_code or caller.agency_code
    if not code:
        raise PermissionDenied("name an agency: the node's operator has none")
    _check(caller, code)
    with app.transaction() as s:
        agency = repo.get_agency(s, code)
        row = sharing.sharing_default(s, agency.id)
        series = row.series_level if row is not None else None
        case = row.case_level if row is not None else None
        return SharingDefaults(
            agency=agency.code,
            series_level=series or DEFAULT_SERIES_LEVEL.label,  # type: ignore[arg-type]
            case_level=case or DEFAULT_CASE_LEVEL.label,  # type: ignore[arg-type]
            series_chosen=series is not None,
            case_chosen=case is not None,
            set_by=row.set_by if row is not None else None,
            set_at=row.set_at if row is not None else None,
        )


@retried
def set_defaults(
    app: App,
    caller: Caller,
    agency_code: str,
    *,
    series_level: ShareLevel | None,
    case_level: ShareLevel | None,
) -> SharingDefaults:
    """Choose the agency's defaults for its new series and cases (None: the node's rule)."""
    _check(caller, agency_code)
    with app.transaction() as s:
        agency = repo.get_agency(s, agency_code)
        sharing.set_sharing_default(
            s,
            agency.id,
            series_level=series_level,
            case_level=case_level,
            set_by=caller.email or caller.role.value,
        )
        audit.record_in(
            s,
            app,
            caller,
            "sharing.defaults",
            target=f"agency:{agency.code}",
            params={"series_level": series_level, "case_level": case_level},
        )
    return show(app, caller, agency_code)


__all__ = ["SharingDefaults", "set_defaults", "show"]
