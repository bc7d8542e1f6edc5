"""All reads and writes of the shared database go through these functions.

Each takes an open ``Session`` (one transaction, see ``Database.session``) so a
caller can group several changes atomically, as ingest does per batch. They raise
``NotFound`` / ``Conflict`` / ``InvalidInput`` from the one error hierarchy and
never leak SQLAlchemy exceptions for expected situations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, insert, or_, select, tuple_
from sqlalchemy.orm import Session

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.storage import sharing
from tessera.storage.limits import check_category, check_country, check_length, check_name
from tessera.storage.models import (
    Agency,
    Case,
    FingerprintModel,
    Location,
    Media,
    Meta,
    Offender,
    Series,
    Sighting,
    Victim,
    media_location,
    series_location,
    series_media,
    series_offender,
    series_stats,
    series_victim,
    utcnow,
)

FEATURES_ALGORITHM = "rootsift"
"""``fingerprint.algorithm`` of local features (``tessera.features`` bytes)."""
FEATURES_VERSION = 2
"""Stored local features: 2 = compact blobs (migration 0011; 1 = the full layout)."""

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


# -- agencies and cases ------------------------------------------------------------


def create_agency(
    s: Session, code: str, country: str, name: str, contact: str | None = None
) -> Agency:
    """Register an agency (unit of a member country). ``country`` is ISO 3166 alpha-2."""
    if not _CODE.match(code):
        raise InvalidInput(f"agency code {code!r} must be 1-32 letters, digits, '_', '.', '-'")
    country = check_country(country)
    check_name(name, Agency.__table__.c.name, "agency name")
    if s.scalar(select(Agency).where(Agency.code == code)) is not None:
        raise Conflict(f"agency {code!r} already exists")
    agency = Agency(code=code, country=country, name=name, contact=contact)
    s.add(agency)
    s.flush()
    return agency


def get_agency(s: Session, code: str) -> Agency:
    agency = s.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(f"no agency {code!r}; create it with `tessera agency create`")
    return agency


def list_agencies(s: Session) -> Sequence[Agency]:
    return s.scalars(select(Agency).order_by(Agency.code)).all()


def get_or_create_case(s: Session, agency: Agency, number: str) -> Case:
    """The agency's case with this number, created on first use."""
    if not number.strip():
        raise InvalidInput("case number must not be empty")
    check_name(number, Case.__table__.c.number, "case number")
    case = s.scalar(select(Case).where(Case.agency_id == agency.id, Case.number == number))
    if case is None:
        case = Case(agency_id=agency.id, number=number)
        s.add(case)
        s.flush()
        sharing.apply_sharing_default(s, "case", case.id, agency.id)
    return case


# -- series -----------------------------------------------------------------------


def create_series(
    s: Session,
    name: str,
    agency: Agency,
    *,
    baseline: bool = False,
    category_profile: str | None = None,
    category: int | None = None,
    notes: str | None = None,
) -> Series:
    if not name.strip():
        raise InvalidInput("series name must not be empty")
    check_name(name, Series.__table__.c.name, "series name")
    check_category(category)
    clash = s.scalar(select(Series).where(Series.name == name))
    if clash is not None:
        gone = " (deleted; names stay reserved so it can be restored)" if clash.deleted_at else ""
        raise Conflict(f"series {name!r} already exists{gone}")
    series = Series(
        name=name,
        agency_id=agency.id,
        baseline=baseline,
        category_profile=category_profile,
        category=category,
        notes=notes,
    )
    s.add(series)
    s.flush()
    sharing.apply_sharing_default(s, "series", series.id, agency.id)
    return series


KEEP_LOADED = "tessera.keep_loaded"
"""``Session.info`` key: where present (a web page's read-only unit of work,
``tessera.app.visibility.unit``), the media items ``media_by_id`` and the series
``get_series`` loaded, kept until the session ends. The identity map holds objects
weakly (and a series is asked for by name): a page whose sections each ask for the
same item or series read its row once a section."""


def keep_loaded(s: Session) -> None:
    """Keep what ``media_by_id`` and ``get_series`` load for the rest of ``s``."""
    s.info[KEEP_LOADED] = {}


def get_series(s: Session, name: str) -> Series:
    kept = s.info.get(KEEP_LOADED)
    if kept is not None and isinstance(found := kept.get(("series", name)), Series):
        return found  # a page's sections ask for the same series by name (see KEEP_LOADED)
    series = s.scalar(select(Series).where(Series.name == name, Series.deleted_at.is_(None)))
    if series is None:
        raise NotFound(f"no series {name!r}")
    if kept is not None:
        kept["series", name] = series
    return series


def list_series(s: Session) -> Sequence[Series]:
    return s.scalars(select(Series).where(Series.deleted_at.is_(None)).order_by(Series.name)).all()


def set_identified(
    s: Session,
    series: Series,
    who: Literal["victim", "offender"],
    identified: bool,
    *,
    by: Agency | None,
    when: datetime | None = None,
) -> None:
    """Record that a series' victim or offender is (or is not) identified, by whom, when."""
    at = (when or utcnow()) if identified else None
    by_id = by.id if (identified and by is not None) else None
    if who == "victim":
        series.victim_identified, series.victim_identified_by = identified, by_id
        series.victim_identified_at = at
    else:
        series.offender_identified, series.offender_identified_by = identified, by_id
        series.offender_identified_at = at
    s.flush()


@dataclass(frozen=True)
class SeriesStatus:
    """What an investigator needs to know about a series a file belongs to."""

    series_id: int
    name: str
    owner_code: str
    owner_country: str
    owner_name: str
    contact: str | None
    victim_identified: bool
    victim_identified_by: str | None
    victim_identified_at: datetime | None
    offender_identified: bool
    offender_identified_by: str | None
    offender_identified_at: datetime | None
    baseline: bool
    category_profile: str | None
    category: int | None
    media_count: int


def series_status(s: Session, series: Series) -> SeriesStatus:
    codes = {a.id: a.code for a in s.scalars(select(Agency))}
    owner = s.get(Agency, series.agency_id)
    assert owner is not None  # FK
    # live members of live media, kept by triggers (migration 0023): one row, not a count
    count = s.scalar(select(series_stats.c.members).where(series_stats.c.series_id == series.id))
    return SeriesStatus(
        series_id=series.id,
        name=series.name,
        owner_code=owner.code,
        owner_country=owner.country,
        owner_name=owner.name,
        contact=owner.contact,
        victim_identified=series.victim_identified,
        victim_identified_by=codes.get(series.victim_identified_by or -1),
        victim_identified_at=series.victim_identified_at,
        offender_identified=series.offender_identified,
        offender_identified_by=codes.get(series.offender_identified_by or -1),
        offender_identified_at=series.offender_identified_at,
        baseline=series.baseline,
        category_profile=series.category_profile,
        category=series.category,
        media_count=int(count or 0),
    )


def series_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, list[int]]:
    """media id -> ids of the series it belongs to."""
    ids = list(set(media_ids))
    out: dict[int, list[int]] = {}
    for chunk in _chunks(ids, 500):
        rows = s.execute(
            select(series_media.c.media_id, series_media.c.series_id)
            .join(Series, Series.id == series_media.c.series_id)
            .where(
                series_media.c.media_id.in_(chunk),
                series_media.c.deleted_at.is_(None),
                Series.deleted_at.is_(None),
            )
        )
        for media_id, series_id in rows:
            out.setdefault(media_id, []).append(series_id)
    return out


def series_by_ids(s: Session, series_ids: Iterable[int]) -> list[Series]:
    """The series with these ids (unknown ids are left out), by name."""
    ids = sorted(set(series_ids))
    out: list[Series] = []
    for chunk in _chunks(ids, 500):
        out.extend(s.scalars(select(Series).where(Series.id.in_(chunk))))
    return sorted(out, key=lambda x: x.name)


def series_statuses(s: Session, series_ids: Iterable[int]) -> dict[int, SeriesStatus]:
    """series id -> its status, for the ids that exist."""
    out: dict[int, SeriesStatus] = {}
    for sid in set(series_ids):
        row = s.get(Series, sid)
        if row is not None:
            out[sid] = series_status(s, row)
    return out


def submissions_of(s: Session, media_ids: Iterable[int]) -> dict[int, int]:
    """media id -> how many agencies submitted it."""
    ids = list(set(media_ids))
    out: dict[int, int] = {}
    for chunk in _chunks(ids, 500):
        for m in s.scalars(select(Media).where(Media.id.in_(chunk))):
            out[m.id] = m.submissions
    return out


def series_names_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, list[str]]:
    """media id -> sorted names of the series it belongs to (media in none: absent)."""
    by_media = series_of_media(s, media_ids)
    names: dict[int, str] = {}
    for sid in {x for ids in by_media.values() for x in ids}:
        row = s.get(Series, sid)
        if row is not None:
            names[sid] = row.name
    return {m: sorted(names[x] for x in ids if x in names) for m, ids in by_media.items()}


def sha256_of_media(s: Session, media_ids: Iterable[int]) -> dict[int, str]:
    """media id -> SHA-256 hex, for the ids that exist and have one."""
    out: dict[int, str] = {}
    for chunk in _chunks(list(set(media_ids)), 500):
        for m in s.scalars(select(Media).where(Media.id.in_(chunk))):
            if m.sha256:  # hash-only media (imported) may have none
                out[m.id] = m.sha256.hex()
    return out


# -- victims, offenders, locations, links --------------------------------------------


def get_or_create_victim(s: Session, pseudonym: str) -> Victim:
    check_length(pseudonym, Victim.__table__.c.pseudonym, "victim pseudonym")
    v = s.scalar(select(Victim).where(Victim.pseudonym == pseudonym))
    if v is None:
        v = Victim(pseudonym=pseudonym)
        s.add(v)
        s.flush()
    return v


def get_or_create_offender(s: Session, pseudonym: str) -> Offender:
    check_length(pseudonym, Offender.__table__.c.pseudonym, "offender pseudonym")
    o = s.scalar(select(Offender).where(Offender.pseudonym == pseudonym))
    if o is None:
        o = Offender(pseudonym=pseudonym)
        s.add(o)
        s.flush()
    return o


def set_person_identified(
    s: Session,
    person: Victim | Offender,
    identified: bool,
    *,
    by: Agency | None,
    when: datetime | None = None,
) -> None:
    """Record that a victim or offender is (or is not) identified, by whom, when.

    The same rule as ``set_identified`` for a series: who and when are kept only
    while identified.
    """
    person.identified = identified
    person.identified_by = by.id if (by is not None and identified) else None
    person.identified_at = (when or utcnow()) if identified else None
    s.flush()


def create_location(
    s: Session,
    description: str,
    country: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Location:
    if country is not None:
        country = check_country(country)
    if (latitude is None) != (longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither")
    if latitude is not None and not -90 <= latitude <= 90:
        raise InvalidInput(f"latitude {latitude} out of range")
    if longitude is not None and not -180 <= longitude <= 180:
        raise InvalidInput(f"longitude {longitude} out of range")
    loc = Location(
        description=description,
        country=country.upper() if country else None,
        latitude=latitude,
        longitude=longitude,
    )
    s.add(loc)
    s.flush()
    return loc


_LINKS = {
    ("series", "media"): (series_media, "series_id", "media_id"),
    ("series", "victim"): (series_victim, "series_id", "victim_id"),
    ("series", "offender"): (series_offender, "series_id", "offender_id"),
    ("series", "location"): (series_location, "series_id", "location_id"),
    ("media", "location"): (media_location, "media_id", "location_id"),
}


def link(s: Session, owner: str, owner_id: int, kind: str, target_id: int) -> bool:
    """Link e.g. a victim to a series; returns False when the link already existed."""
    spec = _LINKS.get((owner, kind))
    if spec is None:
        raise InvalidInput(f"cannot link a {kind} to a {owner}")
    table, a, b = spec
    where = (table.c[a] == owner_id, table.c[b] == target_id)
    exists = s.execute(select(table).where(*where)).first()
    if exists:
        if "deleted_at" in table.c and exists._mapping["deleted_at"] is not None:
            s.execute(table.update().where(*where).values(deleted_at=None, deleted_by=None))
            return True  # a soft-removed membership comes back
        return False
    s.execute(insert(table).values({a: owner_id, b: target_id}))
    return True


# -- media and lookups -----------------------------------------------------------------


def media_by_sha256(
    s: Session, digests: Iterable[bytes], *, live_only: bool = False
) -> dict[bytes, Media]:
    """Media rows by SHA-256, soft-deleted ones included unless ``live_only``
    (ingest must find them: SHA-256 is unique)."""
    out: dict[bytes, Media] = {}
    for chunk in _chunks(list(set(digests)), 500):
        q = select(Media).where(Media.sha256.in_(chunk))
        if live_only:
            q = q.where(Media.deleted_at.is_(None))
        for m in s.scalars(q):
            if m.sha256 is not None:
                out[m.sha256] = m
    return out


def media_by_digest(s: Session, algorithm: str, digests: Iterable[bytes]) -> dict[bytes, Media]:
    """Exact lookup by ``md5``, ``sha1`` or ``sha256`` (raw bytes)."""
    column = {"md5": Media.md5, "sha1": Media.sha1, "sha256": Media.sha256}.get(algorithm)
    if column is None:
        raise InvalidInput(f"no exact lookup by {algorithm!r}")
    out: dict[bytes, Media] = {}
    for chunk in _chunks(list(set(digests)), 500):
        for m in s.scalars(select(Media).where(column.in_(chunk), Media.deleted_at.is_(None))):
            out[getattr(m, algorithm)] = m
    return out


@dataclass(frozen=True)
class DigestHits:
    """Stored media ids by the raw digest of each algorithm that found them."""

    sha256: dict[bytes, int]
    md5: dict[bytes, int]
    sha1: dict[bytes, int]


def media_ids_by_digests(
    s: Session, sha256: Iterable[bytes], md5: Iterable[bytes], sha1: Iterable[bytes]
) -> DigestHits:
    """Exact lookup of many files by all three digests at once (raw bytes): one query
    per 300 of each, SQLite answering the OR through each digest's index, where three
    ``media_by_digest`` lookups cost three queries and ORM objects nobody reads (a
    phone dump's 100,000 small files each pass through here)."""
    wanted = (set(sha256), set(md5), set(sha1))
    ordered = [sorted(w) for w in wanted]
    hits = DigestHits({}, {}, {})
    step = 300
    for at in range(0, max(len(o) for o in ordered), step):
        columns = (Media.sha256, Media.md5, Media.sha1)
        terms = [c.in_(o[at : at + step]) for c, o in zip(columns, ordered, strict=True)]
        rows = s.execute(select(Media.id, *columns).where(or_(*terms), Media.deleted_at.is_(None)))
        for media_id, *found in rows:
            outs = (hits.sha256, hits.md5, hits.sha1)
            for digest, w, out in zip(found, wanted, outs, strict=True):
                if digest is not None and bytes(digest) in w:
                    out[bytes(digest)] = int(media_id)
    return hits


def fingerprints_after(
    s: Session, algorithm: str, after_id: int, limit: int = 100_000, *, version: int | None = None
) -> list[tuple[int, int, bytes, int | None]]:
    """(fingerprint id, media id, value, quality) with id > after_id, in id order
    (fingerprints of soft-deleted media left out: indexes never hold them); only
    ``version``'s when given."""
    query = (
        select(
            FingerprintModel.id,
            FingerprintModel.media_id,
            FingerprintModel.value,
            FingerprintModel.quality,
        )
        .join(Media, Media.id == FingerprintModel.media_id)
        .where(
            FingerprintModel.algorithm == algorithm,
            FingerprintModel.id > after_id,
            Media.deleted_at.is_(None),
        )
        .order_by(FingerprintModel.id)
        .limit(limit)
    )
    if version is not None:
        query = query.where(FingerprintModel.version == version)
    rows = s.execute(query)
    return [(int(a), int(b), bytes(c), d) for a, b, c, d in rows]


def refresh_fingerprints(
    s: Session, algorithm: str, version: int, values: dict[int, bytes]
) -> list[FingerprintModel]:
    """Store ``values`` (media id -> value, position 0) as ``version`` of ``algorithm``
    where a media item has none of that version yet, and delete its other versions
    (where the caller may: under Row-Level Security only its own media's rows go;
    readers ask for one version, so one left behind is never read). The rows added."""
    if not values:
        return []
    ids = list(values)
    have = set(
        s.scalars(
            select(FingerprintModel.media_id).where(
                FingerprintModel.algorithm == algorithm,
                FingerprintModel.version == version,
                FingerprintModel.media_id.in_(ids),
            )
        )
    )
    todo = [m for m in ids if m not in have]
    if not todo:
        return []
    s.execute(
        delete(FingerprintModel).where(
            FingerprintModel.algorithm == algorithm,
            FingerprintModel.version != version,
            FingerprintModel.media_id.in_(todo),
        )
    )
    rows = [
        FingerprintModel(
            media_id=m, algorithm=algorithm, version=version, position=0, value=values[m]
        )
        for m in todo
    ]
    s.add_all(rows)
    s.flush()
    return rows


def features_of(s: Session, media_ids: Iterable[int]) -> dict[int, bytes]:
    """Local-features blobs of still media (position 0), by media id."""
    out: dict[int, bytes] = {}
    for chunk in _chunks(sorted(set(media_ids)), 500):
        rows = s.execute(
            select(FingerprintModel.media_id, FingerprintModel.value)
            .join(Media, Media.id == FingerprintModel.media_id)
            .where(
                FingerprintModel.algorithm == FEATURES_ALGORITHM,
                FingerprintModel.position == 0,
                FingerprintModel.media_id.in_(chunk),
                Media.deleted_at.is_(None),
            )
        )
        out.update((int(m), bytes(v)) for m, v in rows)
    return out


def features_after(
    s: Session, after_id: int, limit: int = 500
) -> list[tuple[int, int, bytes, int]]:
    """(fingerprint id, media id, local-features blob, position) with id > after_id."""
    rows = s.execute(
        select(
            FingerprintModel.id,
            FingerprintModel.media_id,
            FingerprintModel.value,
            FingerprintModel.position,
        )
        .join(Media, Media.id == FingerprintModel.media_id)
        .where(
            FingerprintModel.algorithm == FEATURES_ALGORITHM,
            FingerprintModel.id > after_id,
            Media.deleted_at.is_(None),
        )
        .order_by(FingerprintModel.id)
        .limit(limit)
    )
    return [(int(a), int(b), bytes(c), int(d)) for a, b, c, d in rows]


def feature_blob(s: Session, media_id: int, position: int = 0) -> bytes | None:
    """One local-features blob: a still (position 0) or a video frame (1 + ms)."""
    value = s.scalar(
        select(FingerprintModel.value)
        .join(Media, Media.id == FingerprintModel.media_id)
        .where(
            FingerprintModel.algorithm == FEATURES_ALGORITHM,
            FingerprintModel.media_id == media_id,
            FingerprintModel.position == position,
            Media.deleted_at.is_(None),
        )
    )
    return bytes(value) if value is not None else None


def feature_blobs(s: Session, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Local-features blobs of several stills (position 0) or video frames (1 + ms),
    one query per 200 keys: (media id, position) -> blob, for the keys that have one."""
    out: dict[tuple[int, int], bytes] = {}
    for chunk in _chunks(sorted(set(keys)), 200):  # type: ignore[arg-type]
        rows = s.execute(
            select(FingerprintModel.media_id, FingerprintModel.position, FingerprintModel.value)
            .join(Media, Media.id == FingerprintModel.media_id)
            .where(
                FingerprintModel.algorithm == FEATURES_ALGORITHM,
                # media_id alone first: SQLite reads a row value's IN by scanning every
                # row of the algorithm (~90 ms a query at 100,000 pictures)
                FingerprintModel.media_id.in_(sorted({m for m, _ in chunk})),
                tuple_(FingerprintModel.media_id, FingerprintModel.position).in_(chunk),
                Media.deleted_at.is_(None),
            )
        )
        out.update(((int(m), int(pos)), bytes(value)) for m, pos, value in rows)
    return out


def video_frames_of(
    s: Session, media_ids: Sequence[int]
) -> dict[int, list[tuple[int, bytes, int]]]:
    """media id -> its stored video-frame PDQs as (position, 32-byte value, quality),
    in position order (position = 1 + milliseconds)."""
    out: dict[int, list[tuple[int, bytes, int]]] = {}
    for chunk in _chunks(list(media_ids), 200):
        rows = s.execute(
            select(
                FingerprintModel.media_id,
                FingerprintModel.position,
                FingerprintModel.value,
                FingerprintModel.quality,
            )
            .join(Media, Media.id == FingerprintModel.media_id)
            .where(
                Media.deleted_at.is_(None),
                FingerprintModel.media_id.in_(chunk),
                FingerprintModel.algorithm == "pdq",
                FingerprintModel.position > 0,
            )
            .order_by(FingerprintModel.media_id, FingerprintModel.position)
        )
        for mid, pos, value, q in rows:
            out.setdefault(int(mid), []).append((int(pos), bytes(value), int(q or 0)))
    return out


def audio_fingerprints(s: Session) -> list[tuple[int, str]]:
    """(media id, Chromaprint text form) of every audio fingerprint of live media."""
    rows = s.execute(
        select(FingerprintModel.media_id, FingerprintModel.value)
        .join(Media, Media.id == FingerprintModel.media_id)
        .where(FingerprintModel.algorithm == "chromaprint", Media.deleted_at.is_(None))
    )
    return [(int(mid), bytes(value).decode("ascii")) for mid, value in rows]


def meta_value(s: Session, key: str) -> str | None:
    """A deployment fact from the ``meta`` table (e.g. ``instance_id``)."""
    return s.scalar(select(Meta.value).where(Meta.key == key))


def media_by_id(s: Session, media_id: int) -> Media:
    media = s.get(Media, media_id)
    if media is None or media.deleted_at is not None:
        raise NotFound(f"no media item with id {media_id}")
    kept = s.info.get(KEEP_LOADED)
    if kept is not None:
        kept[media_id] = media
    return media


def max_fingerprint_id(s: Session, algorithm: str) -> int:
    return int(
        s.scalar(
            select(func.max(FingerprintModel.id)).where(FingerprintModel.algorithm == algorithm)
        )
        or 0
    )


def sightings_of(s: Session, media_id: int) -> Sequence[Sighting]:
    return s.scalars(
        select(Sighting)
        .where(Sighting.media_id == media_id, Sighting.deleted_at.is_(None))
        .order_by(Sighting.id)
    ).all()


@dataclass(frozen=True)
class Stats:
    media: int
    sightings: int
    series: int
    identified_victims: int
    victims: int
    offenders: int
    identified_offenders: int
    per_agency: dict[str, dict[str, int]]


def stats(s: Session) -> Stats:
    """Counts over live rows (soft-deleted series, media and sightings left out)."""

    def count(q: object) -> int:
        return int(s.scalar(q) or 0)  # type: ignore[call-overload]

    live_series = Series.deleted_at.is_(None)
    live_sightings = (
        select(Sighting)
        .join(Media, Media.id == Sighting.media_id)
        .where(Sighting.deleted_at.is_(None), Media.deleted_at.is_(None))
        .subquery()
    )
    per: dict[str, dict[str, int]] = {}
    for agency in s.scalars(select(Agency).order_by(Agency.code)):
        per[agency.code] = {
            "series": count(
                select(func.count())
                .select_from(Series)
                .where(Series.agency_id == agency.id, live_series)
            ),
            "cases": count(
                select(func.count()).select_from(Case).where(Case.agency_id == agency.id)
            ),
            "sightings": count(
                select(func.count())
                .select_from(live_sightings)
                .where(live_sightings.c.agency_id == agency.id)
            ),
            "media": count(
                select(func.count(func.distinct(live_sightings.c.media_id))).where(
                    live_sightings.c.agency_id == agency.id
                )
            ),
            "victims_identified": count(
                select(func.count()).select_from(Victim).where(Victim.identified_by == agency.id)
            ),
        }
    return Stats(
        media=count(select(func.count()).select_from(Media).where(Media.deleted_at.is_(None))),
        sightings=count(select(func.count()).select_from(live_sightings)),
        series=count(select(func.count()).select_from(Series).where(live_series)),
        victims=count(select(func.count()).select_from(Victim)),
        identified_victims=count(select(func.count()).select_from(Victim).where(Victim.identified)),
        offenders=count(select(func.count()).select_from(Offender)),
        identified_offenders=count(
            select(func.count()).select_from(Offender).where(Offender.identified)
        ),
        per_agency=per,
    )


def _chunks(items: list[bytes] | list[int], n: int) -> Iterable[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), n):
        yield items[i : i + n]


SERIES_SORTS = ("name", "owner", "created", "changed")
"""Orders of ``series_page``: name, owner agency code, creation, last status change."""


def series_page(
    s: Session,
    ids: Iterable[int],
    *,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Series], int]:
    """One page of the series ``ids`` (not deleted) in the database's order, and the total."""
    wanted = list(set(ids))
    if not wanted:
        return [], 0
    base = select(Series).where(Series.id.in_(wanted), Series.deleted_at.is_(None))
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    if s.get_bind().dialect.name == "postgresql":
        changed = func.greatest(
            Series.created_at,
            func.coalesce(Series.victim_identified_at, Series.created_at),
            func.coalesce(Series.offender_identified_at, Series.created_at),
        )
    else:  # SQLite's scalar max() takes many arguments
        changed = func.max(
            Series.created_at,
            func.coalesce(Series.victim_identified_at, Series.created_at),
            func.coalesce(Series.offender_identified_at, Series.created_at),
        )
    key = {
        "name": Series.name,
        "owner": Agency.code,
        "created": Series.created_at,
        "changed": changed,
    }.get(sort)
    if key is None:
        raise InvalidInput(f"sort {sort!r} is not one of {', '.join(SERIES_SORTS)}")
    q = base.join(Agency, Agency.id == Series.agency_id)
    order = key.desc() if descending else key.asc()
    rows = s.scalars(q.order_by(order, Series.name).limit(limit).offset(offset)).all()
    return list(rows), int(total)
