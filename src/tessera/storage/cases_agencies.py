"""Looking at and correcting cases and agencies after they were created.

A case number is unique within its agency only, so a bare number can name cases
of several agencies: ``find_case`` then asks for the agency instead of guessing.
Counts cover live rows (soft-deleted sightings and media left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.storage.limits import check_country, check_name
from tessera.storage.models import Agency, Case, IngestRun, Media, Series, Sighting
from tessera.storage.repo import get_agency


@dataclass(frozen=True)
class CaseRow:
    id: int
    agency_code: str
    number: str
    title: str | None
    created_at: datetime
    sightings: int
    media: int
    runs: tuple[int, ...]


@dataclass(frozen=True)
class AgencyRow:
    code: str
    country: str
    name: str
    contact: str | None
    created_at: datetime
    series: int
    cases: int
    sightings: int
    media: int


def find_cases(s: Session, number: str, agency_code: str | None = None) -> list[Case]:
    """Cases with this number (of that agency when given); NotFound when none."""
    q = select(Case).where(Case.number == number)
    if agency_code is not None:
        q = q.where(Case.agency_id == get_agency(s, agency_code).id)
    found = list(s.scalars(q.order_by(Case.id)))
    if not found:
        where = f" of agency {agency_code!r}" if agency_code else ""
        raise NotFound(f"no case {number!r}{where}")
    return found


def find_case(s: Session, number: str, agency_code: str | None = None) -> Case:
    """The one case this number names; InvalidInput when several agencies use it."""
    found = find_cases(s, number, agency_code)
    if len(found) > 1:
        codes = sorted({c.agency.code for c in found})
        raise InvalidInput(f"case {number!r} exists for {', '.join(codes)}; give --agency")
    return found[0]


def _live_sightings(case_ids: Sequence[int] | None = None, agency_id: int | None = None):  # type: ignore[no-untyped-def]
    q = (
        select(Sighting.case_id, Sighting.agency_id, Sighting.media_id)
        .join(Media, Media.id == Sighting.media_id)
        .where(Sighting.deleted_at.is_(None), Media.deleted_at.is_(None))
    )
    if case_ids is not None:
        q = q.where(Sighting.case_id.in_(list(case_ids) or [-1]))
    if agency_id is not None:
        q = q.where(Sighting.agency_id == agency_id)
    return q.subquery()


def case_infos(s: Session, cases: Sequence[Case]) -> list[CaseRow]:
    ids = [c.id for c in cases]
    live = _live_sightings(ids)
    counts = {
        int(cid): (int(n), int(m))
        for cid, n, m in s.execute(
            select(
                live.c.case_id, func.count(), func.count(func.distinct(live.c.media_id))
            ).group_by(live.c.case_id)
        )
    }
    runs: dict[int, list[int]] = {}
    for rid, cid in s.execute(
        select(IngestRun.id, IngestRun.case_id)
        .where(IngestRun.case_id.in_(ids or [-1]))
        .order_by(IngestRun.id)
    ):
        runs.setdefault(int(cid), []).append(int(rid))
    return [
        CaseRow(
            id=c.id,
            agency_code=c.agency.code,
            number=c.number,
            title=c.title,
            created_at=c.created_at,
            sightings=counts.get(c.id, (0, 0))[0],
            media=counts.get(c.id, (0, 0))[1],
            runs=tuple(runs.get(c.id, [])),
        )
        for c in cases
    ]


def list_cases(s: Session, agency_code: str | None = None) -> list[CaseRow]:
    q = select(Case).join(Agency, Agency.id == Case.agency_id)
    if agency_code is not None:
        q = q.where(Case.agency_id == get_agency(s, agency_code).id)
    return case_infos(s, list(s.scalars(q.order_by(Agency.code, Case.number))))


def edit_case(
    s: Session, case: Case, *, title: str | None = None, number: str | None = None
) -> list[str]:
    """Change a case's title or number (unique within its agency); returns what changed."""
    if title is None and number is None:
        raise InvalidInput("nothing to change: give --title or --number")
    changed = []
    if number is not None and number != case.number:
        if not number.strip() or len(number) > 100:
            raise InvalidInput("a case number is 1-100 characters")
        clash = s.scalar(
            select(Case.id).where(Case.agency_id == case.agency_id, Case.number == number)
        )
        if clash is not None:
            raise Conflict(f"agency {case.agency.code} already has a case {number!r}")
        case.number = number
        changed.append("number")
    if title is not None and title != case.title:
        if len(title) > 300:
            raise InvalidInput("a case title has at most 300 characters")
        case.title = title or None
        changed.append("title")
    s.flush()
    return changed


def agency_info(s: Session, agency: Agency) -> AgencyRow:
    live = _live_sightings(agency_id=agency.id)
    sightings, media = s.execute(
        select(func.count(), func.count(func.distinct(live.c.media_id)))
    ).one()
    return AgencyRow(
        code=agency.code,
        country=agency.country,
        name=agency.name,
        contact=agency.contact,
        created_at=agency.created_at,
        series=int(
            s.scalar(
                select(func.count())
                .select_from(Series)
                .where(Series.agency_id == agency.id, Series.deleted_at.is_(None))
            )
            or 0
        ),
        cases=int(
            s.scalar(select(func.count()).select_from(Case).where(Case.agency_id == agency.id)) or 0
        ),
        sightings=int(sightings or 0),
        media=int(media or 0),
    )


def list_agency_infos(s: Session) -> list[AgencyRow]:
    return [agency_info(s, a) for a in s.scalars(select(Agency).order_by(Agency.code))]


def edit_agency(
    s: Session,
    agency: Agency,
    *,
    name: str | None = None,
    contact: str | None = None,
    country: str | None = None,
) -> list[str]:
    """Correct an agency's name, contact or country (the code is a reference: fixed)."""
    if name is None and contact is None and country is None:
        raise InvalidInput("nothing to change: give --name, --contact or --country")
    changed = []
    if name is not None and name != agency.name:
        if not name.strip() or len(name) > 200:
            raise InvalidInput("an agency name is 1-200 characters")
        check_name(name, Agency.__table__.c.name, "agency name")
        agency.name = name
        changed.append("name")
    if contact is not None and (contact or None) != agency.contact:
        agency.contact = contact or None
        changed.append("contact")
    if country is not None:
        code = check_country(country)
        if code != agency.country:
            agency.country = code
            changed.append("country")
    s.flush()
    return changed


__all__ = [
    "AgencyRow",
    "CaseRow",
    "agency_info",
    "case_infos",
    "edit_agency",
    "edit_case",
    "find_case",
    "find_cases",
    "list_agency_infos",
    "list_cases",
]
