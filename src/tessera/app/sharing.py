"""Changing what others see of a series: ``tessera series share``.

The rules (what each level shows, which grant wins) are in
``tessera.app.visibility``; this is the one use case that writes grants. Only the
owner agency's curators and admins (and the node's local operator) may change a
series' sharing; a caller who cannot see the series gets ``NotFound``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.series import SharingGrantInfo, _grants
from tessera.app.visibility import Level, transaction
from tessera.errors import InvalidInput
from tessera.storage import repo, sharing

_COUNTRY = re.compile(r"^[A-Z]{2}$")


class SeriesSharing(Result):
    """A series' grants after a change, and which grantees the change named."""

    series: str
    level: Literal["none", "hash", "status", "full"]
    changed: tuple[str, ...]
    """The grantees set by this call: ``*`` (network), country codes, agency codes."""
    grants: tuple[SharingGrantInfo, ...]


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
    if network and (countries or agencies):
        raise InvalidInput("give --network, or --country / --agency, not both")
    codes = [c.strip().upper() for c in countries]
    for c in codes:
        if not _COUNTRY.match(c):
            raise InvalidInput(f"country {c!r} must be an ISO 3166 alpha-2 code, e.g. NL")
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series_owner(series, Role.CURATOR)
        targets: list[tuple[sharing.Scope, str]] = [("country", c) for c in codes]
        for code in agencies:
            agency = repo.get_agency(s, code)
            if agency.id == series.agency_id:
                raise InvalidInput(f"{code} owns series {name!r}: the owner always sees it all")
            targets.append(("agency", agency.code))
        if not targets:
            targets = [("network", sharing.NETWORK)]
        by = caller.email or ("local operator" if caller.is_local_operator else None)
        for scope, grantee in targets:
            sharing.set_grant(
                s,
                "series",
                series.id,
                scope=scope,
                grantee=grantee,
                level=lv.label,
                granted_by=by,
            )
        return SeriesSharing(
            series=series.name,
            level=lv.label,  # type: ignore[arg-type]
            changed=tuple(g for _, g in targets),
            grants=_grants(s, series.id),
        )


__all__ = ["SeriesSharing", "share_series"]
