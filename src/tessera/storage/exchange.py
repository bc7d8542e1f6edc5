"""Applying exchange records to the database, and reading them back out for export.

Records arrive in batches inside one transaction that the caller owns (an import
is all or nothing). Each record is matched to a media item by the strongest
digest it carries (SHA-256, then SHA-1, then MD5; records with none by their first
opaque hash, through ``exchange_hash``); a digest that contradicts the
matched item is an error naming the record. Unmatched records become hash-only
media (``has_content`` false). What the agency's file said lives in one
``exchange_entry`` per (media, agency), so importing the same file twice changes
nothing and an updated file updates the entry in place.

Everything here is set-based per batch (one query per digest kind, bulk inserts)
so an import keeps pace with a streaming reader.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Select,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from tessera.errors import InvalidRecord as RecordError
from tessera.storage import repo
from tessera.storage.models import (
    Agency,
    Case,
    ExchangeEntry,
    ExchangeHash,
    FingerprintModel,
    Media,
    Series,
    Sighting,
    series_media,
    utcnow,
)

OPAQUE_VERSION = 0
"""``fingerprint.version`` of hashes Tessera cannot compute (kept as received text)."""
PDQ_VERSION = 1
_CHUNK = 500
# core tables: bulk inserts skip the ORM's per-row bookkeeping
_T_MEDIA = cast(Table, Media.__table__)
_T_FINGERPRINT = cast(Table, FingerprintModel.__table__)
_T_EXCHANGEHASH = cast(Table, ExchangeHash.__table__)
_T_EXCHANGEENTRY = cast(Table, ExchangeEntry.__table__)
_T_SIGHTING = cast(Table, Sighting.__table__)


class OpaqueValue(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...


class StoredRecordFields(Protocol):
    """What storage needs of an exchange record (``tessera.exchange.model`` builds them;
    storage does not import the layer above it)."""

    @property
    def md5(self) -> str | None: ...
    @property
    def sha1(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def pdq(self) -> str | None: ...
    @property
    def photodna(self) -> str | None: ...
    @property
    def other_hashes(self) -> Sequence[OpaqueValue]: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def media_size(self) -> int | None: ...
    @property
    def source_id(self) -> str | None: ...
    @property
    def series(self) -> str | None: ...
    @property
    def category(self) -> int | None: ...
    @property
    def category_profile(self) -> str | None: ...
    @property
    def victim_identified(self) -> bool | None: ...
    @property
    def offender_identified(self) -> bool | None: ...
    @property
    def relative_path(self) -> str | None: ...
    @property
    def case_ref(self) -> str | None: ...
    @property
    def deleted(self) -> bool: ...
    def identity(self) -> list[tuple[str, str]]: ...
    def entry_data(self) -> dict[str, Any]: ...


def opaque_key(algorithm: str, value: str) -> bytes:
    return hashlib.sha256(f"{algorithm}\x00{value}".encode()).digest()


@dataclass
class ImportCounts:
    records: int = 0
    new_media: int = 0
    matched_media: int = 0
    new_entries: int = 0
    updated_entries: int = 0
    unchanged_entries: int = 0
    deleted_entries: int = 0
    series_created: list[str] = field(default_factory=list)
    series_updated: list[str] = field(default_factory=list)


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _by(s: Session, column: Any, keys: set[bytes]) -> dict[bytes, tuple[Any, ...]]:
    out: dict[bytes, tuple[Any, ...]] = {}
    cols = (Media.id, Media.sha256, Media.sha1, Media.md5, Media.has_content)
    for chunk in _chunks(sorted(keys)):
        for row in s.execute(select(*cols).where(column.in_(chunk))):
            key: Any = row[{"sha256": 1, "sha1": 2, "md5": 3}[column.key]]
            out.setdefault(bytes(key), tuple(row))
    return out


class ExchangeImport:
    """One import into an open session: call :meth:`apply` per batch, then :meth:`finish`."""

    def __init__(
        self,
        s: Session,
        *,
        agency: Agency,
        case: Case | None,
        series: str | None,
        source_format: str,
    ) -> None:
        self.s = s
        self.agency = agency
        self.case = case
        self._cases: dict[str, int] = {}
        self.default_series = series
        self.source_format = source_format
        self.counts = ImportCounts()
        if s.get_bind().dialect.name == "sqlite":
            # random digests hit index pages all over: a 64 MiB page cache for this
            # connection saves re-reading them on large imports
            s.execute(text("PRAGMA cache_size = -65536"))
        self._series: dict[str, tuple[int, int]] = {}  # name -> (id, owner agency id)
        self._flags: dict[int, dict[str, bool]] = {}
        self.touched_media: list[int] = []

    # -- matching --------------------------------------------------------------------

    def _match(self, batch: Sequence[tuple[int, StoredRecordFields]]) -> list[int | None]:
        s = self.s
        want: dict[str, set[bytes]] = {"sha256": set(), "sha1": set(), "md5": set()}
        opaque: dict[bytes, None] = {}
        for _, r in batch:
            for alg, keys in want.items():
                v = getattr(r, alg)
                if v:
                    keys.add(bytes.fromhex(v))
            if not (r.sha256 or r.sha1 or r.md5):
                opaque.update(dict.fromkeys(opaque_key(a, v) for a, v in r.identity()))
        found = {alg: _by(s, getattr(Media, alg), keys) for alg, keys in want.items() if keys}
        by_opaque: dict[bytes, int] = {}
        for chunk in _chunks(list(opaque)):
            for key, mid in s.execute(
                select(ExchangeHash.key, ExchangeHash.media_id).where(ExchangeHash.key.in_(chunk))
            ):
                by_opaque[bytes(key)] = int(mid)
        out: list[int | None] = []
        fills: dict[int, dict[str, bytes]] = {}
        for number, r in batch:
            row = None
            for alg in ("sha256", "sha1", "md5"):
                v = getattr(r, alg)
                if v and (row := found.get(alg, {}).get(bytes.fromhex(v))) is not None:
                    break
            if row is None:
                if not (r.sha256 or r.sha1 or r.md5):
                    okeys = [opaque_key(a, v) for a, v in r.identity()]
                    out.append(next((by_opaque[k] for k in okeys if k in by_opaque), None))
                else:
                    out.append(None)
                continue
            mid, stored = int(row[0]), {"sha256": row[1], "sha1": row[2], "md5": row[3]}
            for alg in ("sha256", "sha1", "md5"):
                v = getattr(r, alg)
                if not v:
                    continue
                have = stored[alg]
                if have is not None and bytes(have) != bytes.fromhex(v):
                    raise RecordError(
                        f"{alg.upper()} {v} contradicts stored media {mid} "
                        f"({alg.upper()} {bytes(have).hex()}) matched by its other digests",
                        record=number,
                        field=alg.upper(),
                    )
                if have is None:
                    fills.setdefault(mid, {})[alg] = bytes.fromhex(v)
            out.append(mid)
        for mid, values in fills.items():
            s.execute(update(Media).where(Media.id == mid).values(**values))
        return out

    # -- applying ----------------------------------------------------------------------

    def apply(self, batch: Sequence[tuple[int, StoredRecordFields]]) -> None:
        """Apply numbered records (``(record number, record)``) in the open transaction."""
        deletions = [(n, r) for n, r in batch if r.deleted]
        batch = [(n, r) for n, r in batch if not r.deleted]
        self.counts.records += len(batch) + len(deletions)
        if deletions:
            self._delete(deletions)
        if not batch:
            return
        idents = [r.identity() for _, r in batch]
        for (number, _), ident in zip(batch, idents, strict=True):
            if not ident:
                raise RecordError("no hash", record=number)
        matched = self._match(batch)
        # records of one batch naming the same new media: the first creates it
        new_rows: list[dict[str, Any]] = []
        new_index: dict[tuple[str, str], int] = {}
        slots: list[int | tuple[str, int]] = []
        for (_, r), mid, keys in zip(batch, matched, idents, strict=True):
            if mid is not None:
                slots.append(mid)
                continue
            hit = next((new_index[k] for k in keys if k in new_index), None)
            if hit is None:
                hit = len(new_rows)
                new_rows.append(
                    {
                        "sha256": bytes.fromhex(r.sha256) if r.sha256 else None,
                        "sha1": bytes.fromhex(r.sha1) if r.sha1 else None,
                        "md5": bytes.fromhex(r.md5) if r.md5 else None,
                        "kind": r.kind or "other",
                        "format": None,
                        "byte_size": r.media_size,
                        "submissions": 0,
                        "has_content": False,
                        "first_seen_at": utcnow(),
                    }
                )
            for k in keys:
                new_index.setdefault(k, hit)
            slots.append(("new", hit))
        new_ids = self._insert_media(new_rows)
        media_ids = [x if isinstance(x, int) else new_ids[x[1]] for x in slots]
        self.counts.new_media += len(new_rows)
        self.counts.matched_media += sum(1 for x in slots if isinstance(x, int))
        fresh = set(new_ids)
        self._fingerprints(batch, media_ids, fresh)
        self._entries(batch, media_ids)
        self._series_links(batch, media_ids)
        self._sightings(batch, media_ids)
        self.touched_media.extend(media_ids)

    def _bulk(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert many rows through the driver's ``executemany``.

        SQLAlchemy's per-row parameter processing cost more than the database for
        imports of millions of rows; the few conversions it did are done here:
        JSON as text (cast on PostgreSQL), datetimes in SQLAlchemy's SQLite format.
        """
        if not rows:
            return
        conn = self.s.connection()
        sqlite = conn.dialect.name == "sqlite"
        names = list(rows[0])
        cols = [table.c[n] for n in names]
        json_cols = [isinstance(c.type, JSON) for c in cols]
        time_cols = [isinstance(c.type, DateTime) for c in cols]
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        holes = [f"CAST({mark} AS JSON)" if j and not sqlite else mark for j in json_cols]
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(holes)})"
        dumps = json.JSONEncoder(separators=(", ", ": ")).encode
        out = []
        for r in rows:
            values = []
            for n, j, t in zip(names, json_cols, time_cols, strict=True):
                v = r[n]
                if v is not None and j:
                    v = dumps(v)
                elif v is not None and t and sqlite:
                    v = v.strftime("%Y-%m-%d %H:%M:%S.%f")
                values.append(v)
            out.append(tuple(values))
        conn.exec_driver_sql(sql, out)

    def _insert_media(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert media rows; ids in the rows' order.

        Batched RETURNING comes back unordered, so rows are matched again by their
        strongest digest; the rare row without any digest is inserted alone.
        """
        table = _T_MEDIA
        ids: list[int | None] = [None] * len(rows)
        keyed = [i for i, r in enumerate(rows) if r["sha256"] or r["sha1"] or r["md5"]]
        if keyed:
            where: dict[tuple[str, bytes], int] = {}
            for i in keyed:
                r = rows[i]
                alg = "sha256" if r["sha256"] else "sha1" if r["sha1"] else "md5"
                where[(alg, r[alg])] = i
            result = self.s.execute(
                insert(table).returning(table.c.id, table.c.sha256, table.c.sha1, table.c.md5),
                [rows[i] for i in keyed],
            )
            for mid, sha256, sha1, md5 in result:
                alg, key = (
                    ("sha256", sha256) if sha256 else ("sha1", sha1) if sha1 else ("md5", md5)
                )
                ids[where[(alg, bytes(key))]] = int(mid)
        for i, r in enumerate(rows):
            if ids[i] is None:
                ids[i] = int(self.s.execute(insert(table).returning(table.c.id), r).scalar_one())
        return [int(x) for x in ids if x is not None]

    def _fingerprints(
        self, batch: Sequence[tuple[int, StoredRecordFields]], media_ids: list[int], fresh: set[int]
    ) -> None:
        s = self.s
        wanted: dict[tuple[int, str], tuple[int, bytes]] = {}
        for (_, r), mid in zip(batch, media_ids, strict=True):
            if r.pdq:
                wanted.setdefault((mid, "pdq"), (PDQ_VERSION, bytes.fromhex(r.pdq)))
            if r.photodna:
                wanted.setdefault((mid, "photodna"), (OPAQUE_VERSION, r.photodna.encode()))
            for h in r.other_hashes:
                wanted.setdefault((mid, h.name), (OPAQUE_VERSION, h.value.encode()))
        if not wanted:
            return
        old_ids = sorted({m for m, _ in wanted if m not in fresh})
        existing: dict[tuple[int, str], tuple[int, int, bytes]] = {}
        for chunk in _chunks(old_ids):
            for fid, mid, alg, version, value in s.execute(
                select(
                    FingerprintModel.id,
                    FingerprintModel.media_id,
                    FingerprintModel.algorithm,
                    FingerprintModel.version,
                    FingerprintModel.value,
                ).where(FingerprintModel.media_id.in_(chunk), FingerprintModel.position == 0)
            ):
                existing[(int(mid), alg)] = (int(fid), int(version), bytes(value))
        rows = []
        for (mid, alg), (version, value) in wanted.items():
            have = existing.get((mid, alg))
            if have is None:
                rows.append(
                    {
                        "media_id": mid,
                        "algorithm": alg,
                        "version": version,
                        "position": 0,
                        "value": value,
                        "quality": None,
                    }
                )
            elif have[1] == OPAQUE_VERSION and have[2] != value:
                # an updated opaque hash replaces the imported one; computed ones stay
                s.execute(
                    update(FingerprintModel)
                    .where(FingerprintModel.id == have[0])
                    .values(value=value)
                )
        if rows:
            self._bulk(_T_FINGERPRINT, rows)
        keys = {
            opaque_key(alg, value.hex() if alg == "pdq" else value.decode()): mid
            for (mid, alg), (_, value) in wanted.items()
        }
        known: set[bytes] = set()
        for chunk in _chunks(list(keys)):
            q = select(ExchangeHash.key).where(ExchangeHash.key.in_(chunk))
            known.update(bytes(k) for k in s.scalars(q))
        new_keys = [{"key": k, "media_id": m} for k, m in keys.items() if k not in known]
        if new_keys:
            self._bulk(_T_EXCHANGEHASH, new_keys)

    def _entries(
        self, batch: Sequence[tuple[int, StoredRecordFields]], media_ids: list[int]
    ) -> None:
        s = self.s
        existing: dict[int, ExchangeEntry] = {}
        ids = sorted(set(media_ids))
        for chunk in _chunks(ids):
            for e in s.scalars(
                select(ExchangeEntry).where(
                    ExchangeEntry.agency_id == self.agency.id, ExchangeEntry.media_id.in_(chunk)
                )
            ):
                existing[e.media_id] = e
        rows: dict[int, dict[str, Any]] = {}
        now = utcnow()
        for (_, r), mid in zip(batch, media_ids, strict=True):
            values = {
                "source_format": self.source_format,
                "source_id": r.source_id,
                "category_profile": r.category_profile,
                "category": r.category,
                "data": r.entry_data(),
                "case_id": self._case_id(r),
            }
            found = existing.get(mid)
            if found is None:
                if mid in rows:  # the same media twice in one batch: last one wins
                    rows[mid].update(values)
                    continue
                rows[mid] = {"media_id": mid, "agency_id": self.agency.id, "updated_at": now}
                rows[mid].update(values)
                continue
            e = found
            if values["case_id"] is None:
                values["case_id"] = e.case_id
            changed = {k: v for k, v in values.items() if getattr(e, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(e, k, v)
                e.updated_at = now
                self.counts.updated_entries += 1
            else:
                self.counts.unchanged_entries += 1
        if rows:
            self._bulk(_T_EXCHANGEENTRY, list(rows.values()))
            self.counts.new_entries += len(rows)
        s.flush()

    def _series_id(self, name: str) -> int:
        hit = self._series.get(name)
        if hit is None:
            row = self.s.execute(
                select(Series.id, Series.agency_id).where(Series.name == name)
            ).first()
            if row is None:
                created = repo.create_series(self.s, name, self.agency)
                hit = (created.id, self.agency.id)
                self.counts.series_created.append(name)
            else:
                hit = (int(row[0]), int(row[1]))
            self._series[name] = hit
        return hit[0]

    def _series_links(
        self, batch: Sequence[tuple[int, StoredRecordFields]], media_ids: list[int]
    ) -> None:
        pairs: dict[tuple[int, int], None] = {}
        for (_, r), mid in zip(batch, media_ids, strict=True):
            name = (r.series or self.default_series or "").strip()
            if not name:
                continue
            sid = self._series_id(name)
            pairs[(sid, mid)] = None
            flags = self._flags.setdefault(sid, {})
            for who, value in (
                ("victim", r.victim_identified),
                ("offender", r.offender_identified),
            ):
                if value is not None:
                    flags[who] = flags.get(who, False) or value
        if not pairs:
            return
        have: set[tuple[int, int]] = set()
        mids = sorted({m for _, m in pairs})
        for chunk in _chunks(mids):
            for sid, mid in self.s.execute(
                select(series_media.c.series_id, series_media.c.media_id).where(
                    series_media.c.media_id.in_(chunk)
                )
            ):
                have.add((int(sid), int(mid)))
        rows = [{"series_id": a, "media_id": b} for a, b in pairs if (a, b) not in have]
        if rows:
            self._bulk(series_media, rows)

    def _case_id(self, r: StoredRecordFields) -> int | None:
        """--case wins; else the record's own case (VICS ``#Cases`` CaseNumber)."""
        if self.case is not None:
            return self.case.id
        ref = (r.case_ref or "").strip()
        if not ref:
            return None
        hit = self._cases.get(ref)
        if hit is None:
            hit = self._cases[ref] = repo.get_or_create_case(self.s, self.agency, ref).id
        return hit

    def _sightings(
        self, batch: Sequence[tuple[int, StoredRecordFields]], media_ids: list[int]
    ) -> None:
        s = self.s
        cases = [self._case_id(r) for _, r in batch]
        if not any(c is not None for c in cases):
            return
        mids = sorted({m for m, c in zip(media_ids, cases, strict=True) if c is not None})
        have: set[tuple[int, int, str]] = set()
        from_agency: set[int] = set()
        for chunk in _chunks(mids):
            for mid, cid, path, agency_id in s.execute(
                select(
                    Sighting.media_id, Sighting.case_id, Sighting.original_path, Sighting.agency_id
                ).where(Sighting.media_id.in_(chunk))
            ):
                have.add((int(cid), int(mid), path))
                if agency_id == self.agency.id:
                    from_agency.add(int(mid))
        rows: dict[tuple[int, int, str], dict[str, Any]] = {}
        for (number, r), mid, case_id in zip(batch, media_ids, cases, strict=True):
            if case_id is None:
                continue
            path = r.relative_path or f"{self.source_format}:{r.source_id or number}"
            if (case_id, mid, path) in have:
                continue
            rows.setdefault(
                (case_id, mid, path),
                {
                    "media_id": mid,
                    "case_id": case_id,
                    "agency_id": self.agency.id,
                    "original_path": path,
                    "seen_at": utcnow(),
                },
            )
        if rows:
            self._bulk(_T_SIGHTING, list(rows.values()))
        first = sorted({mid for _, mid, _ in rows} - from_agency)
        for chunk in _chunks(first):
            s.execute(
                update(Media).where(Media.id.in_(chunk)).values(submissions=Media.submissions + 1)
            )

    def _delete(self, deletions: Sequence[tuple[int, StoredRecordFields]]) -> None:
        s = self.s
        ids = sorted({r.source_id for _, r in deletions if r.source_id})
        media: set[int] = set()
        for chunk in _chunks(ids):
            cond = (ExchangeEntry.agency_id == self.agency.id) & ExchangeEntry.source_id.in_(chunk)
            media.update(int(m) for m in s.scalars(select(ExchangeEntry.media_id).where(cond)))
            result = s.execute(delete(ExchangeEntry).where(cond))
            self.counts.deleted_entries += int(getattr(result, "rowcount", 0) or 0)
        for chunk in _chunks(sorted(media)):
            # hash-only media nobody else describes any more go with the entry
            orphans = select(Media.id).where(
                Media.id.in_(chunk),
                Media.has_content.is_(False),
                ~select(ExchangeEntry.id).where(ExchangeEntry.media_id == Media.id).exists(),
                ~select(Sighting.id).where(Sighting.media_id == Media.id).exists(),
            )
            gone = [int(x) for x in s.scalars(orphans)]
            if gone:
                s.execute(delete(series_media).where(series_media.c.media_id.in_(gone)))
                s.execute(delete(ExchangeHash).where(ExchangeHash.media_id.in_(gone)))
                s.execute(delete(FingerprintModel).where(FingerprintModel.media_id.in_(gone)))
                s.execute(delete(Media).where(Media.id.in_(gone)))

    def finish(self) -> ImportCounts:
        """Series flags from the records: the agency's own series take what its file says."""
        for name, (sid, owner) in sorted(self._series.items()):
            flags = self._flags.get(sid)
            if not flags or owner != self.agency.id:
                continue
            series = self.s.get(Series, sid)
            assert series is not None
            changed = False
            for who in ("victim", "offender"):
                if who in flags and getattr(series, f"{who}_identified") != flags[who]:
                    repo.set_identified(self.s, series, who, flags[who], by=self.agency)
                    changed = True
            if changed and name not in self.counts.series_created:
                self.counts.series_updated.append(name)
        self.s.flush()
        return self.counts


# -- a later ingest of the file itself ---------------------------------------------------


def hash_only_match(s: Session, md5: bytes | None, sha1: bytes | None) -> Media | None:
    """The hash-only media item (imported, no content yet) a file's digests name."""
    conds: list[Any] = []
    if md5:
        conds.append(Media.md5 == md5)
    if sha1:
        conds.append(Media.sha1 == sha1)
    if not conds:
        return None
    q = select(Media).where(Media.has_content.is_(False), or_(*conds)).order_by(Media.id)
    for m in s.scalars(q.limit(2)):
        if (m.md5 is None or md5 is None or m.md5 == md5) and (
            m.sha1 is None or sha1 is None or m.sha1 == sha1
        ):
            return m
    return None


def complete_media(
    s: Session, media: Media, content: dict[str, Any], fingerprints: Sequence[FingerprintModel]
) -> list[FingerprintModel]:
    """Give a hash-only item the facts of its now-seen file; add the fingerprints it
    lacks (an imported PDQ or PhotoDNA stays as received). Returns those added."""
    for key, value in content.items():
        setattr(media, key, value)
    media.has_content = True
    have = {
        (a, v, p)
        for a, v, p in s.execute(
            select(
                FingerprintModel.algorithm, FingerprintModel.version, FingerprintModel.position
            ).where(FingerprintModel.media_id == media.id)
        )
    }
    added = [fp for fp in fingerprints if (fp.algorithm, fp.version, fp.position or 0) not in have]
    s.add_all(added)
    s.flush()
    return added


# -- export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredItem:
    """One media item with what export needs: digests, hashes, series, the entry."""

    media_id: int
    md5: bytes | None
    sha1: bytes | None
    sha256: bytes | None
    kind: str
    byte_size: int | None
    submissions: int
    fingerprints: tuple[tuple[str, int, bytes], ...]  # (algorithm, version, value), position 0
    series: tuple[tuple[str, bool, bool, bool, str | None, int | None], ...]
    entry: tuple[str, str | None, str | None, int | None, dict[str, Any]] | None
    """(source format, source id, category profile, category, data)."""


def select_media(
    *, series_id: int | None = None, case_id: int | None = None, agency_id: int | None = None
) -> Select[Any]:
    """Ids of the media an export covers (all media when nothing is given); soft-deleted
    media, sightings and series memberships are left out."""
    q = select(Media.id).where(Media.deleted_at.is_(None))
    live_link = series_media.c.deleted_at.is_(None)
    live_sighting = Sighting.deleted_at.is_(None)
    if series_id is not None:
        q = q.where(
            Media.id.in_(
                select(series_media.c.media_id).where(
                    series_media.c.series_id == series_id, live_link
                )
            )
        )
    if case_id is not None:
        q = q.where(
            Media.id.in_(
                select(Sighting.media_id).where(Sighting.case_id == case_id, live_sighting)
            )
            | Media.id.in_(select(ExchangeEntry.media_id).where(ExchangeEntry.case_id == case_id))
        )
    if agency_id is not None:
        q = q.where(
            Media.id.in_(
                select(Sighting.media_id).where(Sighting.agency_id == agency_id, live_sighting)
            )
            | Media.id.in_(
                select(ExchangeEntry.media_id).where(ExchangeEntry.agency_id == agency_id)
            )
            | Media.id.in_(
                select(series_media.c.media_id)
                .join(Series, Series.id == series_media.c.series_id)
                .where(Series.agency_id == agency_id, Series.deleted_at.is_(None), live_link)
            )
        )
    return q.order_by(Media.id)


def category_profiles(s: Session, ids: Select[Any]) -> list[str]:
    """Distinct category profiles of the entries of the selected media."""
    q = (
        select(ExchangeEntry.category_profile)
        .where(ExchangeEntry.media_id.in_(ids.order_by(None)))
        .where(ExchangeEntry.category_profile.is_not(None))
        .distinct()
    )
    return sorted(str(p) for p in s.scalars(q))


def case_ids(s: Session, number: str) -> list[int]:
    """Ids of the cases with this number (numbers are unique per agency only)."""
    return [int(x) for x in s.scalars(select(Case.id).where(Case.number == number))]


def count_media(s: Session, ids: Select[Any]) -> int:
    return int(s.scalar(select(func.count()).select_from(ids.order_by(None).subquery())) or 0)


def iter_items(
    s: Session, ids: Select[Any], *, prefer_agency: int | None = None, chunk: int = 2000
) -> Iterator[StoredItem]:
    """The selected media in id order, a chunk of ids at a time (memory stays flat)."""
    after = 0
    while True:
        page = [int(x) for x in s.scalars(ids.where(Media.id > after).limit(chunk))]
        if not page:
            return
        after = page[-1]
        yield from _load(s, page, prefer_agency)


def _load(s: Session, page: list[int], prefer_agency: int | None) -> Iterator[StoredItem]:
    lo, hi = page[0], page[-1]
    media = {
        int(r[0]): r
        for r in s.execute(
            select(
                Media.id,
                Media.md5,
                Media.sha1,
                Media.sha256,
                Media.kind,
                Media.byte_size,
                Media.submissions,
            ).where(Media.id.in_(page))
        )
    }
    fps: dict[int, list[tuple[str, int, bytes]]] = {}
    for mid, alg, version, value in s.execute(
        select(
            FingerprintModel.media_id,
            FingerprintModel.algorithm,
            FingerprintModel.version,
            FingerprintModel.value,
        )
        .where(
            FingerprintModel.media_id.between(lo, hi),
            FingerprintModel.position == 0,
            (FingerprintModel.algorithm == "pdq") | (FingerprintModel.version == OPAQUE_VERSION),
        )
        .order_by(FingerprintModel.id)
    ):
        fps.setdefault(int(mid), []).append((alg, int(version), bytes(value)))
    series: dict[int, list[tuple[str, bool, bool, bool, str | None, int | None]]] = {}
    for mid, name, victim, offender, baseline, profile, category in s.execute(
        select(
            series_media.c.media_id,
            Series.name,
            Series.victim_identified,
            Series.offender_identified,
            Series.baseline,
            Series.category_profile,
            Series.category,
        )
        .join(Series, Series.id == series_media.c.series_id)
        .where(series_media.c.media_id.between(lo, hi))
        .order_by(Series.id)
    ):
        series.setdefault(int(mid), []).append(
            (name, bool(victim), bool(offender), bool(baseline), profile, category)
        )
    entries: dict[int, tuple[int, tuple[str, str | None, str | None, int | None, Any]]] = {}
    for _eid, mid, agency_id, fmt, sid, profile, category, data in s.execute(
        select(
            ExchangeEntry.id,
            ExchangeEntry.media_id,
            ExchangeEntry.agency_id,
            ExchangeEntry.source_format,
            ExchangeEntry.source_id,
            ExchangeEntry.category_profile,
            ExchangeEntry.category,
            ExchangeEntry.data,
        )
        .where(ExchangeEntry.media_id.between(lo, hi))
        .order_by(ExchangeEntry.id)
    ):
        rank = 0 if agency_id == prefer_agency else 1
        old = entries.get(int(mid))
        if old is None or rank < old[0]:
            entries[int(mid)] = (rank, (fmt, sid, profile, category, data))
    for mid in page:
        m = media.get(mid)
        if m is None:
            continue
        e = entries.get(mid)
        yield StoredItem(
            media_id=mid,
            md5=bytes(m[1]) if m[1] is not None else None,
            sha1=bytes(m[2]) if m[2] is not None else None,
            sha256=bytes(m[3]) if m[3] is not None else None,
            kind=m[4],
            byte_size=m[5],
            submissions=int(m[6] or 0),
            fingerprints=tuple(fps.get(mid, ())),
            series=tuple(series.get(mid, ())),
            entry=e[1] if e is not None else None,
        )


__all__ = [
    "OPAQUE_VERSION",
    "ExchangeImport",
    "ImportCounts",
    "StoredItem",
    "case_ids",
    "category_profiles",
    "complete_media",
    "count_media",
    "hash_only_match",
    "iter_items",
    "opaque_key",
    "select_media",
]
