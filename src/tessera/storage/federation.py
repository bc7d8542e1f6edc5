"""Federation's SQL: peers, a node's own shared records, the hub's log and records,
and what a node makes of records received from others.

Versions decide everything that arrives: a record (origin, origin id) is written
only when its version is higher than the stored one, so applying the same delta or
feed page twice changes nothing (exactly once after any crash, whatever was
committed before it). Set-based per batch, like ``storage.exchange``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from tessera import jsontext
from tessera.errors import Conflict, NotFound
from tessera.storage import bulk_load, repo, sharing
from tessera.storage.bulk import Bulk
from tessera.storage.exchange import ExchangeImport
from tessera.storage.models import (
    Agency,
    ExchangeEntry,
    ExchangeHash,
    FedAgency,
    FedLogEntry,
    FedNotice,
    FedOutbox,
    FedPeer,
    FedRecord,
    FedSent,
    FingerprintModel,
    Media,
    Series,
    SharingGrant,
    Sighting,
    series_media,
    utcnow,
)

_CHUNK = 500
_MEDIA = 1
_CASE = 3
"""Case records (a node's cases, for overlaps) stay on the hub: never in a feed."""
_T_RECORD = cast(Table, FedRecord.__table__)
_T_SENT = cast(Table, FedSent.__table__)
SOURCE_FORMAT = "federation"

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


_T = TypeVar("_T", bound="DataclassInstance")
_FIELD_COUNT: dict[type, int] = {}


def frozen(cls: type[_T], **fields: Any) -> _T:
    """``cls(**fields)`` for a frozen dataclass without slots, every field given: set
    at once instead of one ``object.__setattr__`` each (what a frozen dataclass's
    ``__init__`` does). A full pull makes a few per record received; a field left
    out is a ``TypeError``, and the tests check the result against the
    constructor's, field by field."""
    n = _FIELD_COUNT.get(cls)
    if n is None:
        n = _FIELD_COUNT[cls] = len(dataclasses.fields(cls))
    if len(fields) != n:
        raise TypeError(f"{cls.__name__} has {n} fields, {len(fields)} given")
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


# -- peers ---------------------------------------------------------------------------------


def add_peer(s: Session, name: str, url: str | None, verifier: str, origin: str) -> FedPeer:
    if s.scalar(select(FedPeer.id).where(FedPeer.name == name)) is not None:
        raise Conflict(f"peer {name!r} exists; remove it first to change it")
    if s.scalar(select(FedPeer.name).where(FedPeer.origin == origin)) is not None:
        raise Conflict(f"a peer with the key name {origin!r} exists already")
    peer = FedPeer(
        name=name,
        url=url,
        verifier=verifier,
        origin=origin,
        checkpoint_size=0,
        feed_after=0,
        feed_cursor=0,
        last_delta=0,
    )
    s.add(peer)
    s.flush()
    return peer


def list_peers(s: Session) -> list[FedPeer]:
    return list(s.scalars(select(FedPeer).order_by(FedPeer.name)))


def get_peer(s: Session, name: str) -> FedPeer:
    peer = s.scalar(select(FedPeer).where(FedPeer.name == name))
    if peer is None:
        raise NotFound(f"no peer {name!r} (tessera peer list)")
    return peer


def peer_by_origin(s: Session, origin: str) -> FedPeer | None:
    return s.scalar(select(FedPeer).where(FedPeer.origin == origin))


def remove_peer(s: Session, name: str) -> None:
    s.delete(get_peer(s, name))
    s.flush()


# -- a node's own shared records --------------------------------------------------------------


@dataclass(frozen=True)
class SharedSeries:
    id: int
    name: str
    level: str
    code: str
    country: str
    agency_name: str
    contact: str | None
    victim_identified: bool
    offender_identified: bool
    baseline: bool
    category: int | None
    category_profile: str | None
    grants: dict[str, dict[str, str]] = field(default_factory=dict)
    """Grants to listed countries / agencies: {"country": {CC: level}, "agency": {...}}."""


def own_series(s: Session) -> list[SharedSeries]:
    """Live series of this node's own agencies (not those standing for other nodes'),
    each with its network-wide sharing level (``status`` when no grant says otherwise)
    and its grants to listed countries and agencies."""
    grants: dict[int, str] = {}
    listed: dict[int, dict[str, dict[str, str]]] = {}
    for sid, scope, grantee, level in s.execute(
        select(
            SharingGrant.series_id, SharingGrant.scope, SharingGrant.grantee, SharingGrant.level
        ).where(SharingGrant.series_id.is_not(None))
    ):
        if sid is None:
            continue
        if scope == "network":
            grants[int(sid)] = str(level)
        elif scope in ("country", "agency"):
            listed.setdefault(int(sid), {}).setdefault(str(scope), {})[str(grantee)] = str(level)
    remote = select(FedAgency.agency_id)
    rows = s.execute(
        select(Series, Agency)
        .join(Agency, Agency.id == Series.agency_id)
        .where(Series.deleted_at.is_(None), Series.agency_id.not_in(remote))
        .order_by(Series.id)
    ).all()
    return [
        SharedSeries(
            id=se.id,
            name=se.name,
            level=str(grants.get(se.id, "status")),
            code=a.code,
            country=a.country,
            agency_name=a.name,
            contact=a.contact,
            victim_identified=bool(se.victim_identified),
            offender_identified=bool(se.offender_identified),
            baseline=bool(se.baseline),
            category=se.category,
            category_profile=se.category_profile,
            grants=listed.get(se.id, {}),
        )
        for se, a in rows
    ]


def series_media_hashes(
    s: Session, series_ids: Sequence[int]
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(series id, media id, hashes) of the live media of the given series."""
    for chunk in _chunks(sorted(series_ids), 50):
        rows = s.execute(
            select(
                series_media.c.series_id,
                Media.id,
                Media.md5,
                Media.sha1,
                Media.sha256,
                Media.kind,
            )
            .join(Media, Media.id == series_media.c.media_id)
            .where(
                series_media.c.series_id.in_(chunk),
                series_media.c.deleted_at.is_(None),
                Media.deleted_at.is_(None),
            )
            .order_by(series_media.c.series_id, Media.id)
        ).all()
        pdq: dict[int, bytes] = {}
        mids = sorted({int(r[1]) for r in rows})
        for mc in _chunks(mids):
            for mid, value in s.execute(
                select(FingerprintModel.media_id, FingerprintModel.value)
                .where(
                    FingerprintModel.media_id.in_(mc),
                    FingerprintModel.algorithm == "pdq",
                    FingerprintModel.position == 0,
                )
                .order_by(FingerprintModel.id.desc())
            ):
                pdq[int(mid)] = bytes(value)
        for sid, mid, md5, sha1, sha256, kind in rows:
            h: dict[str, Any] = {}
            for k, v in (("md5", md5), ("sha1", sha1), ("sha256", sha256)):
                if v:
                    h[k] = bytes(v).hex()
            if int(mid) in pdq and len(pdq[int(mid)]) == 32:
                h["pdq"] = pdq[int(mid)].hex()
            if not h:
                continue
            if kind and kind != "other":
                h["kind"] = kind
            yield int(sid), int(mid), h


def sent_state(s: Session) -> dict[str, tuple[int, str, bool]]:
    return {
        str(i): (int(v), str(d), bool(x))
        for i, v, d, x in s.execute(
            select(FedSent.origin_id, FedSent.version, FedSent.digest, FedSent.deleted)
        )
    }


def record_sent(s: Session, rows: Sequence[tuple[str, int, str, bool]], known: set[str]) -> None:
    new = [r for r in rows if r[0] not in known]
    old = [r for r in rows if r[0] in known]
    for chunk in _chunks(new, 5000):
        s.execute(
            insert(_T_SENT),
            [{"origin_id": i, "version": v, "digest": d, "deleted": x} for i, v, d, x in chunk],
        )
    for i, v, d, x in old:
        s.execute(
            update(FedSent).where(FedSent.origin_id == i).values(version=v, digest=d, deleted=x)
        )


def outbox(s: Session) -> list[FedOutbox]:
    return list(s.scalars(select(FedOutbox).order_by(FedOutbox.delta_no)))


def outbox_summary(s: Session) -> tuple[int, int]:
    row = s.execute(select(func.count(), func.coalesce(func.sum(FedOutbox.records), 0))).one()
    return int(row[0]), int(row[1])


def next_delta_no(s: Session, accepted: int) -> int:
    top = s.scalar(select(func.max(FedOutbox.delta_no)))
    return max(int(top or 0), accepted) + 1


def add_outbox(s: Session, delta_no: int, sha256: str, records: int, body: bytes) -> None:
    s.add(FedOutbox(delta_no=delta_no, sha256=sha256, records=records, body=body))
    s.flush()


def drop_outbox(s: Session, upto: int) -> int:
    r = s.execute(delete(FedOutbox).where(FedOutbox.delta_no <= upto))
    return int(getattr(r, "rowcount", 0) or 0)


# -- the hub: its log and its records -----------------------------------------------------------


def log_leaves(s: Session) -> list[bytes]:
    return [bytes(x) for x in s.scalars(select(FedLogEntry.leaf_hash).order_by(FedLogEntry.seq))]


def log_entry(s: Session, origin: str, delta_no: int) -> FedLogEntry | None:
    return s.scalar(
        select(FedLogEntry).where(FedLogEntry.origin == origin, FedLogEntry.delta_no == delta_no)
    )


def last_log_entry(s: Session) -> FedLogEntry | None:
    return s.scalar(select(FedLogEntry).order_by(FedLogEntry.seq.desc()).limit(1))


def log_entry_at(s: Session, seq: int) -> FedLogEntry | None:
    return s.get(FedLogEntry, seq)


def last_delta_of(s: Session, origin: str) -> int:
    return int(
        s.scalar(select(func.max(FedLogEntry.delta_no)).where(FedLogEntry.origin == origin)) or 0
    )


def append_log(s: Session, entry: FedLogEntry) -> None:
    s.add(entry)
    s.flush()


@dataclass(frozen=True)
class StoredRecord:
    origin: str
    origin_id: str
    kind: int
    series_key: str
    version: int
    deleted: bool
    payload: dict[str, Any] | None
    log_seq: int
    local_id: int | None
    hidden: bool = False
    """A deletion the hub makes for a node outside the series' audience."""


def _existing(
    s: Session, origin: str, ids: Sequence[str]
) -> dict[str, tuple[int, int, int | None]]:
    """origin id -> (row id, version, local id)."""
    b = Bulk(s)
    out: dict[str, tuple[int, int, int | None]] = {}
    for rid, oid, v, local in b.where_in(
        f"SELECT id, origin_id, version, local_id FROM fed_record WHERE origin = {b.mark} AND",
        "origin_id",
        sorted(set(ids)),
        sql_type="TEXT",
        params=(origin,),
    ):
        out[str(oid)] = (int(rid), int(v), None if local is None else int(local))
    return out


@dataclass(frozen=True)
class Incoming:
    origin: str
    origin_id: str
    kind: int
    series_key: str
    version: int
    deleted: bool
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Newer:
    """A received record newer than the stored one (``row_id`` None: not stored yet)."""

    record: Incoming
    row_id: int | None
    old_local: int | None


def latest_of(records: Iterable[Incoming]) -> dict[str, dict[str, Newer]]:
    """origin -> origin id -> the highest version of each key among ``records``, as
    not stored yet (what ``newer`` finds of a fresh key): a pure function of a page,
    made on the sync's fetch thread while the page before is applied."""
    latest: dict[str, dict[str, Newer]] = {}
    for r in records:
        mine = latest.get(r.origin)
        if mine is None:
            mine = latest[r.origin] = {}
        cur = mine.get(r.origin_id)
        if cur is None or r.version > cur.record.version:
            mine[r.origin_id] = frozen(Newer, record=r, row_id=None, old_local=None)
    return latest


def newer(
    s: Session,
    records: Sequence[Incoming],
    latest: Mapping[str, Mapping[str, Newer]] | None = None,
) -> list[Newer]:
    """The records whose version is higher than the stored one (the highest of each
    key when a batch holds several); older or equal versions are left out.
    ``latest``: ``latest_of(records)``, made earlier."""
    out: list[Newer] = []
    for origin, mine in (latest_of(records) if latest is None else latest).items():
        have = _existing(s, origin, list(mine))
        if not have:  # a fresh node's pull: none of them stored yet
            out.extend(mine.values())
            continue
        for oid, n in mine.items():
            old = have.get(oid)
            if old is None:
                out.append(n)
            elif n.record.version > old[1]:
                out.append(frozen(Newer, record=n.record, row_id=old[0], old_local=old[2]))
    return out


_RECORD_COLUMNS = (
    "origin",
    "origin_id",
    "kind",
    "series_key",
    "version",
    "deleted",
    "payload",
    "log_seq",
    "local_id",
)


def store_records(
    s: Session,
    items: Sequence[tuple[Newer, int | None]],
    log_seq: int,
    *,
    media_payload: bool = True,
) -> None:
    """Write newer records (with their local series / media id) in bulk (raw driver
    statements: a full pull writes one row per record received). ``media_payload``
    False: a media record keeps its key, version and local id but not its hashes (a
    node: the local media row and its fingerprints hold them, and nothing reads
    them here; a hub forwards them)."""
    b = Bulk(s, ("fed_record",))
    rows: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    null = b.json(None)
    for n, local in items:
        r = n.record
        # as the JSON column stores it: None is JSON null
        payload = (
            null if r.deleted or (r.kind == _MEDIA and not media_payload) else b.json(r.payload)
        )
        if n.row_id is None:
            rows.append(
                (
                    r.origin,
                    r.origin_id,
                    r.kind,
                    r.series_key,
                    r.version,
                    r.deleted,
                    payload,
                    log_seq,
                    local,
                )
            )
        else:
            changes.append((r.version, r.deleted, payload, r.series_key, log_seq, local, n.row_id))
    b.insert("fed_record", _RECORD_COLUMNS, rows, json_columns=("payload",))
    if changes:
        m = b.mark
        json_hole = f"CAST({m} AS JSON)" if b.pg else m
        b.execute_many(
            f"UPDATE fed_record SET version = {m}, deleted = {m}, payload = {json_hole}, "
            f"series_key = {m}, log_seq = {m}, local_id = {m} WHERE id = {m}",
            changes,
        )


def upsert_records(s: Session, records: Sequence[Incoming], log_seq: int) -> int:
    """Hub: store the records newer than what is stored; returns how many."""
    items = newer(s, records)
    store_records(s, [(n, None) for n in items], log_seq)
    return len(items)


def set_local_ids(s: Session, origin: str, ids: dict[str, int | None]) -> None:
    for oid, local in ids.items():
        s.execute(
            update(FedRecord)
            .where(FedRecord.origin == origin, FedRecord.origin_id == oid)
            .values(local_id=local)
        )


def feed_pages(s: Session, after: int, upto: int, limit: int) -> int:
    """The last log seq of the page starting after ``after``: whole log entries, at
    most ``limit`` records unless one entry alone holds more."""
    end = after
    total = 0
    for seq, n in s.execute(
        select(FedRecord.log_seq, func.count())
        .where(FedRecord.log_seq > after, FedRecord.log_seq <= upto, FedRecord.kind != _CASE)
        .group_by(FedRecord.log_seq)
        .order_by(FedRecord.log_seq)
    ):
        if total and total + int(n) > limit:
            break
        end, total = int(seq), total + int(n)
    return end if total else upto


_COLS = (
    FedRecord.origin,
    FedRecord.origin_id,
    FedRecord.kind,
    FedRecord.series_key,
    FedRecord.version,
    FedRecord.deleted,
    FedRecord.payload,
    FedRecord.log_seq,
    FedRecord.local_id,
)


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        origin=row[0],
        origin_id=row[1],
        kind=int(row[2]),
        series_key=row[3],
        version=int(row[4]),
        deleted=bool(row[5]),
        payload=row[6],
        log_seq=int(row[7]),
        local_id=row[8],
    )


def feed_records(
    s: Session, after: int, end: int, exclude_origin: str | None
) -> tuple[list[StoredRecord], list[StoredRecord]]:
    """(series, media and full records) changed in log entries ``after < seq <= end``,
    plus the current version of every series those records belong to."""
    # raw driver rows (a page is up to 50,000 records; the ORM's JSON processing of
    # each payload was a third of the hub's time per page)
    b = Bulk(s)
    m = b.mark
    sql = (
        f"SELECT {', '.join(_RECORD_COLUMNS)} FROM fed_record "
        f"WHERE log_seq > {m} AND log_seq <= {m} AND kind != {m}"
    )
    params: tuple[Any, ...] = (after, end, _CASE)
    if exclude_origin is not None:
        sql += f" AND origin != {m}"
        params += (exclude_origin,)
    load = b.load_json
    native = jsontext.loads_native
    rows = [
        frozen(
            StoredRecord,
            origin=o,
            origin_id=oid,
            kind=int(kind),
            series_key=skey,
            version=int(v),
            deleted=bool(d),
            # a media payload (checked on accept: texts only) through orjson alone
            payload=None
            if p is None
            else (native(p) if kind == _MEDIA and not b.pg else None) or load(p),
            log_seq=int(seq),
            local_id=local,
            hidden=False,
        )
        for o, oid, kind, skey, v, d, p, seq, local in b.rows(
            sql + " ORDER BY log_seq, kind, id", params
        )
    ]
    series = {(r.origin, r.origin_id): r for r in rows if r.kind == 0}
    media = [r for r in rows if r.kind != 0]  # media and their full records
    need: dict[str, set[str]] = {}
    for r in media:
        if (r.origin, r.series_key) not in series:
            need.setdefault(r.origin, set()).add(r.series_key)
    for origin, keys in need.items():
        for chunk in _chunks(sorted(keys)):
            for row in s.execute(
                select(*_COLS).where(
                    FedRecord.origin == origin,
                    FedRecord.kind == 0,
                    FedRecord.origin_id.in_(chunk),
                )
            ):
                st = _stored(row)
                series[(st.origin, st.origin_id)] = st
    return list(series.values()), media


def count_records(s: Session, *, kind: int | None = None, live: bool = True) -> dict[str, int]:
    """origin -> number of (live) records."""
    q = select(FedRecord.origin, func.count()).group_by(FedRecord.origin)
    if kind is not None:
        q = q.where(FedRecord.kind == kind)
    if live:
        q = q.where(FedRecord.deleted.is_(False))
    return {str(o): int(n) for o, n in s.execute(q)}


# -- a node: records of other nodes as local (hash-only) media ---------------------------------


def remote_agency(
    s: Session, origin: str, owner: dict[str, Any], cache: dict[tuple[str, str], Agency]
) -> Agency:
    """The local agency standing for ``owner`` of node ``origin`` (made on first sight).

    Its code is the owner's, or ``CODE@n`` when a local agency (or another node's)
    has that code already; name and contact follow the newest record."""
    code = str(owner["code"])
    hit = cache.get((origin, code))
    if hit is None:
        row = s.execute(
            select(Agency)
            .join(FedAgency, FedAgency.agency_id == Agency.id)
            .where(FedAgency.origin == origin, FedAgency.code == code)
        ).scalar_one_or_none()
        if row is None:
            local = code
            n = 1
            while s.scalar(select(Agency.id).where(Agency.code == local)) is not None:
                n += 1
                local = f"{code[:28]}@{n}"
            row = Agency(
                code=local,
                country=str(owner.get("country") or "ZZ")[:2].upper(),
                name=str(owner.get("name") or code)[:200],
                contact=owner.get("contact"),
            )
            s.add(row)
            s.flush()
            s.add(FedAgency(agency_id=row.id, origin=origin, code=code))
            s.flush()
        hit = cache[(origin, code)] = row
    if owner.get("contact") and hit.contact != owner.get("contact"):
        hit.contact = owner.get("contact")
    if owner.get("name") and hit.name != owner.get("name"):
        hit.name = str(owner["name"])[:200]
    return hit


def remote_series_name(origin: str, key: str, payload: dict[str, Any] | None) -> str:
    name = (payload or {}).get("name")
    base = f"{name} @{origin}" if name else f"#{key} @{origin}"
    return base[:200]


def apply_remote_series(
    s: Session, r: Incoming, agency: Agency | None, local_id: int | None
) -> int | None:
    """Create or update the local series of a received series record; a deleted one
    is soft-deleted with its media links (and hash-only media nobody else holds)."""
    series = s.get(Series, local_id) if local_id is not None else None
    if r.deleted or r.payload is None:
        if series is not None:
            drop_series_media(s, series.id, None)
            series.deleted_at = utcnow()
            series.deleted_by = f"federation:{r.origin}"
        return local_id
    assert agency is not None
    p = r.payload
    name = remote_series_name(r.origin, r.origin_id, p)
    if series is None:
        taken = s.scalar(select(Series).where(Series.name == name))
        if taken is not None:
            name = f"{name[:180]} ({r.origin_id})"
        series = repo.create_series(s, name, agency)
    series.name = (
        name
        if series.name != name
        and not s.scalar(select(Series.id).where(Series.name == name, Series.id != series.id))
        else series.name
    )
    series.agency_id = agency.id
    series.deleted_at = None
    series.deleted_by = None
    series.baseline = bool(p.get("baseline", False))
    series.category = p.get("category")
    series.category_profile = p.get("category_profile")
    for who in ("victim", "offender"):
        flag = bool(p.get(f"{who}_identified", False))
        if getattr(series, f"{who}_identified") != flag:
            setattr(series, f"{who}_identified", flag)
            setattr(series, f"{who}_identified_by", agency.id if flag else None)
            setattr(series, f"{who}_identified_at", utcnow() if flag else None)
    s.flush()
    # the origin's grants, as received (the caller kept only those naming this node's
    # own countries and agencies); an earlier grant no longer given goes
    s.execute(delete(SharingGrant).where(SharingGrant.series_id == series.id))
    by = f"federation:{r.origin}"
    sharing.set_grant(
        s, "series", series.id, scope="network", grantee="", level=str(p["level"]), granted_by=by
    )
    for scope, to in (p.get("grants") or {}).items():
        for who, level in sorted(to.items()):
            sharing.set_grant(
                s, "series", series.id, scope=scope, grantee=who, level=level, granted_by=by
            )
    return series.id


def own_agencies(s: Session) -> tuple[set[str], set[str]]:
    """(codes, countries) of this node's own agencies (not those standing for others)."""
    rows = s.execute(
        select(Agency.code, Agency.country).where(Agency.id.not_in(select(FedAgency.agency_id)))
    ).all()
    return {str(c) for c, _ in rows}, {str(k) for _, k in rows}


class MediaInput:
    """What ``ExchangeImport`` needs of a received media record (one per record of a
    full pull: slots, and the fields a received record never has on the class).

    A pure function of the record but for ``series`` (the local series' name, set
    when it is applied): ``media_inputs`` makes them on the sync's fetch thread while
    the page before is applied."""

    __slots__ = ("ident", "kind", "md5", "pdq", "series", "sha1", "sha256", "source_id")
    photodna: str | None = None
    other_hashes: tuple[Any, ...] = ()
    media_size: int | None = None
    category: int | None = None
    category_profile: str | None = None
    victim_identified: bool | None = None
    offender_identified: bool | None = None
    relative_path: str | None = None
    case_ref: str | None = None
    deleted: bool = False

    def __init__(self, series: str | None, source_id: str, p: dict[str, Any]) -> None:
        self.md5: str | None = p.get("md5")
        self.sha1: str | None = p.get("sha1")
        self.sha256: str | None = p.get("sha256")
        self.pdq: str | None = p.get("pdq")
        self.kind: str | None = p.get("kind")
        self.series: str | None = series
        self.source_id: str | None = source_id
        ident = []
        if self.sha256:
            ident.append(("sha256", self.sha256))
        if self.sha1:
            ident.append(("sha1", self.sha1))
        if self.md5:
            ident.append(("md5", self.md5))
        if self.pdq:
            ident.append(("pdq", self.pdq))
        self.ident: list[tuple[str, str]] = ident

    def identity(self) -> list[tuple[str, str]]:
        return self.ident

    def entry_data(self) -> dict[str, Any]:
        return {}


def _media_input(series: str | None, r: Incoming) -> MediaInput:
    return MediaInput(series, f"{r.origin}/{r.origin_id}"[:512], r.payload or {})


def media_inputs(records: Sequence[Incoming]) -> dict[int, MediaInput]:
    """``id(record)`` -> its ``MediaInput`` (series unset), for the live media records
    among ``records`` (what ``apply_remote_media`` is given back as ``made``: the
    records must be these very objects, kept alive by the caller)."""
    return {id(r): _media_input(None, r) for r in records if r.kind == _MEDIA and not r.deleted}


IMPORT_BATCH = 10_000
"""Received media records per ``ExchangeImport.apply`` batch."""


def apply_remote_media(
    s: Session,
    agency: Agency,
    records: Sequence[tuple[str, Incoming]],
    made: Mapping[int, MediaInput] | None = None,
    series_ids: Mapping[str, int] | None = None,
    *,
    held: bulk_load.HeldLinkTriggers | None = None,
) -> list[int]:
    """Media of remote series (name, record) of one remote agency, as hash-only media
    (or the local media with those digests) linked to their series. Returns the
    media ids, in order. ``made``: ``media_inputs`` of these records, made earlier;
    ``series_ids``: the ids of those series (name -> id), all the agency's.

    ``held``: a fresh node's big pull (``storage.bulk_load``: the caller dropped the
    deferred indexes) links new media with the link triggers held by the caller for
    its whole feed page, who restores them before the page commits; without it,
    the triggers are dropped and created again around each batch's new links."""
    job = ExchangeImport(s, agency=agency, case=None, series=None, source_format=SOURCE_FORMAT)
    if series_ids:
        job.known_series(series_ids)
    if held is not None:
        job.hold_link_triggers(held)
    elif bulk_load.missing(s):
        job.link_new = lambda pairs: bulk_load.link_new_media(s, pairs)
    if len(records) > IMPORT_BATCH and s.get_bind().dialect.name == "sqlite":
        # a full pull writes ~6 index entries per record at random places: past 64 MiB
        # (the import's own page cache) a million-record node re-reads index pages
        s.execute(text("PRAGMA cache_size = -262144"))
    out: list[int] = []
    for lo in range(0, len(records), IMPORT_BATCH):
        batch: list[tuple[int, MediaInput]] = []
        for n, (name, r) in enumerate(records[lo : lo + IMPORT_BATCH], lo + 1):
            m = made.get(id(r)) if made else None
            if m is None:
                m = _media_input(name, r)
            else:
                m.series = name
            batch.append((n, m))
        out.extend(job.apply(batch))
    return out


def drop_series_media(s: Session, series_id: int, media_ids: Iterable[int] | None) -> None:
    """Unlink media from a remote series; media no other record describes lose this
    agency's entry, and hash-only media nobody holds any more go."""
    series = s.get(Series, series_id)
    if series is None:
        return
    cond = series_media.c.series_id == series_id
    if media_ids is not None:
        ids = sorted(set(media_ids))
        gone: list[int] = []
        for chunk in _chunks(ids):
            s.execute(delete(series_media).where(cond, series_media.c.media_id.in_(chunk)))
            gone.extend(chunk)
    else:
        gone = [int(x) for x in s.scalars(select(series_media.c.media_id).where(cond))]
        s.execute(delete(series_media).where(cond))
    for chunk in _chunks(sorted(set(gone))):
        still = {
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id)
                .join(Series, Series.id == series_media.c.series_id)
                .where(series_media.c.media_id.in_(chunk), Series.agency_id == series.agency_id)
            )
        }
        lose = [m for m in chunk if m not in still]
        if lose:
            s.execute(
                delete(ExchangeEntry).where(
                    ExchangeEntry.agency_id == series.agency_id,
                    ExchangeEntry.media_id.in_(lose),
                    ExchangeEntry.source_format == SOURCE_FORMAT,
                )
            )
        orphans = [
            int(x)
            for x in s.scalars(
                select(Media.id).where(
                    Media.id.in_(chunk),
                    Media.has_content.is_(False),
                    ~select(ExchangeEntry.id).where(ExchangeEntry.media_id == Media.id).exists(),
                    ~select(Sighting.id).where(Sighting.media_id == Media.id).exists(),
                    ~select(series_media.c.media_id)
                    .where(series_media.c.media_id == Media.id)
                    .exists(),
                )
            )
        ]
        if orphans:
            s.execute(delete(ExchangeHash).where(ExchangeHash.media_id.in_(orphans)))
            s.execute(delete(FingerprintModel).where(FingerprintModel.media_id.in_(orphans)))
            s.execute(delete(Media).where(Media.id.in_(orphans)))


def local_series_of(s: Session, origin: str, keys: Iterable[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for chunk in _chunks(sorted(set(keys))):
        for oid, local, deleted in s.execute(
            select(FedRecord.origin_id, FedRecord.local_id, FedRecord.deleted).where(
                FedRecord.origin == origin, FedRecord.kind == 0, FedRecord.origin_id.in_(chunk)
            )
        ):
            out[str(oid)] = None if (local is None or deleted) else int(local)
    return out


def series_owners(s: Session, series_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Series id -> (owner agency id, name), for those that exist."""
    out: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(sorted(set(series_ids))):
        for sid, agency_id, name in s.execute(
            select(Series.id, Series.agency_id, Series.name).where(Series.id.in_(chunk))
        ):
            out[int(sid)] = (int(agency_id), str(name))
    return out


def series_row(s: Session, series_id: int) -> Series | None:
    return s.get(Series, series_id)


def agency_row(s: Session, agency_id: int) -> Agency | None:
    return s.get(Agency, agency_id)


# -- trust in origins, not in the hub ----------------------------------------------------------


def attests_of(s: Session, seqs: Iterable[int]) -> list[str]:
    """The origins' signed manifests (JSON) of these log entries, in log order."""
    out: list[str] = []
    for chunk in _chunks(sorted(set(seqs))):
        out.extend(
            str(a)
            for a in s.scalars(
                select(FedLogEntry.attest)
                .where(FedLogEntry.seq.in_(chunk), FedLogEntry.attest.is_not(None))
                .order_by(FedLogEntry.seq)
            )
        )
    return out


def origin_keys(s: Session, origins: Iterable[str]) -> dict[str, str]:
    """origin -> verifier key text, for the registered peers among ``origins``."""
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(origins))):
        for o, v in s.execute(
            select(FedPeer.origin, FedPeer.verifier).where(FedPeer.origin.in_(chunk))
        ):
            out[str(o)] = str(v)
    return out


def pin_origin(s: Session, origin: str, verifier: str) -> FedPeer:
    """Remember a node's key on first sight (no URL: not a hub); later keys must match."""
    name = origin if len(origin) <= 64 else origin[:55]
    n = 1
    while s.scalar(select(FedPeer.id).where(FedPeer.name == name)) is not None:
        n += 1
        name = f"{origin[:55]}~{n}"
    return add_peer(s, name, None, verifier, origin)


# -- blind-hit notices between nodes -------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRow:
    sender: str
    notice_id: str
    recipient: str
    body: dict[str, Any]
    signature: str
    carried_by: int


def _notice_row(n: FedNotice) -> NoticeRow:
    return NoticeRow(
        n.sender, n.notice_id, n.recipient, dict(n.body), n.signature, int(n.carried_by)
    )


def add_notice(s: Session, row: NoticeRow) -> bool:
    """Store a notice once: False when (sender, notice id) is already stored."""
    seen = s.scalar(
        select(FedNotice.id).where(
            FedNotice.sender == row.sender, FedNotice.notice_id == row.notice_id
        )
    )
    if seen is not None:
        return False
    s.add(
        FedNotice(
            sender=row.sender,
            notice_id=row.notice_id,
            recipient=row.recipient,
            body=row.body,
            signature=row.signature,
            carried_by=row.carried_by,
        )
    )
    s.flush()
    return True


def pending_notices(s: Session, sender: str) -> list[NoticeRow]:
    """A node's own notices no delta has carried yet."""
    q = (
        select(FedNotice)
        .where(FedNotice.sender == sender, FedNotice.carried_by == 0)
        .order_by(FedNotice.id)
    )
    return [_notice_row(n) for n in s.scalars(q)]


def mark_carried(s: Session, sender: str, ids: Sequence[str], delta_no: int) -> None:
    for chunk in _chunks(list(ids)):
        s.execute(
            update(FedNotice)
            .where(FedNotice.sender == sender, FedNotice.notice_id.in_(chunk))
            .values(carried_by=delta_no)
        )


def notices_for(s: Session, recipient: str, after: int, end: int) -> list[NoticeRow]:
    """Hub: the notices to ``recipient`` carried by log entries ``after < seq <= end``."""
    q = (
        select(FedNotice)
        .where(
            FedNotice.recipient == recipient,
            FedNotice.carried_by > after,
            FedNotice.carried_by <= end,
        )
        .order_by(FedNotice.carried_by, FedNotice.id)
    )
    return [_notice_row(n) for n in s.scalars(q)]


def remote_keys_of(
    s: Session, series_id: int, media_ids: Iterable[int]
) -> tuple[str, str, list[str]] | None:
    """(origin, series key, media keys) when ``series_id`` is a received series: the
    ids its origin gave them (what a notice to that origin may name)."""
    row = s.execute(
        select(FedRecord.origin, FedRecord.origin_id).where(
            FedRecord.kind == 0, FedRecord.local_id == series_id, FedRecord.deleted.is_(False)
        )
    ).first()
    if row is None:
        return None
    origin, key = str(row[0]), str(row[1])
    keys: list[str] = []
    for chunk in _chunks(sorted(set(media_ids))):
        keys.extend(
            str(k)
            for k in s.scalars(
                select(FedRecord.origin_id).where(
                    FedRecord.origin == origin,
                    FedRecord.kind == 1,
                    FedRecord.series_key == key,
                    FedRecord.deleted.is_(False),
                    FedRecord.local_id.in_(chunk),
                )
            )
        )
    return origin, key, sorted(keys)


def own_series_media(
    s: Session, series_id: int, media_ids: Iterable[int]
) -> tuple[Series, set[int]] | None:
    """The live series ``series_id`` of one of this node's own agencies and which of
    ``media_ids`` it holds now (None: no such series, or one standing for another node)."""
    series = s.get(Series, series_id)
    if series is None or series.deleted_at is not None:
        return None
    if s.scalar(select(FedAgency.agency_id).where(FedAgency.agency_id == series.agency_id)):
        return None
    held: set[int] = set()
    for chunk in _chunks(sorted(set(media_ids))):
        held.update(
            int(m)
            for m in s.scalars(
                select(series_media.c.media_id).where(
                    series_media.c.series_id == series_id,
                    series_media.c.deleted_at.is_(None),
                    series_media.c.media_id.in_(chunk),
                )
            )
        )
    return series, held


__all__ = [
    "SOURCE_FORMAT",
    "Incoming",
    "MediaInput",
    "Newer",
    "NoticeRow",
    "SharedSeries",
    "StoredRecord",
    "add_notice",
    "add_outbox",
    "add_peer",
    "append_log",
    "apply_remote_media",
    "apply_remote_series",
    "attests_of",
    "count_records",
    "drop_outbox",
    "drop_series_media",
    "feed_pages",
    "feed_records",
    "frozen",
    "get_peer",
    "last_delta_of",
    "last_log_entry",
    "latest_of",
    "list_peers",
    "local_series_of",
    "log_entry",
    "log_entry_at",
    "log_leaves",
    "mark_carried",
    "media_inputs",
    "newer",
    "next_delta_no",
    "notices_for",
    "origin_keys",
    "outbox",
    "outbox_summary",
    "own_agencies",
    "own_series",
    "own_series_media",
    "peer_by_origin",
    "pending_notices",
    "pin_origin",
    "record_sent",
    "remote_agency",
    "remote_keys_of",
    "remote_series_name",
    "remove_peer",
    "sent_state",
    "series_media_hashes",
    "series_owners",
    "set_local_ids",
    "store_records",
    "upsert_records",
]
