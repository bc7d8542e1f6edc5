"""Changing what others see of a series or a case: ``tessera series share``.

The rules (what each level shows, which grant wins) are in
``tessera.app.visibility``; these are the use cases that write grants. Only the
owner agency's curators and admins (and the node's local operator) may change a
series' or case's sharing; a caller who cannot see it gets ``NotFound``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.retry import retried
from tessera.app.series import SharingGrantInfo
from tessera.app.visibility import Level, Visibility, require_role, transaction
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import repo, sharing
from tessera.storage.cases_agencies import find_case
from tessera.storage.db import Session

_COUNTRY = re.compile(r"^[A-Z]{2}$")
LevelName = Literal["none", "hash", "status", "full"]


class SeriesSharing(Result):
    """A series' grants after a change, and which grantees the change named."""

    series: str
    level: LevelName
    changed: tuple[str, ...]
    """The grantees set by this call: ``*`` (network), country codes, agency codes."""
    grants: tuple[SharingGrantInfo, ...]


class CaseSharing(Result):
    """A case's grants after a change (cases are ``none`` to others until shared)."""

    case: str
    agency: str
    level: LevelName
    changed: tuple[str, ...]
    grants: tuple[SharingGrantInfo, ...]


class RowSecurity(Result):
    """Whether PostgreSQL's Row-Level Security filters this deployment's connection."""

    dialect: str
    enforced: bool
    reasons: tuple[str, ...]
    """Why not, when not (superuser, BYPASSRLS, owner of the tables, not PostgreSQL)."""


def row_security(app: App, caller: Caller) -> RowSecurity:
    """``tessera serve`` asks this at start: agencies' callers are then filtered by the
    database too only if the service's role neither owns the tables nor bypasses RLS."""
    with app.transaction() as s:
        reasons = tuple(sharing.rls_bypass_reasons(s))
    return RowSecurity(dialect=app.db.dialect, enforced=not reasons, reasons=reasons)


def grants(s: Session, target: sharing.Target, target_id: int) -> tuple[SharingGrantInfo, ...]:
    """The grants of one series or case, network first, as results."""
    return tuple(
        SharingGrantInfo(
            scope=g.scope,  # type: ignore[arg-type]
            grantee=g.grantee,
            level=g.level,  # type: ignore[arg-type]
            granted_by=g.granted_by,
            granted_at=g.granted_at,
        )
        for g in sharing.grants_of(s, target, target_id)
    )


def _grantees(
    s: Session,
    owner_id: int,
    *,
    what: str,
    countries: Sequence[str],
    agencies: Sequence[str],
    network: bool,
) -> list[tuple[sharing.Scope, str]]:
    if network and (countries or agencies):
        raise InvalidInput("give --network, or --country / --agency, not both")
    targets: list[tuple[sharing.Scope, str]] = []
    for c in (c.strip().upper() for c in countries):
        if not _COUNTRY.match(c):
            raise InvalidInput(f"country {c!r} must be an ISO 3166 alpha-2 code, e.g. NL")
        targets.append(("country", c))
    for code in agencies:
        agency = repo.get_agency(s, code)
        if agency.id == owner_id:
            raise InvalidInput(f"{code} owns {what}: the owner always sees it all")
        targets.append(("agency", agency.code))
    return targets or [("network", sharing.NETWORK)]


def _write(
    s: Session,
    caller: Caller,
    *,
    target: sharing.Target,
    target_id: int,
    level: Level,
    targets: list[tuple[sharing.Scope, str]],
) -> None:
    by = caller.email or ("local operator" if caller.is_local_operator else None)
    for scope, grantee in targets:
        sharing.set_grant(
            s, target, target_id, scope=scope, grantee=grantee, level=level.label, granted_by=by
        )


@retried
def share_series(
    app: App,
    caller: Caller,
    name: str,
    level: str,
    *,
    countries: Sequence[str] = (),
    agencies: Sequence[str] = (),
    network: bool = False,
) -> SeriesSharing:
    """Share series ``name`` at ``level`` with listed countries, listed agencies or the
    network (the default when none is named). A grant replaces the grantee's earlier one.
    """
    lv = Level.parse(level)
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series, Role.CURATOR)
        targets = _grantees(
            s,
            series.agency_id,
            what=f"series {name!r}",
            countries=countries,
            agencies=agencies,
            network=network,
        )
        _write(s, caller, target="series", target_id=series.id, level=lv, targets=targets)
        audit.record_in(
            s,
            app,
            caller,
            "series.share",
            target=f"series:{name}",
            series=name,
            params={"level": lv.label, "grantees": targets},
        )
        return SeriesSharing(
            series=series.name,
            level=lv.label,  # type: ignore[arg-type]
            changed=tuple(g for _, g in targets),
            grants=grants(s, "series", series.id),
        )


def _require_case_owner(vis: Visibility, caller: Caller, case_id: int, agency_id: int) -> None:
    if vis.case_levels([case_id])[case_id] < Level.STATUS:
        raise NotFound("no such case")
    if not vis.is_owner(agency_id):
        raise PermissionDenied("the case belongs to another agency")
    require_role(caller, Role.CURATOR)


@retried
def share_case(
    app: App,
    caller: Caller,
    number: str,
    level: str,
    *,
    agency: str | None = None,
    countries: Sequence[str] = (),
    agencies: Sequence[str] = (),
    network: bool = False,
) -> CaseSharing:
    """Share case ``number`` (of ``agency``; a network caller's own agency by default) at
    ``level``, like ``share_series``. Sharing a case shares what its sightings show:
    ``hash`` lets others' lookups find its media ("known", with the owner's contact)."""
    lv = Level.parse(level)
    with transaction(app, caller) as (s, vis):
        try:
            case = find_case(s, number, agency or caller.agency_code)
        except NotFound:
            raise NotFound(f"no case {number!r}") from None
        try:
            _require_case_owner(vis, caller, case.id, case.agency_id)
        except NotFound:
            raise NotFound(f"no case {number!r}") from None
        targets = _grantees(
            s,
            case.agency_id,
            what=f"case {number!r}",
            countries=countries,
            agencies=agencies,
            network=network,
        )
        _write(s, caller, target="case", target_id=case.id, level=lv, targets=targets)
        audit.record_in(
            s,
            app,
            caller,
            "case.share",
            target=f"case:{case.agency.code}/{number}",
            params={"level": lv.label, "grantees": targets},
        )
        return CaseSharing(
            case=number,
            agency=case.agency.code,
            level=lv.label,  # type: ignore[arg-type]
            changed=tuple(g for _, g in targets),
            grants=grants(s, "case", case.id),
        )


__all__ = [
    "CaseSharing",
    "RowSecurity",
    "SeriesSharing",
    "grants",
    "row_security",
    "share_case",
    "share_series",
]
