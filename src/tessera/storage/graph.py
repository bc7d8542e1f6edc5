"""The case graph's rows: series, cases, victims, offenders, locations and agencies as
nodes, and what ties them as edges, one neighbourhood at a time.

The graph is never loaded whole (a node of a big unit has thousands of cases):
``neighbours`` answers "the <type> nodes next to this node", one page cut in SQL
(``LIMIT``/``OFFSET`` on a stable order), optionally only among ``only`` ids (the
ones the caller may see, chosen by ``tessera.app.visibility``), so a page is
exact. A series and a case are tied when media of the series were sighted in the
case; the edge's weight is how many sightings (a file seen under two paths of one
case counts twice). Those counts are kept per (series, case) by triggers (migration
0023), so expanding a series or a case reads its edges, not its sightings.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput, NotFound
from tessera.storage.models import (
    Agency,
    Case,
    Location,
    Offender,
    Series,
    Victim,
    series_location,
    series_offender,
    series_victim,
)
from tessera.storage.models import series_case_sightings as scs

NodeType = Literal["series", "case", "victim", "offender", "location", "agency"]
NODE_TYPES: tuple[NodeType, ...] = get_args(NodeType)
MAX_PAGE = 500


@dataclass(frozen=True)
class NodeRow:
    """One node: its type, id, label and (series, case) owner agency."""

    type: NodeType
    id: int
    label: str
    owner_agency_id: int | None = None
    identified: bool | None = None
    """Victims, offenders: identified; series: victim identified."""


@dataclass(frozen=True)
class NeighbourRow:
    node: NodeRow
    relation: str
    """``owns``, ``victim``, ``offender``, ``location`` or ``sighted-in``."""
    weight: int = 1


def parse_type(text: str) -> NodeType:
    if text not in NODE_TYPES:
        raise InvalidInput(f"node type {text!r} is not one of {', '.join(NODE_TYPES)}")
    return text


def _series_row(x: Series) -> NodeRow:
    return NodeRow("series", x.id, x.name, x.agency_id, x.victim_identified)


def _case_row(x: Case, code: str) -> NodeRow:
    return NodeRow("case", x.id, f"{x.number} ({code})", x.agency_id)


def get_node(s: Session, type_: NodeType, node_id: int) -> NodeRow:
    """One node by type and id; ``NotFound`` when there is none (or it was deleted)."""
    found: NodeRow | None = None
    if type_ == "series":
        sr = s.get(Series, node_id)
        found = _series_row(sr) if sr is not None and sr.deleted_at is None else None
    elif type_ == "case":
        row = s.execute(
            select(Case, Agency.code)
            .join(Agency, Agency.id == Case.agency_id)
            .where(Case.id == node_id)
        ).first()
        found = _case_row(row[0], row[1]) if row is not None else None
    elif type_ == "agency":
        a = s.get(Agency, node_id)
        found = NodeRow("agency", a.id, a.code) if a is not None else None
    elif type_ in ("victim", "offender"):
        p = s.get(Victim, node_id) if type_ == "victim" else s.get(Offender, node_id)
        found = NodeRow(type_, p.id, p.pseudonym, None, p.identified) if p is not None else None
    else:
        loc = s.get(Location, node_id)
        found = NodeRow("location", loc.id, loc.description[:120]) if loc is not None else None
    if found is None:
        raise NotFound(f"no {type_} with id {node_id}")
    return found


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _only(q: Q, col: Any, only: Collection[int] | None) -> Q:
    return q if only is None else q.where(col.in_(sorted(only)))


_PERSON_LINKS = {
    "victim": (series_victim, series_victim.c.victim_id),
    "offender": (series_offender, series_offender.c.offender_id),
    "location": (series_location, series_location.c.location_id),
}


def _page(q: Q, limit: int, offset: int) -> Q:
    if not 1 <= limit <= MAX_PAGE + 1 or offset < 0:
        raise InvalidInput(f"a graph page holds 1..{MAX_PAGE} nodes from offset >= 0")
    return q.limit(limit).offset(offset)


def neighbours(
    s: Session,
    type_: NodeType,
    node_id: int,
    want: NodeType,
    *,
    limit: int,
    offset: int = 0,
    only: Collection[int] | None = None,
) -> list[NeighbourRow]:
    """The ``want`` nodes next to node (``type_``, ``node_id``), one page in a stable
    order (name, number or pseudonym; cases and series of a series/case by weight),
    restricted to ids in ``only`` when given."""
    if only is not None and not only:
        return []
    pair = (type_, want)
    if pair == ("agency", "series"):
        q = _only(
            select(Series).where(Series.agency_id == node_id, Series.deleted_at.is_(None)),
            Series.id,
            only,
        ).order_by(Series.name, Series.id)
        return [NeighbourRow(_series_row(x), "owns") for x in s.scalars(_page(q, limit, offset))]
    if pair == ("agency", "case"):
        qc = _only(
            select(Case, Agency.code)
            .join(Agency, Agency.id == Case.agency_id)
            .where(Case.agency_id == node_id),
            Case.id,
            only,
        ).order_by(Case.number, Case.id)
        return [
            NeighbourRow(_case_row(c, code), "owns")
            for c, code in s.execute(_page(qc, limit, offset))
        ]
    if want == "agency" and type_ in ("series", "case"):
        owner = s.scalar(
            select(Series.agency_id).where(Series.id == node_id)
            if type_ == "series"
            else select(Case.agency_id).where(Case.id == node_id)
        )
        if owner is None or offset > 0 or (only is not None and owner not in only):
            return []
        return [NeighbourRow(get_node(s, "agency", int(owner)), "owns")]
    if type_ == "series" and want == "location":
        ql = _only(
            select(Location)
            .join(series_location, series_location.c.location_id == Location.id)
            .where(series_location.c.series_id == node_id),
            Location.id,
            only,
        ).order_by(Location.description, Location.id)
        return [
            NeighbourRow(NodeRow("location", x.id, x.description[:120]), "location")
            for x in s.scalars(_page(ql, limit, offset))
        ]
    if type_ == "series" and want in ("victim", "offender"):
        person: type[Victim] | type[Offender] = Victim if want == "victim" else Offender
        table = series_victim if want == "victim" else series_offender
        col = table.c.victim_id if want == "victim" else table.c.offender_id
        qp = _only(
            select(person.id, person.pseudonym, person.identified)
            .join(table, col == person.id)
            .where(table.c.series_id == node_id),
            person.id,
            only,
        ).order_by(person.pseudonym, person.id)
        return [
            NeighbourRow(NodeRow(want, int(i), str(name), None, bool(known)), want)
            for i, name, known in s.execute(_page(qp, limit, offset))
        ]
    if want == "series" and type_ in _PERSON_LINKS:
        table, col = _PERSON_LINKS[type_]
        qs = _only(
            select(Series)
            .join(table, table.c.series_id == Series.id)
            .where(col == node_id, Series.deleted_at.is_(None)),
            Series.id,
            only,
        ).order_by(Series.name, Series.id)
        return [NeighbourRow(_series_row(x), type_) for x in s.scalars(_page(qs, limit, offset))]
    if pair == ("series", "case"):
        # the (series, case) sighting counts kept by triggers (migration 0023)
        agg = (
            select(scs.c.case_id.label("cid"), scs.c.n)
            .where(scs.c.series_id == node_id, scs.c.n > 0)
            .subquery()
        )
        qn = _only(
            select(Case, Agency.code, agg.c.n)
            .join(agg, agg.c.cid == Case.id)
            .join(Agency, Agency.id == Case.agency_id),
            Case.id,
            only,
        ).order_by(agg.c.n.desc(), Case.id)
        return [
            NeighbourRow(_case_row(c, code), "sighted-in", int(k))
            for c, code, k in s.execute(_page(qn, limit, offset))
        ]
    if pair == ("case", "series"):
        agg = (
            select(scs.c.series_id.label("sid"), scs.c.n)
            .where(scs.c.case_id == node_id, scs.c.n > 0)
            .subquery()
        )
        qr = _only(
            select(Series, agg.c.n)
            .join(agg, agg.c.sid == Series.id)
            .where(Series.deleted_at.is_(None)),
            Series.id,
            only,
        ).order_by(agg.c.n.desc(), Series.id)
        return [
            NeighbourRow(_series_row(x), "sighted-in", int(k))
            for x, k in s.execute(_page(qr, limit, offset))
        ]
    return []  # no such relation (e.g. victim -> case): no neighbours


def agencies(s: Session, *, limit: int, offset: int = 0) -> list[NodeRow]:
    """Agencies by code: where exploring starts for the node's operator."""
    q = _page(select(Agency).order_by(Agency.code), limit, offset)
    return [NodeRow("agency", a.id, a.code) for a in s.scalars(q)]


def series_of_people(s: Session, type_: NodeType, node_id: int) -> set[int]:
    """Ids of the (live) series a victim, offender or location is linked to."""
    if type_ not in _PERSON_LINKS:
        return set()
    table, col = _PERSON_LINKS[type_]
    return {
        int(i)
        for i in s.scalars(
            select(table.c.series_id)
            .join(Series, Series.id == table.c.series_id)
            .where(col == node_id, Series.deleted_at.is_(None))
        )
    }


__all__ = [
    "MAX_PAGE",
    "NODE_TYPES",
    "NeighbourRow",
    "NodeRow",
    "NodeType",
    "agencies",
    "get_node",
    "neighbours",
    "parse_type",
    "series_of_people",
]
