"""Agencies: units of member countries that own cases and series."""

from __future__ import annotations

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.storage import repo
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


__all__ = ["AgencySummary", "create", "list_agencies"]
