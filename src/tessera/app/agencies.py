"""Agencies: units of member countries that own cases and series."""

from __future__ import annotations

from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result, Timestamp
from tessera.app.retry import retried
from tessera.app.visibility import require_role, transaction
from tessera.errors import PermissionDenied
from tessera.storage import cases_agencies, repo
from tessera.storage.models import Agency


class AgencySummary(Result):
    """One agency as listings show it."""

    code: str
    country: str
    name: str
    contact: str | None

    @classmethod
    def of(cls, a: Agency) -> AgencySummary:
        return cls(code=a.code, country=a.country, name=a.name, contact=a.contact)


@retried
def create(
    app: App, caller: Caller, code: str, *, country: str, name: str, contact: str | None = None
) -> AgencySummary:
    """Register agency ``code`` of ``country`` (ISO 3166 alpha-2)."""
    with app.transaction() as s:
        made = AgencySummary.of(repo.create_agency(s, code, country, name, contact))
        audit.record_in(
            s,
            app,
            caller,
            "agency.create",
            target=f"agency:{code}",
            params={"code": code, "country": country, "name": name},
        )
        return made


def list_agencies(app: App, caller: Caller) -> list[AgencySummary]:
    """Every agency, by code."""
    with app.transaction() as s:
        return [AgencySummary.of(a) for a in repo.list_agencies(s)]


class AgencyDetail(AgencySummary):
    """``agency show``: the agency and, for itself or the operator, its counts."""

    created_at: Timestamp
    series: int | None = None
    cases: int | None = None
    sightings: int | None = None
    media: int | None = None


def show(app: App, caller: Caller, code: str) -> AgencyDetail:
    """One agency: the directory entry; its live counts for its own users and the operator."""
    with transaction(app, caller) as (s, vis):
        agency = repo.get_agency(s, code)
        row = cases_agencies.agency_info(s, agency)
        detail = AgencyDetail(**row.__dict__)
        if not vis.is_owner(agency.id):
            detail = detail.model_copy(
                update={"series": None, "cases": None, "sightings": None, "media": None}
            )
        return detail


@retried
def edit(
    app: App,
    caller: Caller,
    code: str,
    *,
    name: str | None = None,
    contact: str | None = None,
    country: str | None = None,
) -> AgencyDetail:
    """Correct an agency's name, contact or country: its own admins, or the operator."""
    with transaction(app, caller) as (s, vis):
        agency = repo.get_agency(s, code)
        if not vis.is_owner(agency.id):
            raise PermissionDenied(f"agency {code!r} is another agency")
        require_role(caller, Role.ADMIN)
        changed = cases_agencies.edit_agency(s, agency, name=name, contact=contact, country=country)
        audit.record_in(
            s, app, caller, "agency.edit", target=f"agency:{code}", params={"changed": changed}
        )
        return AgencyDetail(**cases_agencies.agency_info(s, agency).__dict__)


__all__ = ["AgencyDetail", "AgencySummary", "create", "edit", "list_agencies", "show"]
