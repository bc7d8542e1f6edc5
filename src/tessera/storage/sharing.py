"""Sharing grants and the facts the visibility rules need, and the PostgreSQL caller.

The rules themselves (most specific grant wins, defaults, what each level shows)
live in ``tessera.app.visibility``; this module only reads and writes rows:
grants, owners of series and cases, which series and cases hold a media item.
On PostgreSQL ``set_rls_caller`` names the caller's agency for the transaction, so
Row-Level Security (migration 0006) filters the same rows a second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnClause,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from tessera.errors import InvalidInput
from tessera.storage import prepared
from tessera.storage.models import (
    SHARE_LEVELS,
    Agency,
    AgencySharingDefault,
    BlindLink,
    Case,
    ExchangeEntry,
    Media,
    Offender,
    Series,
    SharingGrant,
    Sighting,
    Victim,
    series_media,
    series_offender,
    series_victim,
    utcnow,
)

Scope = Literal["network", "country", "agency"]
Target = Literal["series", "case"]
NETWORK = "*"
"""``grantee`` of a network-wide grant."""


def _chunks(ids: Sequence[int], n: int = 500) -> Iterator[list[int]]:
    for i in range(0, len(ids), n):
        yield list(ids[i : i + n])


def set_grant(
    s: Session,
    target: Target,
    target_id: int,
    *,
    scope: Scope,
    grantee: str,
    level: str,
    granted_by: str | None = None,
) -> SharingGrant:
    """Grant ``level`` on one series or case to ``grantee``, replacing its earlier grant."""
    if level not in SHARE_LEVELS:
        raise InvalidInput(f"sharing level {level!r} is not one of {', '.join(SHARE_LEVELS)}")
    if scope == "network":
        grantee = NETWORK
    column = SharingGrant.series_id if target == "series" else SharingGrant.case_id
    row = s.scalar(
        select(SharingGrant).where(
            column == target_id, SharingGrant.scope == scope, SharingGrant.grantee == grantee
        )
    )
    if row is None:
        row = SharingGrant(scope=scope, grantee=grantee)
        if target == "series":
            row.series_id = target_id
        else:
            row.case_id = target_id
        s.add(row)
    row.level, row.granted_by, row.granted_at = level, granted_by, utcnow()
    s.flush()
    return row


def sharing_default(s: Session, agency_id: int) -> AgencySharingDefault | None:
    """The agency's sharing defaults for its new series and cases (None: the node's)."""
    return s.get(AgencySharingDefault, agency_id)


def set_sharing_default(
    s: Session,
    agency_id: int,
    *,
    series_level: str | None,
    case_level: str | None,
    set_by: str | None,
) -> AgencySharingDefault:
    """Record the agency's defaults (None: back to the node's rule for that kind)."""
    for level in (series_level, case_level):
        if level is not None and level not in SHARE_LEVELS:
            raise InvalidInput(f"sharing level {level!r} is not one of {', '.join(SHARE_LEVELS)}")
    row = s.get(AgencySharingDefault, agency_id)
    if row is None:
        row = AgencySharingDefault(agency_id=agency_id)
        s.add(row)
    row.series_level, row.case_level = series_level, case_level
    row.set_by, row.set_at = set_by, utcnow()
    s.flush()
    return row


def apply_sharing_default(s: Session, target: Target, target_id: int, agency_id: int) -> None:
    """Give a just-created series or case its agency's default as a network grant."""
    row = s.get(AgencySharingDefault, agency_id)
    level = None if row is None else (row.series_level if target == "series" else row.case_level)
    if level is not None:
        by = f"default of agency {agency_id}" if row is None or not row.set_by else row.set_by
        set_grant(
            s, target, target_id, scope="network", grantee=NETWORK, level=level, granted_by=by
        )


def grants_of(s: Session, target: Target, target_id: int) -> Sequence[SharingGrant]:
    """Every grant on one series or case, network first, then countries, then agencies."""
    column = SharingGrant.series_id if target == "series" else SharingGrant.case_id
    rows = s.scalars(select(SharingGrant).where(column == target_id)).all()
    order = {"network": 0, "country": 1, "agency": 2}
    return sorted(rows, key=lambda g: (order.get(g.scope, 3), g.grantee))


_GRANTS = {
    target: select(column, SharingGrant.scope, SharingGrant.grantee, SharingGrant.level).where(
        column.in_(prepared.ids_param())
    )
    for target, column in (("series", SharingGrant.series_id), ("case", SharingGrant.case_id))
}


def applicable_grants(
    s: Session, target: Target, ids: Iterable[int], agency_code: str, country: str
) -> dict[int, dict[str, str]]:
    """target id -> {scope: level} of the grants that name this agency, its country or all."""
    out: dict[int, dict[str, str]] = {}
    for chunk in prepared.chunks(ids):
        for tid, scope, grantee, level in prepared.rows(s, _GRANTS[target], ids=chunk):
            if tid is not None and (
                scope == "network"
                or (scope == "country" and grantee == country)
                or (scope == "agency" and grantee == agency_code)
            ):
                out.setdefault(int(tid), {})[scope] = level
    return out


_OWNERS = {
    "series": select(Series.id, Series.agency_id).where(Series.deleted_at.is_(None)),
    "case": select(Case.id, Case.agency_id),
}
_OWNERS_OF = {
    "series": _OWNERS["series"].where(Series.id.in_(prepared.ids_param())),
    "case": _OWNERS["case"].where(Case.id.in_(prepared.ids_param())),
}


def owners(s: Session, target: Target, ids: Iterable[int] | None = None) -> dict[int, int]:
    """series (or case) id -> owner agency id; every one when ``ids`` is None.

    Soft-deleted series are left out (they exist for nobody but their restore).
    """
    if ids is None:
        return {int(i): int(a) for i, a in prepared.rows(s, _OWNERS[target])}
    out: dict[int, int] = {}
    for chunk in prepared.chunks(ids):
        out.update((int(i), int(a)) for i, a in prepared.rows(s, _OWNERS_OF[target], ids=chunk))
    return out


_GRANT_COLUMNS = (SharingGrant.scope, SharingGrant.grantee, SharingGrant.level)
_OWNERS_AND_GRANTS = {
    "series": select(Series.id, Series.agency_id, *_GRANT_COLUMNS)
    .outerjoin(SharingGrant, SharingGrant.series_id == Series.id)
    .where(Series.id.in_(prepared.ids_param()), Series.deleted_at.is_(None)),
    "case": select(Case.id, Case.agency_id, *_GRANT_COLUMNS)
    .outerjoin(SharingGrant, SharingGrant.case_id == Case.id)
    .where(Case.id.in_(prepared.ids_param())),
}


def owners_and_grants(
    s: Session, target: Target, ids: Iterable[int], agency_code: str, country: str
) -> tuple[dict[int, int], dict[int, dict[str, str]]]:
    """``owners`` and ``applicable_grants`` of ``ids`` in one statement per 500 ids (the
    grants of soft-deleted series, which have no owner here, are not read)."""
    owner: dict[int, int] = {}
    grants: dict[int, dict[str, str]] = {}
    for chunk in prepared.chunks(ids):
        for tid, agency, scope, grantee, level in prepared.rows(
            s, _OWNERS_AND_GRANTS[target], ids=chunk
        ):
            owner[int(tid)] = int(agency)
            if (
                scope == "network"
                or (scope == "country" and grantee == country)
                or (scope == "agency" and grantee == agency_code)
            ):
                grants.setdefault(int(tid), {})[scope] = level
    return owner, grants


# soft-deleted series hold nothing (as ``repo.series_of_media``): even for callers
# who see everything, a lookup must not name a series that was deleted
def _tag(n: int) -> ColumnClause[int]:
    return literal_column(str(n), Integer)


_NULL = cast(null(), Integer)  # typed: PostgreSQL resolves a bare NULL of a UNION as text
_IDS = prepared.ids_param
_CONTAINER_PARTS: tuple[Select[*tuple[Any, ...]], ...] = (
    # tagged 0: series, 1: sightings, 2: imported records (3: blind links, below)
    select(_tag(0), series_media.c.media_id, series_media.c.series_id, _NULL)
    .join(Series, Series.id == series_media.c.series_id)
    .where(
        series_media.c.media_id.in_(_IDS()),
        series_media.c.deleted_at.is_(None),
        Series.deleted_at.is_(None),
    ),
    select(_tag(1), Sighting.media_id, Sighting.case_id, _NULL).where(
        Sighting.media_id.in_(_IDS()), Sighting.deleted_at.is_(None)
    ),
    select(_tag(2), ExchangeEntry.media_id, ExchangeEntry.case_id, ExchangeEntry.agency_id).where(
        ExchangeEntry.media_id.in_(_IDS())
    ),
)
_BLIND_PART = select(_tag(3), BlindLink.media_id, _NULL, _NULL).where(
    BlindLink.agency_id == bindparam("agency"), BlindLink.media_id.in_(_IDS())
)
_CONTAINERS: CompoundSelect[*tuple[Any, ...]] = union_all(*_CONTAINER_PARTS)
_CONTAINERS_AND_BLIND: CompoundSelect[*tuple[Any, ...]] = union_all(*_CONTAINER_PARTS, _BLIND_PART)
"""The three reads of ``containers_of_media`` (and ``blind_links``') as one statement:
each read on the lookup path costs ~25-30 us of CPU around its SQL, most of it in
Python (``storage.prepared``); the rows are the same, each tagged with its part."""


@dataclass(frozen=True)
class Containers:
    """What holds each media item: series, cases (sightings and imported records filed
    under one), importing agencies, and which items an agency linked blind."""

    in_series: dict[int, set[int]]
    in_cases: dict[int, set[int]]
    importers: dict[int, set[int]]
    blind: set[int]


def containers(s: Session, media_ids: Iterable[int], agency_id: int | None = None) -> Containers:
    """``containers_of_media`` and, for ``agency_id``, ``blind_links``, in one statement
    per 500 ids."""
    in_series: dict[int, set[int]] = {}
    in_cases: dict[int, set[int]] = {}
    importers: dict[int, set[int]] = {}
    blind: set[int] = set()
    for chunk in prepared.chunks(media_ids):
        if agency_id is None:
            found = prepared.rows(s, _CONTAINERS, ids=chunk)
        else:
            found = prepared.rows(s, _CONTAINERS_AND_BLIND, ids=chunk, agency=agency_id)
        for part, m, x, agency in found:
            kind, media = int(part), int(m)
            if kind == 0:
                in_series.setdefault(media, set()).add(int(x))
            elif kind == 1:
                in_cases.setdefault(media, set()).add(int(x))
            elif kind == 2:
                importers.setdefault(media, set()).add(int(agency))
                if x is not None:  # an imported record filed under a case: a sighting in it
                    in_cases.setdefault(media, set()).add(int(x))
            else:
                blind.add(media)
    return Containers(in_series, in_cases, importers, blind)


def containers_of_media(
    s: Session, media_ids: Iterable[int]
) -> tuple[dict[int, set[int]], dict[int, set[int]], dict[int, set[int]]]:
    """media id -> series ids holding it, -> case ids it was sighted in, and -> agencies
    whose imported exchange files describe it (``importers_of_media``)."""
    found = containers(s, media_ids)
    return found.in_series, found.in_cases, found.importers


def importers_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, set[int]]:
    """media id -> agencies whose imported exchange files describe it (their own record)."""
    out: dict[int, set[int]] = {}
    for chunk in _chunks(sorted(set(media_ids))):
        for m, a in s.execute(
            select(ExchangeEntry.media_id, ExchangeEntry.agency_id).where(
                ExchangeEntry.media_id.in_(chunk)
            )
        ):
            out.setdefault(int(m), set()).add(int(a))
    return out


_BLIND = select(BlindLink.media_id).where(
    BlindLink.agency_id == bindparam("agency"), BlindLink.media_id.in_(prepared.ids_param())
)


def blind_links(s: Session, media_ids: Iterable[int], agency_id: int) -> set[int]:
    """The ids among ``media_ids`` that agency ``agency_id`` linked blind (content it
    could not see when its record named it: migration 0019)."""
    out: set[int] = set()
    for chunk in prepared.chunks(media_ids):
        out.update(int(r[0]) for r in prepared.rows(s, _BLIND, ids=chunk, agency=agency_id))
    return out


@dataclass(frozen=True)
class BlindRecord:
    """What an agency's own record said of an item it linked blind (migration 0025):
    its digests, kind and size, when it linked, and its own live sightings; its PDQ
    and opaque hashes as ``(algorithm, value)`` (0026; none for older links)."""

    sha256: bytes | None
    sha1: bytes | None
    md5: bytes | None
    kind: str | None
    byte_size: int | None
    linked_at: datetime
    sightings: int
    hashes: tuple[tuple[str, str], ...] = ()


_BLIND_RECORDS = select(
    BlindLink.media_id,
    BlindLink.sha256,
    BlindLink.sha1,
    BlindLink.md5,
    BlindLink.kind,
    BlindLink.byte_size,
    BlindLink.linked_at,
    BlindLink.hashes,
).where(BlindLink.agency_id == bindparam("agency"), BlindLink.media_id.in_(prepared.ids_param()))
_OWN_SIGHTINGS = (
    select(Sighting.media_id, func.count())
    .where(
        Sighting.agency_id == bindparam("agency"),
        Sighting.deleted_at.is_(None),
        Sighting.media_id.in_(prepared.ids_param()),
    )
    .group_by(Sighting.media_id)
)


def blind_records(s: Session, media_ids: Iterable[int], agency_id: int) -> dict[int, BlindRecord]:
    """media id -> what agency ``agency_id``'s record said, for its blind links."""
    out: dict[int, BlindRecord] = {}
    for chunk in prepared.chunks(media_ids):
        seen = {
            int(m): int(n) for m, n in prepared.rows(s, _OWN_SIGHTINGS, ids=chunk, agency=agency_id)
        }
        for m, sha256, sha1, md5, kind, size, at, hashes in prepared.rows(
            s, _BLIND_RECORDS, ids=chunk, agency=agency_id
        ):
            out[int(m)] = BlindRecord(
                bytes(sha256) if sha256 is not None else None,
                bytes(sha1) if sha1 is not None else None,
                bytes(md5) if md5 is not None else None,
                kind,
                int(size) if size is not None else None,
                at,
                seen.get(int(m), 0),
                tuple((str(a), str(v)) for a, v in hashes or ()),
            )
    return out


_SERIES_NAMES = select(Series.id, Series.name).where(
    Series.id.in_(prepared.ids_param()), Series.deleted_at.is_(None)
)


def series_names(s: Session, ids: Iterable[int]) -> dict[int, str]:
    """series id -> name (soft-deleted series left out)."""
    out: dict[int, str] = {}
    for chunk in prepared.chunks(ids):
        out.update((int(i), str(n)) for i, n in prepared.rows(s, _SERIES_NAMES, ids=chunk))
    return out


def series_ids_by_name(s: Session, names: Iterable[str]) -> dict[str, int]:
    """name -> id of the (not deleted) series among ``names``."""
    rows = s.execute(
        select(Series.name, Series.id).where(
            Series.name.in_(sorted(set(names))), Series.deleted_at.is_(None)
        )
    )
    return {str(n): int(i) for n, i in rows}


def cases_of_sightings(s: Session, sighting_ids: Iterable[int]) -> dict[int, int]:
    """sighting id -> its case id."""
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(set(sighting_ids))):
        rows = s.execute(select(Sighting.id, Sighting.case_id).where(Sighting.id.in_(chunk)))
        out.update((int(i), int(c)) for i, c in rows)
    return out


def agency_contacts(s: Session, agency_ids: Iterable[int]) -> dict[int, str]:
    """agency id -> contact (agencies without one left out)."""
    ids = sorted(set(agency_ids))
    if not ids:
        return {}
    rows = s.execute(select(Agency.id, Agency.contact).where(Agency.id.in_(ids)))
    return {int(i): str(c) for i, c in rows if c}


_AGENCY_KEY = "tessera.agency_by_code"
_AGENCY_BY_CODE = select(Agency).where(Agency.code == bindparam("code"))
"""Built once: an ORM select built per call costs ~0.19 ms of CPU against ~0.10 ms
(measured at load 10), and every caller's transaction runs it once."""


def agency_by_code(s: Session, code: str) -> Agency | None:
    """The agency with this code; read once per session (a lookup's visibility, flood
    guard and hit notices all need the caller's agency in one transaction)."""
    known: dict[str, Agency] = s.info.setdefault(_AGENCY_KEY, {})
    hit = known.get(code)
    if hit is not None:
        return hit
    row = s.scalar(_AGENCY_BY_CODE, {"code": code})
    if row is not None:  # a missing one may be created later in the session: not kept
        known[code] = row
    return row


@dataclass(frozen=True)
class AgencyFacts:
    """What a caller's transaction needs of its agency: who it is and where."""

    id: int
    code: str
    country: str


_FACTS_KEY = "tessera.agency_facts"
_AGENCY_FACTS = select(Agency.id, Agency.code, Agency.country).where(
    Agency.code == bindparam("code")
)


def agency_facts(s: Session, code: str) -> AgencyFacts | None:
    """The id, code and country of the agency with this code, read once per session.

    The lookup path's reads need no more of the agency than these; loading the ORM
    row (``agency_by_code``) cost ~0.1-0.25 ms of CPU per transaction against a few
    microseconds for three columns (``storage.prepared``)."""
    known: dict[str, AgencyFacts] = s.info.setdefault(_FACTS_KEY, {})
    hit = known.get(code)
    if hit is not None:
        return hit
    loaded = s.info.get(_AGENCY_KEY, {}).get(code)
    if loaded is not None:
        facts = AgencyFacts(int(loaded.id), str(loaded.code), str(loaded.country))
    else:
        found = prepared.rows(s, _AGENCY_FACTS, code=code)
        if not found:
            return None  # a missing one may be created later in the session: not kept
        i, c, country = found[0]
        facts = AgencyFacts(int(i), str(c), str(country))
    known[code] = facts
    return facts


# -- PostgreSQL Row-Level Security ------------------------------------------------------


def set_rls_caller(s: Session, agency_code: str | None) -> None:
    """Name the caller's agency for this transaction (PostgreSQL; no-op elsewhere).

    ``set_config(..., true)`` is ``SET LOCAL``: it ends with the transaction, so a
    pooled connection never carries one caller's identity into the next. An empty
    code means no agency: the policies then show nothing.
    """
    if s.get_bind().dialect.name != "postgresql":
        return
    s.execute(text("SELECT set_config('tessera.agency', :code, true)"), {"code": agency_code or ""})


INDEX_OPTION = "-ctessera.index=on"


def index_url(url: str) -> str:
    """The database URL for the node's index machinery (PostgreSQL; others unchanged).

    Under Row-Level Security a connection without a caller sees nothing; the indexes
    must hold every hash. Connections opened with this URL start with
    ``tessera.index=on``, which lets them read fingerprints and media rows (hashes
    and ids, never metadata, series or text); answers are still filtered per caller.
    """
    if not url.startswith("postgresql"):
        return url
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    u = make_url(url)
    options = u.query.get("options")
    current = options if isinstance(options, str) else " ".join(options or ())
    if INDEX_OPTION in current.split():
        return url
    merged = f"{current} {INDEX_OPTION}".strip()
    return u.update_query_dict({"options": merged}).render_as_string(hide_password=False)


def rls_bypass_reasons(s: Session) -> list[str]:
    """Why the current PostgreSQL role would not be filtered by RLS (empty: it would be).

    The network service refuses to serve agencies' callers through a connection
    that owns the tables or is a superuser / has BYPASSRLS.
    """
    if s.get_bind().dialect.name != "postgresql":
        return ["not PostgreSQL: sharing is enforced by the application only"]
    reasons = []
    row = s.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    if row[0]:
        reasons.append("the database role is a superuser")
    if row[1]:
        reasons.append("the database role has BYPASSRLS")
    owner = s.scalar(
        text(
            "SELECT pg_get_userbyid(c.relowner) = current_user FROM pg_class c "
            "WHERE c.oid = to_regclass('series')"
        )
    )
    if owner:
        reasons.append("the database role owns the tables (RLS is not forced on owners)")
    return reasons


__all__ = [
    "INDEX_OPTION",
    "NETWORK",
    "AgencyFacts",
    "BlindRecord",
    "Scope",
    "Target",
    "agency_by_code",
    "agency_contacts",
    "agency_facts",
    "applicable_grants",
    "apply_sharing_default",
    "blind_links",
    "blind_records",
    "cases_of_sightings",
    "containers",
    "containers_of_media",
    "counts_within",
    "grants_of",
    "importers_of_media",
    "index_url",
    "owners",
    "owners_and_grants",
    "rls_bypass_reasons",
    "series_ids_by_name",
    "series_names",
    "set_grant",
    "set_rls_caller",
    "set_sharing_default",
    "sharing_default",
]


def counts_within(
    s: Session,
    *,
    media_series: Iterable[int],
    media_cases: Iterable[int],
    status_series: Iterable[int],
    status_cases: Iterable[int],
    full_series: Iterable[int],
) -> dict[str, Any]:
    """``repo.stats``' figures restricted to what one caller sees.

    Media are those held by ``media_series`` or sighted in ``media_cases``; series,
    cases and sightings count only ``status_*`` ones; victims and offenders only
    those linked to ``full_series``.
    """
    ms, mc = sorted(set(media_series)), sorted(set(media_cases))
    ss, sc, fs = sorted(set(status_series)), sorted(set(status_cases)), sorted(set(full_series))
    media_ids: set[int] = set()
    for chunk in _chunks(ms):
        media_ids.update(
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id)
                .join(Media, Media.id == series_media.c.media_id)
                .where(
                    series_media.c.series_id.in_(chunk),
                    series_media.c.deleted_at.is_(None),
                    Media.deleted_at.is_(None),
                )
            )
        )
    sightings: list[tuple[int, int]] = []  # (media, agency) of sightings in status cases
    for chunk in _chunks(mc):
        media_ids.update(
            int(m)
            for m in s.scalars(
                select(Sighting.media_id).where(
                    Sighting.case_id.in_(chunk), Sighting.deleted_at.is_(None)
                )
            )
        )
    for chunk in _chunks(sc):
        sightings += [
            (int(m), int(a))
            for m, a in s.execute(
                select(Sighting.media_id, Sighting.agency_id).where(
                    Sighting.case_id.in_(chunk), Sighting.deleted_at.is_(None)
                )
            )
        ]
    people: dict[str, dict[int, tuple[bool, int | None]]] = {"victim": {}, "offender": {}}
    for kind, link, model in (
        ("victim", series_victim, Victim),
        ("offender", series_offender, Offender),
    ):
        col = link.c.victim_id if kind == "victim" else link.c.offender_id
        for chunk in _chunks(fs):
            for pid, ident, by in s.execute(
                select(model.id, model.identified, model.identified_by)
                .join(link, col == model.id)
                .where(link.c.series_id.in_(chunk))
            ):
                people[kind][int(pid)] = (bool(ident), by)
    series_owner = owners(s, "series", ss)
    case_owner = owners(s, "case", sc)
    per: dict[str, dict[str, int]] = {}
    for agency in s.scalars(select(Agency).order_by(Agency.code)):
        mine = [m for m, a in sightings if a == agency.id]
        per[agency.code] = {
            "series": sum(1 for a in series_owner.values() if a == agency.id),
            "cases": sum(1 for a in case_owner.values() if a == agency.id),
            "sightings": len(mine),
            "media": len(set(mine)),
            "victims_identified": sum(
                1 for ident, by in people["victim"].values() if ident and by == agency.id
            ),
        }
    return {
        "media": len(media_ids),
        "sightings": len(sightings),
        "series": len(ss),
        "victims": len(people["victim"]),
        "identified_victims": sum(1 for i, _ in people["victim"].values() if i),
        "offenders": len(people["offender"]),
        "identified_offenders": sum(1 for i, _ in people["offender"].values() if i),
        "per_agency": per,
    }
