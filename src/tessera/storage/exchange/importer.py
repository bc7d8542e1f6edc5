"""Applying exchange records to the database.

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

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tessera.errors import InvalidRecord as RecordError
from tessera.storage import bulk_load, identity, repo, sharing
from tessera.storage.bulk import Bulk
from tessera.storage.digest_filter import DigestFilter
from tessera.storage.exchange.records import (
    OPAQUE_VERSION,
    PDQ_VERSION,
    StoredRecordFields,
    opaque_key,
    own_hashes,
)
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

_CHUNK = 500
CACHE_KIB = 65536
"""SQLite page cache of an import's connection (KiB)."""
LARGE_CACHE_KIB = 262144
"""... and of a large one (``ExchangeImport.large``)."""
# core tables: bulk inserts skip the ORM's per-row bookkeeping
_T_MEDIA = cast(Table, Media.__table__)
_T_FINGERPRINT = cast(Table, FingerprintModel.__table__)
_T_EXCHANGEHASH = cast(Table, ExchangeHash.__table__)
_T_EXCHANGEENTRY = cast(Table, ExchangeEntry.__table__)
_T_SIGHTING = cast(Table, Sighting.__table__)


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


_TABLES = (
    "media",
    "fingerprint",
    "exchange_hash",
    "exchange_entry",
    "series_media",
    "sighting",
    "blind_link",
)
_MEDIA_COLUMNS = (
    "id",
    "sha256",
    "sha1",
    "md5",
    "kind",
    "byte_size",
    "submissions",
    "has_content",
    "first_seen_at",
)
_BLIND_COLUMNS = (  # what the agency's own record said (migration 0025)
    "media_id",
    "agency_id",
    "sha256",
    "sha1",
    "md5",
    "kind",
    "byte_size",
    "linked_at",
    "hashes",  # its PDQ and opaque hashes (migration 0026)
)
_RECORDED = ("sha256", "sha1", "md5", "kind", "byte_size", "hashes")
_ENTRY_COLUMNS = (
    "media_id",
    "agency_id",
    "source_format",
    "source_id",
    "category_profile",
    "category",
    "data",
    "case_id",
    "updated_at",
)
_ENTRY_VALUES = ("source_format", "source_id", "category_profile", "category", "data", "case_id")


@dataclass(slots=True)
class _Prepared:
    """A record with its digests as bytes (computed once per record)."""

    number: int
    r: StoredRecordFields
    sha256: bytes | None
    sha1: bytes | None
    md5: bytes | None
    ident: list[tuple[str, str]]

    def digest(self, alg: str) -> bytes | None:
        return self.sha256 if alg == "sha256" else self.sha1 if alg == "sha1" else self.md5


def _recorded(p: _Prepared) -> tuple[Any, ...]:
    """What a blind link keeps of the record naming it, in ``_RECORDED`` order."""
    return (p.sha256, p.sha1, p.md5, p.r.kind, p.r.media_size, own_hashes(p.r))


def _prepare(number: int, r: StoredRecordFields) -> _Prepared:
    ident = r.identity()
    if not ident:
        raise RecordError("no hash", record=number)
    return _Prepared(
        number,
        r,
        bytes.fromhex(r.sha256) if r.sha256 else None,
        bytes.fromhex(r.sha1) if r.sha1 else None,
        bytes.fromhex(r.md5) if r.md5 else None,
        ident,
    )


class ExchangeImport:
    """One import into an open session: call :meth:`apply` per batch, then :meth:`finish`.

    Rows go in through :class:`tessera.storage.bulk.Bulk` (driver ``executemany``,
    COPY on PostgreSQL): media created by a batch get their ids first, so their
    fingerprints, hashes, entries and series links follow in one pass, and the
    existence checks that make a re-import idempotent run only for media that
    existed before the batch (a new item has no entry, link or sighting yet).
    """

    def __init__(
        self,
        s: Session,
        *,
        agency: Agency,
        case: Case | None,
        series: str | None,
        source_format: str,
        seen: Callable[[set[int]], set[int]] | None = None,
        own: Callable[[set[int]], Mapping[int, sharing.BlindRecord]] | None = None,
    ) -> None:
        self.s = s
        self._seen = seen
        self._own = own
        self._others: set[int] = set()  # items seen through other agencies' rows only
        self._blind_matched: set[int] = set()  # this batch's matches of its blind links
        self.agency = agency
        self.case = case
        self._cases: dict[str, int] = {}
        self.default_series = series
        self.source_format = source_format
        self.counts = ImportCounts()
        if s.get_bind().dialect.name == "sqlite":
            # random digests hit index pages all over: a 64 MiB page cache for this
            # connection saves re-reading them on large imports
            s.execute(text(f"PRAGMA cache_size = -{CACHE_KIB}"))
        self._bulk = Bulk(s, _TABLES)
        self._filtered = identity.reads_filtered(s)
        """Reads of ``media`` go through Row-Level Security (a plain query can miss a
        row holding a key): only then are unmatched SHA-256s asked of
        ``identity.media_ids_by_sha256``."""
        self._series: dict[str, tuple[int, int]] = {}  # name -> (id, owner agency id)
        self.link_new: Callable[[list[tuple[int, int]]], bool] | None = None
        """Inserts the series links of media this import created, with what the link
        triggers would add (``storage.bulk_load``); False: go row by row."""
        self._held: bulk_load.HeldLinkTriggers | None = None
        self._flags: dict[int, dict[str, bool]] = {}
        self._large = False
        self._digests: DigestFilter | None = None
        """Set by :meth:`large`: digests surely not in ``media`` are not looked up."""

    def large(self) -> None:
        """This import brings many more records than the database holds (SQLite): a
        256 MiB page cache for its transaction instead of 64 MiB. Its random-key
        indexes (media MD5 and SHA-1, ``exchange_hash``'s key) take ~100 MB per
        million records; past the cache every batch re-read and re-wrote their pages
        (a 1M-record import ran at 3/4 of the rate of a 100k one). Bounded, like
        federation's big pull (``storage.federation.remote_media``); :meth:`finish` sets 64 MiB
        again for the connection's later transactions."""
        if self.s.get_bind().dialect.name == "sqlite":
            self.s.execute(text(f"PRAGMA cache_size = -{LARGE_CACHE_KIB}"))
            self._large = True
            if not self._filtered:  # (RLS: PostgreSQL only; a read may miss rows)
                # what the node holds now: fewer rows than this import brings
                self._digests = digests = DigestFilter()
                for row in self._bulk.scan("SELECT sha256, sha1, md5 FROM media"):
                    digests.add(row)

    def hold_link_triggers(self, held: bulk_load.HeldLinkTriggers | None = None) -> None:
        """Series links of media this import creates go in as ``link_new`` does, with
        the link triggers dropped once for the whole import instead of once per batch
        (``bulk_load.HeldLinkTriggers``: each drop and create made SQLite prepare the
        import's statements again); links of older media and :meth:`finish` create
        them again first. SQLite with the expected triggers only, else row by row.
        ``held``: a holder shared with other imports of the same transaction (whoever
        made it restores it before the commit)."""
        held = self._held = held if held is not None else bulk_load.HeldLinkTriggers(self.s)
        self.link_new = held.link_new

    # -- matching --------------------------------------------------------------------

    def _media_by(self, alg: str, keys: set[bytes]) -> dict[bytes, list[tuple[Any, ...]]]:
        """Rows (id, sha256, sha1, md5) by one digest, oldest first, as this connection
        reads them (under RLS: those the agency sees)."""
        out: dict[bytes, list[tuple[Any, ...]]] = {}
        col = {"sha256": 1, "sha1": 2, "md5": 3}[alg]
        rows = self._bulk.where_in(
            "SELECT id, sha256, sha1, md5 FROM media WHERE", alg, keys, sql_type="BYTEA"
        )
        for row in sorted(rows, key=lambda x: int(x[0])):
            out.setdefault(bytes(row[col]), []).append(tuple(row))
        return out

    def _visible(self, ids: set[int]) -> set[int]:
        """The ids among ``ids`` the agency sees (its own records, then the rules)."""
        if self._seen is None or not ids:
            return ids
        b = self._bulk
        own = {
            int(m)
            for (m,) in b.where_in(
                f"SELECT media_id FROM exchange_entry WHERE agency_id = {b.mark} AND",
                "media_id",
                sorted(ids),
                sql_type="BIGINT",
                params=(self.agency.id,),
            )
        }
        rest = ids - own
        others = self._seen(rest) if rest else set()
        self._others = others
        return own | others

    def _match(self, batch: Sequence[_Prepared]) -> tuple[list[int | None], set[int]]:
        """Per record: the media id it names, or None (new content); and the ids among
        them the agency could not see (content another agency holds unshared).

        Matching and its checks consider only media the agency sees: a hidden item is
        never compared with, filled from or reported, so nothing the agency is told
        depends on it. Only keys that are unique node-wide (SHA-256, an opaque
        hash's key) link to a hidden item, by id (``tessera.storage.identity``); a
        record named by MD5/SHA-1 alone that matches only hidden media becomes a
        media item of its own, as it would if the other agency did not hold it."""
        want: dict[str, set[bytes]] = {"sha256": set(), "sha1": set(), "md5": set()}
        opaque: dict[bytes, None] = {}
        sha256s, sha1s, md5s = want["sha256"], want["sha1"], want["md5"]
        for p in batch:  # attributes, not digest(): three calls a record cost more
            if p.sha256:
                sha256s.add(p.sha256)
            if p.sha1:
                sha1s.add(p.sha1)
            if p.md5:
                md5s.add(p.md5)
            if not (p.sha256 or p.sha1 or p.md5):
                opaque.update(dict.fromkeys(opaque_key(a, v) for a, v in p.ident))
        asked = want
        if self._digests is not None:  # a large import: those the node may hold only
            asked = {alg: self._digests.maybe(keys) for alg, keys in want.items()}
        rows = {
            alg: self._media_by(alg, asked[alg]) if asked[alg] else {}
            for alg, keys in want.items()
            if keys
        }
        by_key = identity.media_ids_by_hash_key(self.s, opaque) if opaque else {}
        ids = {int(r[0]) for by in rows.values() for rs in by.values() for r in rs}
        visible = self._visible(ids | set(by_key.values()))
        # the agency's blind links: the row's digests came with another agency's file,
        # so they are neither compared with (an error would quote them) nor replaced
        blind = sharing.blind_links(self.s, ids & visible, self.agency.id)
        # and where the agency sees such an item through its own record only, an MD5
        # or SHA-1 that record did not give names other content, as it would if the
        # other agency held nothing ("matched" would tell whose digest it is)
        own = self._own(blind) if self._own is not None and blind else {}

        def ours(alg: str, key: bytes, row: tuple[Any, ...]) -> bool:
            rec = own.get(int(row[0]))
            return rec is None or alg == "sha256" or getattr(rec, alg) == key

        found: dict[str, dict[bytes, tuple[Any, ...]]] = {
            alg: {
                k: r
                for k, rs in by.items()
                if (r := next((r for r in rs if int(r[0]) in visible and ours(alg, k, r)), None))
                is not None
            }
            for alg, by in rows.items()
        }
        found_sha = found.get("sha256", {})
        if self._filtered:  # the plain query may have missed rows: ask the keys' holder
            unseen = [d for d in want["sha256"] if d not in found_sha]
            hidden_sha = identity.media_ids_by_sha256(self.s, unseen) if unseen else {}
        else:  # it read every row (SHA-256 is unique: one row a key)
            hidden_sha = {
                d: int(rs[0][0]) for d, rs in rows.get("sha256", {}).items() if d not in found_sha
            }
        out: list[int | None] = []
        hidden: set[int] = set()
        hidden_fill = self._blind_matched = set()
        fills: dict[int, dict[str, bytes]] = {}
        for p in batch:
            row = None
            for alg, v in (("sha256", p.sha256), ("sha1", p.sha1), ("md5", p.md5)):
                if not v:
                    continue
                if (row := found[alg].get(v)) is not None:
                    break
                if alg == "sha256" and v in hidden_sha:
                    break
            if row is None:
                mid: int | None = None
                if p.sha256 and p.sha256 in hidden_sha:
                    mid = hidden_sha[p.sha256]
                elif not (p.sha256 or p.sha1 or p.md5):
                    okeys = [opaque_key(a, v) for a, v in p.ident]
                    mid = next((by_key[k] for k in okeys if k in by_key), None)
                if mid is not None and mid not in visible:
                    hidden.add(mid)
                out.append(mid)
                continue
            mid, stored = int(row[0]), {"sha256": row[1], "sha1": row[2], "md5": row[3]}
            if mid in blind:
                hidden_fill.add(mid)  # as for content it cannot see: missing ones only
                out.append(mid)
                continue
            for alg in ("sha256", "sha1", "md5"):
                v = p.digest(alg)
                if not v:
                    continue
                have = stored[alg]
                if have is not None and bytes(have) != v:
                    raise RecordError(
                        f"{alg.upper()} {v.hex()} contradicts stored media {mid} "
                        f"({alg.upper()} {bytes(have).hex()}) matched by its other digests",
                        record=p.number,
                        field=alg.upper(),
                    )
                if have is None:
                    fills.setdefault(mid, {})[alg] = v
            out.append(mid)
        self._fill(fills)
        return out, hidden

    def _fill(self, fills: dict[int, dict[str, bytes]]) -> None:
        """Digests a stored item lacked, now given by a record naming it."""
        for mid, values in fills.items():
            self.s.execute(update(Media).where(Media.id == mid).values(**values))
            if self._digests is not None:
                self._digests.add(values.values())

    def _fill_hidden(
        self, batch: Sequence[_Prepared], media_ids: list[int], hidden: set[int]
    ) -> None:
        """Digests a hidden item lacks, from the records now linked to it (the row is
        the content's; the agency's link lets it write them, as for any item it sees).
        A digest the item holds otherwise stays: no error, which would tell."""
        if not hidden:
            return
        b = self._bulk
        stored = {
            int(r[0]): {"sha256": r[1], "sha1": r[2], "md5": r[3]}
            for r in b.where_in(
                "SELECT id, sha256, sha1, md5 FROM media WHERE",
                "id",
                sorted(hidden),
                sql_type="BIGINT",
            )
        }
        fills: dict[int, dict[str, bytes]] = {}
        for p, mid in zip(batch, media_ids, strict=True):
            have = stored.get(mid)
            if have is None:
                continue
            for alg in ("sha1", "md5"):
                v = p.digest(alg)
                if v and have[alg] is None and alg not in fills.get(mid, {}):
                    fills.setdefault(mid, {})[alg] = v
        self._fill(fills)

    # -- applying ----------------------------------------------------------------------

    def apply(self, records: Sequence[tuple[int, StoredRecordFields]]) -> list[int]:
        """Apply numbered records (``(record number, record)``) in the open transaction;
        returns the media ids of the records that are not deletions, in order."""
        deletions = [(n, r) for n, r in records if r.deleted]
        self.counts.records += len(records)
        if deletions:
            self._delete(deletions)
        batch = [_prepare(n, r) for n, r in records if not r.deleted]
        if not batch:
            return []
        matched, hidden = self._match(batch)
        # records of one batch naming the same new media: the first creates it
        new_rows: list[_Prepared] = []
        new_index: dict[tuple[str, str], int] = {}
        slots: list[int] = []  # media id, or -(position in new_rows) - 1
        for p, mid in zip(batch, matched, strict=True):
            if mid is not None and mid not in hidden:
                slots.append(mid)
                continue
            hit: int | None = None
            for k in p.ident:  # a loop, not next() over a generator made per record
                hit = new_index.get(k)
                if hit is not None:
                    break
            if hit is None:
                if mid is not None:
                    hit = mid  # content held unshared elsewhere: new to this agency
                else:
                    hit = -len(new_rows) - 1
                    new_rows.append(p)
            for k in p.ident:
                new_index.setdefault(k, hit)
            slots.append(hit)
        new_ids = self._insert_media(new_rows)
        media_ids = [x if x >= 0 else new_ids[-x - 1] for x in slots]
        linked = {x for x in slots if x in hidden}
        # an item the agency sees through other agencies' rows only, whatever their level
        # now: its own record and series must not lift it to full (the full rows came
        # with another agency's file), so it is capped like content it could not see,
        # and what it sees follows that agency's sharing as it changes later
        capped = self._capped({x for x in slots if x >= 0 and x not in hidden})
        self.counts.new_media += len(new_rows) + len(linked)
        self.counts.matched_media += sum(1 for x in slots if x >= 0 and x not in hidden)
        fresh = set(new_ids)
        said: dict[int, _Prepared] = {}  # the first record naming each blind item
        for p, mid in zip(batch, media_ids, strict=True):
            if mid in linked or mid in capped:
                said.setdefault(mid, p)
        b = self._bulk
        now = b.time(utcnow())
        b.insert(
            "blind_link",
            _BLIND_COLUMNS,
            [
                (m, self.agency.id, *rec[:5], now, b.json(rec[5]))
                for m, p in sorted(said.items())
                for rec in (_recorded(p),)
            ],
            json_columns=("hashes",),
            skip_conflicts=True,
        )
        blind = self._update_blind(batch, media_ids, fresh | set(said))
        # the row's hashes are the content's: a blind record adds what it lacks only
        self._fingerprints(batch, media_ids, fresh, linked | capped | blind)
        cases = [self._case_id(p.r) for p in batch]
        self._entries(batch, media_ids, fresh, cases)
        self._fill_hidden(batch, media_ids, linked | self._blind_matched)
        self._series_links(batch, media_ids, fresh)
        self._sightings(batch, media_ids, fresh, cases)
        return media_ids

    def _update_blind(
        self, batch: Sequence[_Prepared], media_ids: list[int], skip: set[int]
    ) -> set[int]:
        """The agency's earlier blind links among ``media_ids`` (not in ``skip``), each
        updated to what the first record naming it now says (an updated file; the
        same file changes nothing). Returns their ids."""
        b = self._bulk
        old = sorted(set(media_ids) - skip)
        stored: dict[int, tuple[Any, ...]] = {}
        for row in b.where_in(
            "SELECT media_id, sha256, sha1, md5, kind, byte_size, hashes FROM blind_link "
            f"WHERE agency_id = {b.mark} AND",
            "media_id",
            old,
            sql_type="BIGINT",
            params=(self.agency.id,),
        ):
            digests = tuple(bytes(d) if d is not None else None for d in row[1:4])
            hashes = b.load_json(row[6]) if row[6] is not None else None
            size = int(row[5]) if row[5] is not None else None
            stored[int(row[0])] = (*digests, row[4], size, hashes)
        changed: dict[int, tuple[Any, ...]] = {}
        for p, mid in zip(batch, media_ids, strict=True):
            if mid in stored and mid not in changed:
                now = _recorded(p)
                changed[mid] = now if now != stored[mid] else ()
        sets = ", ".join(f"{c} = {b.mark}" for c in _RECORDED)
        if b.pg:
            sets = sets.replace(f"hashes = {b.mark}", f"hashes = CAST({b.mark} AS JSON)")
        b.execute_many(
            f"UPDATE blind_link SET {sets} WHERE media_id = {b.mark} AND agency_id = {b.mark}",
            [(*v[:5], b.json(v[5]), m, self.agency.id) for m, v in changed.items() if v],
        )
        return set(stored)

    def _capped(self, ids: set[int]) -> set[int]:
        """The ids among ``ids`` seen through other agencies' rows only, at any level,
        whose file the agency does not hold (no live sighting of its own: an ingest of
        the file ends a cap). Not "below full" at import time: a level read now would
        be a snapshot, and a later lowering of the other agency's sharing must lower
        what the agency sees at once (``tessera.app.visibility`` rules 5 and 6)."""
        ids &= self._others
        if not ids:
            return set()
        b = self._bulk
        held = {
            int(m)
            for (m,) in b.where_in(
                f"SELECT media_id FROM sighting WHERE agency_id = {b.mark} "
                "AND deleted_at IS NULL AND",
                "media_id",
                sorted(ids),
                sql_type="BIGINT",
                params=(self.agency.id,),
            )
        }
        return ids - held

    def _insert_media(self, rows: list[_Prepared]) -> list[int]:
        """Insert hash-only media for ``rows``; their ids, in order."""
        b = self._bulk
        ids = b.new_ids("media", len(rows))
        now = b.time(utcnow())
        b.insert(
            "media",
            _MEDIA_COLUMNS,
            [
                (mid, p.sha256, p.sha1, p.md5, p.r.kind or "other", p.r.media_size, 0, False, now)
                for mid, p in zip(ids, rows, strict=True)
            ],
        )
        if self._digests is not None:  # one kind of digest a call
            self._digests.add([p.sha256 for p in rows])
            self._digests.add([p.sha1 for p in rows])
            self._digests.add([p.md5 for p in rows])
        return ids

    def _fingerprints(
        self,
        batch: Sequence[_Prepared],
        media_ids: list[int],
        fresh: set[int],
        linked: set[int],
    ) -> None:
        """Fingerprints and opaque-hash keys of the records. For an item held unshared
        elsewhere (``linked``) nothing is read or replaced: what it lacks is added,
        what it has stays (the agency is told nothing either way)."""
        b = self._bulk
        wanted: dict[tuple[int, str], tuple[int, bytes]] = {}
        for p, mid in zip(batch, media_ids, strict=True):
            r = p.r
            if r.pdq:
                wanted.setdefault((mid, "pdq"), (PDQ_VERSION, bytes.fromhex(r.pdq)))
            if r.photodna:
                wanted.setdefault((mid, "photodna"), (OPAQUE_VERSION, r.photodna.encode()))
            for h in r.other_hashes:
                wanted.setdefault((mid, h.name), (OPAQUE_VERSION, h.value.encode()))
        if not wanted:
            return
        old_ids = sorted({m for m, _ in wanted if m not in fresh and m not in linked})
        existing: dict[tuple[int, str], tuple[int, int, bytes]] = {}
        for fid, mid, alg, version, value in b.where_in(
            "SELECT id, media_id, algorithm, version, value FROM fingerprint "
            "WHERE position = 0 AND",
            "media_id",
            old_ids,
            sql_type="BIGINT",
        ):
            existing[(int(mid), alg)] = (int(fid), int(version), bytes(value))
        rows: list[tuple[Any, ...]] = []
        beside: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        for (mid, alg), (version, value) in wanted.items():
            have = existing.get((mid, alg))
            if mid in linked:
                beside.append((mid, alg, version, 0, value))
            elif have is None:
                rows.append((mid, alg, version, 0, value))
            elif have[1] == OPAQUE_VERSION and have[2] != value:
                # an updated opaque hash replaces the imported one; computed ones stay
                changed.append((value, have[0]))
        columns = ("media_id", "algorithm", "version", "position", "value")
        b.insert("fingerprint", columns, rows)
        b.insert("fingerprint", columns, beside, skip_conflicts=True)
        b.execute_many(f"UPDATE fingerprint SET value = {b.mark} WHERE id = {b.mark}", changed)
        keys = {
            opaque_key(alg, value.hex() if alg == "pdq" else value.decode()): mid
            for (mid, alg), (_, value) in wanted.items()
        }
        new_keys = [(k, m) for k, m in keys.items()]
        if b.pg and b.copy:  # COPY cannot skip conflicts: leave out the keys already held
            known = {
                bytes(k)
                for (k,) in b.where_in(
                    "SELECT key FROM exchange_hash WHERE", "key", keys, sql_type="BYTEA"
                )
            }
            new_keys = [(k, m) for k, m in new_keys if k not in known]
        b.insert("exchange_hash", ("key", "media_id"), new_keys, skip_conflicts=not b.copy)

    def _entries(
        self,
        batch: Sequence[_Prepared],
        media_ids: list[int],
        fresh: set[int],
        cases: list[int | None],
    ) -> None:
        b = self._bulk
        existing: dict[int, list[Any]] = {}  # media id -> [entry id, *values]
        old_ids = sorted(set(media_ids) - fresh)
        for row in b.where_in(
            "SELECT media_id, id, source_format, source_id, category_profile, category, data, "
            f"case_id FROM exchange_entry WHERE agency_id = {b.mark} AND",
            "media_id",
            old_ids,
            sql_type="BIGINT",
            params=(self.agency.id,),
        ):
            values = list(row[1:])
            values[5] = b.load_json(values[5])
            existing[int(row[0])] = values
        rows: dict[int, list[Any]] = {}
        updated: dict[int, list[Any]] = {}
        for p, mid, case_id in zip(batch, media_ids, cases, strict=True):
            r = p.r
            values = [
                self.source_format,
                r.source_id,
                r.category_profile,
                r.category,
                r.entry_data(),
                case_id,
            ]
            found = existing.get(mid)
            if found is None:
                rows[mid] = values  # the same media twice in one batch: last one wins
                continue
            if values[5] is None:
                values[5] = found[6]
            if values != found[1:]:
                found[1:] = values
                updated[found[0]] = found
                self.counts.updated_entries += 1
            else:
                self.counts.unchanged_entries += 1
        now = b.time(utcnow())
        agency_id = self.agency.id
        b.insert(
            "exchange_entry",
            _ENTRY_COLUMNS,
            [
                (mid, agency_id, fmt, sid, prof, cat, b.json(data), case_id, now)
                for mid, (fmt, sid, prof, cat, data, case_id) in rows.items()
            ],
            json_columns=("data",),
        )
        self.counts.new_entries += len(rows)
        if updated:
            sets = ", ".join(f"{c} = {b.mark}" for c in _ENTRY_VALUES)
            if b.pg:
                sets = sets.replace(f"data = {b.mark}", f"data = CAST({b.mark} AS JSON)")
            b.execute_many(
                f"UPDATE exchange_entry SET {sets}, updated_at = {b.mark} WHERE id = {b.mark}",
                [
                    (fmt, sid, prof, cat, b.json(data), case_id, now, eid)
                    for eid, fmt, sid, prof, cat, data, case_id in updated.values()
                ],
            )

    def known_series(self, series: Mapping[str, int]) -> None:
        """Series of the agency's own its caller has read already (name -> id): no
        query per name at the first record naming each (federation: every page)."""
        for name, sid in series.items():
            self._series.setdefault(name, (sid, self.agency.id))

    def _series_id(self, name: str, number: int) -> int:
        """The agency's own series ``name``, created on first use. Series names are
        unique node-wide; a name another agency holds is refused with one answer
        whether or not the agency may see that series (under RLS a hidden one shows
        as the unique name's violation), and nothing is linked into it: a series
        takes media only from its owner."""
        hit = self._series.get(name)
        if hit is None:
            row = self.s.execute(
                select(Series.id, Series.agency_id).where(Series.name == name)
            ).first()
            owner = self.agency.id if row is None else int(row[1])
            if row is None:
                try:
                    with self.s.begin_nested():
                        created = repo.create_series(self.s, name, self.agency)
                except IntegrityError:
                    owner = -1  # held by an agency this connection cannot see
                else:
                    hit = (created.id, self.agency.id)
                    self.counts.series_created.append(name)
            if owner != self.agency.id:
                raise RecordError(
                    f"series {name!r} is another agency's: name a series of your own",
                    record=number,
                    field="Series",
                )
            if hit is None:
                assert row is not None
                hit = (int(row[0]), owner)
            self._series[name] = hit
        return hit[0]

    def _series_links(
        self, batch: Sequence[_Prepared], media_ids: list[int], fresh: set[int]
    ) -> None:
        pairs: dict[tuple[int, int], None] = {}
        named: dict[str | None, int] = {}  # the record's series name -> its id (0: none)
        for p, mid in zip(batch, media_ids, strict=True):
            r = p.r
            sid = named.get(r.series)
            if sid is None:
                name = (r.series or self.default_series or "").strip()
                sid = named[r.series] = self._series_id(name, p.number) if name else 0
            if not sid:
                continue
            pairs[(sid, mid)] = None
            victim, offender = r.victim_identified, r.offender_identified
            if victim is None and offender is None:
                continue
            flags = self._flags.setdefault(sid, {})
            for who, value in (("victim", victim), ("offender", offender)):
                if value is not None:
                    flags[who] = flags.get(who, False) or value
        if not pairs:
            return
        old = sorted({m for _, m in pairs if m not in fresh})
        have = {
            (int(sid), int(mid))
            for sid, mid in self._bulk.where_in(
                "SELECT series_id, media_id FROM series_media WHERE",
                "media_id",
                old,
                sql_type="BIGINT",
            )
        }
        rows = [x for x in pairs if x not in have]
        if self.link_new is not None:
            new = [x for x in rows if x[1] in fresh]
            if new and self.link_new(new):
                rows = [x for x in rows if x[1] not in fresh]
        if rows and self._held is not None:
            self._held.restore()  # links of older media: through the triggers
        self._bulk.insert("series_media", ("series_id", "media_id"), rows)

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
        self,
        batch: Sequence[_Prepared],
        media_ids: list[int],
        fresh: set[int],
        cases: list[int | None],
    ) -> None:
        b = self._bulk
        if not any(c is not None for c in cases):
            return
        old = sorted({m for m, c in zip(media_ids, cases, strict=True) if c is not None} - fresh)
        have: set[tuple[int, int, str]] = set()
        from_agency: set[int] = set()
        for mid, cid, path, agency_id in b.where_in(
            "SELECT media_id, case_id, original_path, agency_id FROM sighting WHERE",
            "media_id",
            old,
            sql_type="BIGINT",
        ):
            have.add((int(cid), int(mid), path))
            if agency_id == self.agency.id:
                from_agency.add(int(mid))
        rows: dict[tuple[int, int, str], None] = {}
        for p, mid, case_id in zip(batch, media_ids, cases, strict=True):
            if case_id is None:
                continue
            path = p.r.relative_path or f"{self.source_format}:{p.r.source_id or p.number}"
            if (case_id, mid, path) not in have:
                rows[(case_id, mid, path)] = None
        now = b.time(utcnow())
        b.insert(
            "sighting",
            ("media_id", "case_id", "agency_id", "original_path", "seen_at"),
            [(mid, cid, self.agency.id, path, now) for cid, mid, path in rows],
        )
        first = sorted({mid for _, mid, _ in rows} - from_agency)
        b.execute_many(
            f"UPDATE media SET submissions = submissions + 1 WHERE id = {b.mark}",
            [(m,) for m in first],
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
        """Series flags from the records: the agency's own series take what its file says
        (and the link triggers back, when :meth:`hold_link_triggers` held them)."""
        if self._held is not None:
            self._held.restore()
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
        if self._large:
            self.s.execute(text(f"PRAGMA cache_size = -{CACHE_KIB}"))
        return self.counts


__all__ = [
    "CACHE_KIB",
    "LARGE_CACHE_KIB",
    "ExchangeImport",
    "ImportCounts",
]
