"""Cases: ``tessera case show|edit|list``.

A case number is unique within its agency, so commands take the number and, when
several agencies use it, ``--agency``. Other agencies see a case at ``status``
(number and counts) only where it is shared with them (``tessera.app.visibility``);
its title and runs at ``full``. Only the owner agency's curators edit it.
"""

from __future__ import annotations

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import Level, redact, require_role, shared_at, transaction
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import cases_agencies
from tessera.storage.cases_agencies import CaseRow


class CaseSummary(Result):
    id: int
    agency_code: str
    number: str
    created_at: Timestamp
    sightings: int
    """Live sightings (files found) in this case."""
    media: int
    """Distinct live media among them."""
    title: str | None = shared_at(Level.FULL, None)
    runs: tuple[int, ...] = shared_at(Level.FULL, ())
    """Ingest runs into this case (``tessera runs``)."""

    @classmethod
    def of(cls, row: CaseRow, level: Level = Level.FULL) -> CaseSummary:
        return redact(cls(**row.__dict__), level)


def show(app: App, caller: Caller, number: str, *, agency: str | None = None) -> CaseSummary:
    with transaction(app, caller) as (s, vis):
        visible = [
            c
            for c in cases_agencies.find_cases(s, number, agency)
            if vis.case_levels([c.id])[c.id] >= Level.STATUS
        ]
        if not visible:  # worded exactly as find_cases words a case that does not exist
            where = f" of agency {agency!r}" if agency else ""
            raise NotFound(f"no case {number!r}{where}")
        if len(visible) > 1:
            codes = ", ".join(sorted(c.agency.code for c in visible))
            raise InvalidInput(f"case {number!r} exists for {codes}; give --agency")
        case = visible[0]
        (row,) = cases_agencies.case_infos(s, [case])
        return CaseSummary.of(row, vis.case_levels([case.id])[case.id])


def list_cases(app: App, caller: Caller, *, agency: str | None = None) -> list[CaseSummary]:
    """Cases the caller sees, by agency and number, with their counts."""
    with transaction(app, caller) as (s, vis):
        rows = cases_agencies.list_cases(s, agency)
        levels = vis.case_levels(r.id for r in rows)
        return [CaseSummary.of(r, levels[r.id]) for r in rows if levels[r.id] >= Level.STATUS]


@retried
def edit(
    app: App,
    caller: Caller,
    number: str,
    *,
    agency: str | None = None,
    title: str | None = None,
    new_number: str | None = None,
) -> CaseSummary:
    """Change a case's title or number (unique within its agency)."""
    with transaction(app, caller) as (s, vis):
        case = cases_agencies.find_case(s, number, agency)
        if vis.case_levels([case.id])[case.id] < Level.STATUS:
            raise NotFound(f"no case {number!r}")
        if not vis.is_owner(case.agency_id):
            raise PermissionDenied(f"case {number!r} belongs to another agency")
        require_role(caller, Role.CURATOR)
        changed = cases_agencies.edit_case(s, case, title=title, number=new_number)
        audit.record_in(
            s,
            app,
            caller,
            "case.edit",
            target=f"case:{case.agency.code}/{number}",
            params={"changed": changed, "number": new_number},
        )
        (row,) = cases_agencies.case_infos(s, [case])
        return CaseSummary.of(row)


__all__ = ["CaseSummary", "edit", "list_cases", "show"]
