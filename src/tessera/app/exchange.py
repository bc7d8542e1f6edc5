"""Importing and exporting exchange files (VICS, ICSE CSV, hash lists, TE CSV, NCMEC
XML, bundles): the use cases behind ``tessera import`` / ``tessera export``.

An import is all or nothing: the file is read as a stream and applied in batches
inside **one** transaction, so a bad record (reported with its number, line and
field) rolls everything back and a re-run starts clean; re-importing the same file
changes nothing, an updated file updates what changed. Exports stream the stored
media a chunk at a time, so memory stays flat at any size.

Both are audited (``exchange.import`` / ``exchange.export``, with the record count),
in the same transaction as the work.

Sharing: :func:`_sharing_level` is the one place where an export decides what may
leave for the caller. Today only the node's local operator exports (everything,
``full``); when the network service exists, it narrows the level and the media
per the caller's agency and its sharing rules.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal, TextIO

from tessera import gcpause
from tessera.app import audit
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.visibility import Level, Visibility, require_role, transaction
from tessera.errors import InvalidInput, NotFound, PermissionDenied, UnreadableFile
from tessera.exchange import bundle, hashlist, icse_csv, ncmec_xml, te_csv, vics
from tessera.exchange.model import ExchangeRecord
from tessera.exchange.stored import given_from_item, record_from_item
from tessera.storage import bulk_load, repo, sharing
from tessera.storage.exchange.export import (
    StoredItem,
    case_ids,
    category_profiles,
    iter_items,
    select_media,
)
from tessera.storage.exchange.importer import ExchangeImport
from tessera.storage.exchange.records import recorded_fingerprints

ImportFormat = Literal["vics", "icse-csv", "hashlist", "te-csv", "ncmec-xml", "bundle"]
ExportFormat = Literal["vics", "icse-csv", "hashlist", "te-csv", "bundle"]
IMPORT_FORMATS: tuple[str, ...] = ("vics", "icse-csv", "hashlist", "te-csv", "ncmec-xml", "bundle")
EXPORT_FORMATS: tuple[str, ...] = ("vics", "icse-csv", "hashlist", "te-csv", "bundle")
BATCH = 5000


class ImportSummary(Result):
    """What ``tessera import`` did with one file."""

    path: str
    format: str
    status: Literal["imported"]
    agency: str
    case: str | None
    series: str | None
    records: int
    new_media: int
    matched_media: int
    new_entries: int
    updated_entries: int
    unchanged_entries: int
    deleted_entries: int
    series_created: tuple[str, ...]
    series_updated: tuple[str, ...]


class ExportSummary(Result):
    """What ``tessera export`` wrote."""

    path: str
    format: str
    status: Literal["exported"]
    records: int
    level: str
    series: str | None
    case: str | None
    agency: str | None


def _reader(fmt: str, hash_type: str | None) -> Callable[[BinaryIO], Iterator[ExchangeRecord]]:
    if fmt == "vics":
        return vics.read
    if fmt == "icse-csv":
        return icse_csv.read
    if fmt == "hashlist":
        return lambda f: hashlist.read(f, hash_type=hash_type)
    if fmt == "te-csv":
        return te_csv.read
    if fmt == "ncmec-xml":
        return ncmec_xml.read
    if fmt == "bundle":
        return bundle.read
    raise InvalidInput(f"unknown import format {fmt!r} (one of {', '.join(IMPORT_FORMATS)})")


def import_file(
    app: App,
    caller: Caller,
    fmt: str,
    path: Path,
    *,
    agency_code: str,
    case: str | None = None,
    series: str | None = None,
    hash_type: str | None = None,
    batch_size: int = BATCH,
    label: str | None = None,
) -> ImportSummary:
    """Import ``path`` (format ``fmt``) for ``agency_code``, all or nothing.

    ``label``: the file's name as the caller knows it (an upload's), for the summary
    and the audit trail, when ``path`` is a temp file."""
    _may_import(caller, agency_code)
    read = _reader(fmt, hash_type)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from None
    # the writer lock from the start: concurrent imports and ingests see each other's
    # media before matching, and fingerprint ids commit in order (the indexes rely on it)
    with stream, app.db.write_session() as s:
        # under Row-Level Security (the network service's role) the rows written are
        # the importing agency's: name it, or the policies refuse every insert
        sharing.set_rls_caller(s, agency_code)
        agency = repo.get_agency(s, agency_code)
        the_case = repo.get_or_create_case(s, agency, case) if case else None
        job = ExchangeImport(
            s,
            agency=agency,
            case=the_case,
            series=series,
            source_format=fmt,
            seen=_seen_by(s, agency_code),
            own=_own_records_of(s, agency_code),
        )
        # links of media this import creates go in with each series' count raised once,
        # not through the per-row link triggers (SQLite; what federation's pull does),
        # the triggers dropped once for the whole import (job.finish creates them again)
        job.hold_link_triggers()
        numbered = enumerate(read(stream), 1)
        deferred = False
        while True:
            # the collector paused per batch (bounded: reading and applying batch_size
            # records), as in federation: records and row tuples are acyclic, and its
            # runs walked every live object thousands of times per file
            with gcpause.paused():
                batch = list(itertools.islice(numbered, batch_size))
                if batch and batch[0][0] == 1:
                    deferred = _defer_indexes(s, fmt, stream, len(batch), batch_size)
                    if deferred:  # many more records coming than held
                        job.large()
                if batch:
                    job.apply(batch)
            if not batch:
                break
        counts = job.finish()
        if deferred:
            bulk_load.restore(s)  # in this transaction: a kill before commit keeps them
        audit.record_in(
            s,
            app,
            caller,
            "exchange.import",
            target=f"file:{label or path.name}",
            series=series,
            params={"format": fmt, "agency": agency_code, "case": case, "series": series},
            result_count=counts.records,
        )
    return ImportSummary(
        path=label or str(path),
        format=fmt,
        status="imported",
        agency=agency_code,
        case=case,
        series=series,
        records=counts.records,
        new_media=counts.new_media,
        matched_media=counts.matched_media,
        new_entries=counts.new_entries,
        updated_entries=counts.updated_entries,
        unchanged_entries=counts.unchanged_entries,
        deleted_entries=counts.deleted_entries,
        series_created=tuple(counts.series_created),
        series_updated=tuple(counts.series_updated),
    )


_DELETING = frozenset({"ncmec-xml", "bundle"})
"""Formats whose records may be deletions (entries found by source id)."""


def _defer_indexes(s: Any, fmt: str, stream: BinaryIO, first: int, batch_size: int) -> bool:
    """Drop the indexes an import writes but never reads when far more records are
    coming than the database holds (``storage.bulk_load``, SQLite); the import creates
    them again, sorted, before it commits, so they are never missing after it.

    How many are coming is estimated from the first batch: its records per byte read
    so far, times the file's size."""
    if first < batch_size:
        coming = first
    else:
        try:
            size = os.fstat(stream.fileno()).st_size
            coming = size * first // max(stream.tell(), 1)
        except (OSError, AttributeError, ValueError):
            return False
    if bulk_load.missing(s) or not bulk_load.worth_it(s, coming):
        return False  # (missing: a federation pull's marker, left to it)
    names = list(bulk_load.IMPORT_DEFERRED)
    if fmt not in _DELETING:
        names.append("ix_exchange_entry_agency_source")
    bulk_load.defer(s, names)
    return True


def _seen_by(
    s: Any, agency_code: str, minimum: Level = Level.HASH
) -> Callable[[set[int]], set[int]]:
    """What the importing agency sees (``minimum`` up), whoever runs the import: matching
    and the summary's counts are the agency's view, so they are the same whether or
    not another agency holds the same content unshared (the local operator importing
    for an agency is told what the agency would be). A fresh ``Visibility`` per
    batch: the agency's own records of earlier batches count."""
    agency_view = Caller(role=Role.CURATOR, agency_code=agency_code)

    def seen(ids: set[int]) -> set[int]:
        return Visibility.of(s, agency_view).seen_media(ids, minimum)

    return seen


def _own_records_of(
    s: Any, agency_code: str
) -> Callable[[set[int]], Mapping[int, sharing.BlindRecord]]:
    """What the importing agency's own records said of the items among ``ids`` it sees
    through its blind link only (``Visibility.own_records``): matching compares with
    those, not the row's digests."""
    agency_view = Caller(role=Role.CURATOR, agency_code=agency_code)

    def own(ids: set[int]) -> Mapping[int, sharing.BlindRecord]:
        return Visibility.of(s, agency_view).own_records(ids)

    return own


def _may_import(caller: Caller, agency_code: str) -> None:
    """An import writes like an ingest: curators and up, for their own agency."""
    if caller.is_local_operator:
        return
    require_role(caller, Role.CURATOR)
    if caller.agency_code != agency_code:
        raise PermissionDenied("you may import only for your own agency")


def _sharing_level(caller: Caller, requested: bundle.Level) -> bundle.Level:
    """THE sharing hook of exports: the bundle level a caller may ask for.

    The local operator exports everything; network callers need the analyst role,
    and each of their records is narrowed to its own sharing level by
    ``_shared_records`` (``tessera.app.visibility``).
    """
    if not caller.is_local_operator:
        require_role(caller, Role.ANALYST)
    return requested


STATUS_FIELDS = (
    *bundle.HASH_FIELDS,
    "series",
    "category",
    "category_profile",
    "victim_identified",
    "offender_identified",
    "baseline",
    "submissions",
)
"""What a record shows at ``status``: hashes, the series and its status (no entry
details: paths, case references, comments, tags stay with ``full``)."""


def _for_level(r: ExchangeRecord, level: Level) -> ExchangeRecord:
    if level >= Level.FULL:
        return r
    keep = STATUS_FIELDS if level >= Level.STATUS else bundle.HASH_FIELDS
    return ExchangeRecord(**{f: getattr(r, f) for f in keep})


def _shared_records(
    s: Any, vis: Visibility, items: Iterator[StoredItem]
) -> Iterator[ExchangeRecord]:
    """Only media the caller sees (``hash`` up), each as much as its level shows; the
    series named are only those it sees at ``status`` or more."""
    series_ids: dict[str, int | None] = {}
    for item in items:
        level = vis.media_level(item.media_id)
        if level < Level.HASH:
            continue
        new = [name for name, *_ in item.series if name not in series_ids]
        if new:
            found = sharing.series_ids_by_name(s, new)
            series_ids.update({n: found.get(n) for n in new})
        levels = vis.series_levels(i for i in series_ids.values() if i is not None)
        shown = tuple(
            x for x in item.series if levels.get(series_ids[x[0]] or -1, Level.NONE) >= Level.STATUS
        )
        narrowed = item._replace(series=shown, entry=item.entry if level >= Level.FULL else None)
        own = vis.own_records([item.media_id]).get(item.media_id)
        if own is not None:  # seen through a blind link only: what its record said
            narrowed = narrowed._replace(
                md5=own.md5,
                sha1=own.sha1,
                sha256=own.sha256,
                kind=own.kind or "other",
                byte_size=own.byte_size,
                submissions=own.sightings,
                fingerprints=recorded_fingerprints(own.hashes),
            )
        yield _for_level(record_from_item(narrowed), level)


def export(
    app: App,
    caller: Caller,
    fmt: str,
    out: TextIO,
    *,
    path: str = "-",
    series: str | None = None,
    case: str | None = None,
    agency: str | None = None,
    hash_type: str | None = None,
    vics_version: str = "2.0",
    vics_root: str = "Media",
    level: bundle.Level = "full",
) -> ExportSummary:
    """Write the selected media (one of series / case / agency, or all) to ``out``."""
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
    if sum(x is not None for x in (series, case, agency)) > 1:
        raise InvalidInput("give at most one of --series, --case, --agency")
    level = _sharing_level(caller, level)
    with transaction(app, caller) as (s, vis):
        sel: dict[str, Any] = {}
        prefer: int | None = None
        if series is not None:
            chosen = repo.get_series(s, series)
            vis.require_series(chosen)
            sel["series_id"] = chosen.id
        if agency is not None:
            a = repo.get_agency(s, agency)
            sel["agency_id"] = prefer = a.id
        if case is not None:
            sel["case_id"] = _case_id(s, case, caller)
            if vis.case_levels([sel["case_id"]])[sel["case_id"]] < Level.STATUS:
                raise NotFound(f"no case {case!r}")
        ids = select_media(**sel)
        # a network caller reads its own agency's entries only (never another's record)
        own = None if vis.everything else (vis.agency_id if vis.agency_id is not None else -1)
        items = iter_items(s, ids, prefer_agency=prefer, entries_of=own, all_live=not sel)
        records: Iterator[ExchangeRecord] = (
            (record_from_item(item) for item in items)
            if vis.everything
            else _shared_records(s, vis, items)
        )
        with gcpause.paused():  # records and rows are acyclic (tessera.gcpause)
            if fmt == "vics":
                profiles = category_profiles(s, ids)
                if len(profiles) > 1:
                    raise InvalidInput(
                        "the selection has categories of several profiles "
                        f"({', '.join(profiles)}); a VICS file has one: export per series"
                    )
                profile = profiles[0] if profiles else "Default"
                header = {"version": vics_version, "profile": profile, "root": vics_root}
                if vis.everything:  # the records' fields alone: no record objects
                    values = (given_from_item(item) for item in items)
                    n = vics.write_values(values, out, **header)
                else:
                    n = vics.write(records, out, **header)
            elif fmt == "icse-csv":
                n = icse_csv.write(records, out)
            elif fmt == "hashlist":
                n = hashlist.write(records, out, hash_type=hash_type)
            elif fmt == "te-csv":
                n = te_csv.write(records, out)
            else:
                n = bundle.write(records, out, level=level, agency=agency)
        audit.record_in(
            s,
            app,
            caller,
            "exchange.export",
            target=f"export:{fmt}",
            series=series,
            params={"format": fmt, "case": case, "agency": agency, "level": level},
            result_count=n,
        )
    return ExportSummary(
        path=path,
        format=fmt,
        status="exported",
        records=n,
        level=level,
        series=series,
        case=case,
        agency=agency,
    )


def _case_id(s: Any, number: str, caller: Caller) -> int:
    ids = case_ids(s, number)
    if not ids:
        raise NotFound(f"no case {number!r}")
    if len(ids) > 1:
        raise InvalidInput(f"case {number!r} exists in several agencies; export by --agency")
    return ids[0]


__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "ExportSummary",
    "ImportSummary",
    "export",
    "import_file",
]
