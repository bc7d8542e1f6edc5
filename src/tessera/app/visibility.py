"""Sharing rules: what a caller may see of each series, case and media item.

This is the one place the rules live; every read use case asks it, and PostgreSQL's
Row-Level Security (migration 0006) re-applies the same row rules underneath.

**Levels**, least to most (each shows everything the one before does):

* ``none``: others learn nothing, not even that it exists (404 everywhere);
* ``hash``: a match says only "known to the network" and the owner agency's contact;
* ``status``: + series name, victim/offender identified (by whom, when), category,
  Baseline, submissions; a case's number and sighting count;
* ``full``: + linked (pseudonymous) victims, offenders, locations, markers, OCR
  text, camera/GPS metadata; a case's sightings (paths, file times) are shown
  where the case itself is ``full``.

**Who gets which level** (``resolve``):

1. the owner agency sees its own series and cases in ``full``;
2. otherwise the *most specific* grant naming the caller wins: a grant to the
   caller's agency beats one to its country, which beats one to the whole network,
   whatever their levels (so "network: none, agency X: full" shares with X only,
   and "network: full, country DE: hash" keeps Germany at hash);
3. with no grant: a series is ``status`` to the network (what ICSE exists for), a
   case ``none`` (its number and paths are the owner's business, and a default
   above ``none`` would undo an owner's ``none`` on a series of that case's media);
4. a media item is seen at the best level of any series holding it and any case it
   was sighted in (the submitting agency sees its own sightings' media in ``full``,
   an importing agency the media its exchange files describe; an imported record
   filed under a case counts as a sighting in it);
   media in no series and no shared case are seen by their submitters only.
5. content an agency could not see when its record named it (held unshared by
   another agency: a *blind link*, ``storage.identity``) is seen through that
   agency's own series, cases and records up to ``status`` only; its ``full``
   rows came with the other agency's file and stay that agency's (shown only
   where that agency shares them), until the agency ingests the file itself.
6. where the agency sees such an item through its own series, cases and records
   only, even the media row's global columns are not its: it is shown what its
   own record said (digests, kind, size), its own sightings as submissions and
   the time it linked as first seen (``Visibility.own_records``, migration 0025).

The node's **local operator** (the command line on the server machine, which can
read the database file anyway) sees everything. Every other caller, a network
operator included, sees through their agency; a caller without a known agency sees
nothing. Roles decide what a caller may *do* (``require_role``), not what it sees.

What a caller may not see answers ``NotFound``, never ``PermissionDenied``: a 403
would confirm that the record exists. ``PermissionDenied`` is only for records the
caller may see but whose owner it is not (or whose role is too low).

**For use cases** (and the API): open ``transaction(app, caller)`` instead of
``app.transaction()``; it yields the session and a ``Visibility`` bound to the
caller (and names the caller to PostgreSQL's RLS). Filter with
``vis.series_levels(ids)`` / ``vis.media_levels(ids)`` / ``vis.visible_series()``,
guard single records with ``vis.require_series(series)`` (NotFound below
``status``), and pass results through ``redact(result, level)``: a result field
declared with ``shared_at(Level.FULL, default)`` is replaced by its default when
the caller's level is lower.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.matching.pdq_store import PdqStore
from tessera.matching.scene_store import SceneStore
from tessera.storage import repo, sharing
from tessera.storage.db import Database, Session
from tessera.storage.models import Series


class Level(IntEnum):
    """A sharing level; comparable (``Level.STATUS >= Level.HASH``)."""

    NONE = 0
    HASH = 1
    STATUS = 2
    FULL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise InvalidInput(
                f"sharing level {text!r} is not one of none, hash, status, full"
            ) from None


DEFAULT_SERIES_LEVEL = Level.STATUS
DEFAULT_CASE_LEVEL = Level.NONE
SPECIFICITY = ("agency", "country", "network")
"""Grant scopes, most specific first: the first one present decides."""

_ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.CURATOR: 2, Role.ADMIN: 3, Role.OPERATOR: 4}


def resolve(is_owner: bool, grants: Mapping[str, str], default: Level) -> Level:
    """The level one caller has on one series or case (rules 1-3 above)."""
    if is_owner:
        return Level.FULL
    for scope in SPECIFICITY:
        if scope in grants:
            return Level.parse(grants[scope])
    return default


def require_role(caller: Caller, minimum: Role) -> None:
    """``PermissionDenied`` unless the caller's role is at least ``minimum``."""
    if _ROLE_RANK[caller.role] < _ROLE_RANK[minimum]:
        raise PermissionDenied(f"this needs the {minimum.value} role or higher")


@dataclass
class Visibility:
    """The rules bound to one caller in one transaction; levels are cached per id."""

    s: Session
    caller: Caller
    everything: bool
    agency_id: int | None = None
    agency_code: str | None = None
    country: str | None = None
    _series: dict[int, Level] = field(default_factory=dict)
    _cases: dict[int, Level] = field(default_factory=dict)
    _media: dict[int, Level] = field(default_factory=dict)
    _in_series: dict[int, frozenset[int]] = field(default_factory=dict)
    _in_cases: dict[int, frozenset[int]] = field(default_factory=dict)
    _importers: dict[int, frozenset[int]] = field(default_factory=dict)
    _blind: set[int] = field(default_factory=set)
    """Media ids among those ``containers`` read that the caller's agency linked blind."""
    _blind_only: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, s: Session, caller: Caller) -> Visibility:
        if caller.is_local_operator:
            return cls(s, caller, everything=True)
        agency = sharing.agency_facts(s, caller.agency_code) if caller.agency_code else None
        if agency is None:
            return cls(s, caller, everything=False)  # sees nothing: fail closed
        return cls(
            s,
            caller,
            everything=False,
            agency_id=agency.id,
            agency_code=agency.code,
            country=agency.country,
        )

    def containers(
        self, media_ids: Iterable[int]
    ) -> tuple[dict[int, frozenset[int]], dict[int, frozenset[int]]]:
        """media id -> series holding it, and -> cases it was sighted in (ids with none
        left out), read once per transaction (levels, contacts and names all need them)."""
        wanted = set(media_ids)
        todo = [m for m in wanted if m not in self._in_series]
        if todo:  # with the caller's blind links in the same statement (``media_levels``)
            found = sharing.containers(self.s, todo, self.agency_id)
            for m in todo:
                self._in_series[m] = frozenset(found.in_series.get(m, ()))
                self._in_cases[m] = frozenset(found.in_cases.get(m, ()))
                self._importers[m] = frozenset(found.importers.get(m, ()))
            self._blind.update(found.blind)
        return (
            {m: self._in_series[m] for m in wanted if self._in_series[m]},
            {m: self._in_cases[m] for m in wanted if self._in_cases[m]},
        )

    # -- levels ------------------------------------------------------------------------

    def _levels(
        self, target: sharing.Target, ids: Iterable[int], cache: dict[int, Level], default: Level
    ) -> dict[int, Level]:
        wanted = set(ids)
        todo = [i for i in wanted if i not in cache]
        if todo:
            if self.everything:
                cache.update(dict.fromkeys(todo, Level.FULL))
            elif self.agency_id is None or self.agency_code is None or self.country is None:
                cache.update(dict.fromkeys(todo, Level.NONE))
            else:
                owner, grants = sharing.owners_and_grants(
                    self.s, target, todo, self.agency_code, self.country
                )
                for i in todo:
                    if i not in owner:  # no such row (or hidden by RLS)
                        cache[i] = Level.NONE
                    else:
                        cache[i] = resolve(owner[i] == self.agency_id, grants.get(i, {}), default)
        return {i: cache[i] for i in wanted}

    def series_levels(self, ids: Iterable[int]) -> dict[int, Level]:
        """series id -> the caller's level (``NONE`` for ids that do not exist)."""
        return self._levels("series", ids, self._series, DEFAULT_SERIES_LEVEL)

    def case_levels(self, ids: Iterable[int]) -> dict[int, Level]:
        return self._levels("case", ids, self._cases, DEFAULT_CASE_LEVEL)

    def series_level(self, series_id: int) -> Level:
        return self.series_levels([series_id])[series_id]

    def media_levels(self, ids: Iterable[int]) -> dict[int, Level]:
        """media id -> the best level of the series holding it and cases it was seen in."""
        wanted = set(ids)
        todo = [i for i in wanted if i not in self._media]
        if todo:
            if self.everything:
                self._media.update(dict.fromkeys(todo, Level.FULL))
            else:
                in_series, in_cases = self.containers(todo)
                sl = self.series_levels({x for v in in_series.values() for x in v})
                cl = self.case_levels({x for v in in_cases.values() for x in v})
                me = self.agency_id
                blind = self._blind.intersection(todo)  # read with the containers
                own_s: dict[int, int] = {}
                own_c: dict[int, int] = {}
                if blind:  # rule 5: the caller's own containers of a blind link
                    own_s = sharing.owners(
                        self.s, "series", {x for m in blind for x in in_series.get(m, ())}
                    )
                    own_c = sharing.owners(
                        self.s, "case", {x for m in blind for x in in_cases.get(m, ())}
                    )
                for m in todo:
                    cap = Level.STATUS if m in blind else Level.FULL
                    levels = [
                        min(sl[x], cap) if own_s.get(x) == me else sl[x]
                        for x in in_series.get(m, ())
                    ]
                    levels += [
                        min(cl[x], cap) if own_c.get(x) == me else cl[x]
                        for x in in_cases.get(m, ())
                    ]
                    if me is not None and me in self._importers[m]:
                        levels.append(cap)  # its own imported record
                    self._media[m] = max(levels, default=Level.NONE)
                    if m in blind:  # seen through its own containers only: rule 6
                        others = [sl[x] for x in in_series.get(m, ()) if own_s.get(x) != me]
                        others += [cl[x] for x in in_cases.get(m, ()) if own_c.get(x) != me]
                        if max(others, default=Level.NONE) < Level.STATUS:
                            self._blind_only.add(m)
        return {i: self._media[i] for i in wanted}

    def own_records(self, media_ids: Iterable[int]) -> dict[int, sharing.BlindRecord]:
        """media id -> what the caller's own record said, for the items among
        ``media_ids`` it sees only through a blind link (rule 6): show these instead
        of the media row's digests, kind, size, submissions and first sighting."""
        wanted = set(media_ids)
        self.media_levels(wanted)
        narrow = wanted & self._blind_only
        if not narrow or self.agency_id is None:
            return {}
        found = sharing.blind_records(self.s, narrow, self.agency_id)
        return {m: found[m] for m in narrow if m in found}

    def case_contacts(self, media_ids: Iterable[int]) -> dict[int, set[str]]:
        """media id -> contacts of other agencies whose cases, shared with the caller at
        ``hash`` or more, hold it: whom a "known to the network" answer names."""
        if self.everything or not media_ids:
            return {}
        _, in_cases = self.containers(media_ids)
        levels = self.case_levels({c for v in in_cases.values() for c in v})
        owner = sharing.owners(self.s, "case", levels)
        contact = sharing.agency_contacts(self.s, set(owner.values()))
        out: dict[int, set[str]] = {}
        for m, cases in in_cases.items():
            for c in cases:
                a = owner.get(c)
                if levels[c] >= Level.HASH and a != self.agency_id and contact.get(a or -1):
                    out.setdefault(m, set()).add(contact[a or -1])
        return out

    def series_names_of_media(
        self, media_ids: Iterable[int], minimum: Level = Level.STATUS
    ) -> dict[int, list[str]]:
        """media id -> sorted names of the series holding it that the caller sees at
        ``minimum`` or more (a series name is a ``status`` fact)."""
        in_series, _ = self.containers(media_ids)
        levels = self.series_levels({x for v in in_series.values() for x in v})
        names = sharing.series_names(self.s, [i for i, lv in levels.items() if lv >= minimum])
        return {m: sorted(names[x] for x in ids if x in names) for m, ids in in_series.items()}

    def seen_media(self, media_ids: Iterable[int], minimum: Level) -> set[int]:
        """The ids among ``media_ids`` the caller sees at ``minimum`` or more."""
        return {m for m, lv in self.media_levels(media_ids).items() if lv >= minimum}

    def media_level(self, media_id: int) -> Level:
        return self.media_levels([media_id])[media_id]

    def visible_series(self, minimum: Level = Level.STATUS) -> set[int]:
        """Ids of every series the caller sees at ``minimum`` or more."""
        ids = sharing.owners(self.s, "series").keys()
        return {i for i, lv in self.series_levels(ids).items() if lv >= minimum}

    def visible_cases(self, minimum: Level = Level.STATUS) -> set[int]:
        ids = sharing.owners(self.s, "case").keys()
        return {i for i, lv in self.case_levels(ids).items() if lv >= minimum}

    # -- guards ------------------------------------------------------------------------

    def is_owner(self, agency_id: int) -> bool:
        return self.everything or (self.agency_id is not None and agency_id == self.agency_id)

    def require_series(self, series: Series, minimum: Level = Level.STATUS) -> Level:
        """The caller's level on ``series``; ``NotFound`` (worded as for a missing name)
        below ``minimum``."""
        level = self.series_level(series.id)
        if level < minimum:
            raise NotFound(f"no series {series.name!r}")
        return level

    def require_series_owner(self, series: Series, role: Role = Role.CURATOR) -> None:
        """For changes: the caller must see the series, be of its owner and have ``role``.

        Not seeing it is ``NotFound``; seeing it without owning it is ``PermissionDenied``.
        """
        self.require_series(series)
        if not self.is_owner(series.agency_id):
            raise PermissionDenied(f"series {series.name!r} belongs to another agency")
        require_role(self.caller, role)

    def require_media(self, media_id: int, minimum: Level = Level.STATUS) -> Level:
        level = self.media_level(media_id)
        if level < minimum:
            raise NotFound(f"no media item with id {media_id}")
        return level


@contextmanager
def transaction(app: App, caller: Caller) -> Iterator[tuple[Session, Visibility]]:
    """``app.transaction()`` with the caller's ``Visibility`` and PostgreSQL RLS caller set.

    Inside ``unit(app, caller)`` (the same caller): the unit's session and its
    ``Visibility`` (levels already read are not read again), nothing set again.
    """
    if isinstance(app, Unit):
        if app.shares(caller):
            yield app.session, app.visibility
            return
        app = app.app  # another caller never joins (nor renames) the unit's transaction
    with app.transaction() as s:
        if not caller.is_local_operator:
            sharing.set_rls_caller(s, caller.agency_code)
        yield s, Visibility.of(s, caller)


class Unit(App):
    """``app`` for several use cases of one caller in **one** transaction (``unit``).

    Why: a web page asks five to eight use cases (the record, its grid, its activity,
    the page's audit entry, the reader's settings and unread count); each opening its
    own transaction paid BEGIN, naming the caller to PostgreSQL's RLS, reading the
    caller's agency and COMMIT again, and read the same sharing levels again. Passed
    where an ``App`` is expected, every ``transaction(app, caller)`` of that caller
    and every ``app.transaction()`` inside it join the unit's transaction: what they
    write (an audit entry) commits with it or not at all. Everything else (the
    indexes, ``db``, settings, the hit queue) is the ``App``'s. Closed, it is the
    ``App`` again (each use case its own transaction).
    """

    def __init__(self, app: App, s: Session, vis: Visibility) -> None:
        super().__init__(app.settings)
        self.app = app
        self.hit_queue = app.hit_queue
        self.session = s
        self.visibility = vis
        self.open = True

    def shares(self, caller: Caller) -> bool:
        """True when ``caller`` is the unit's (its transaction names that caller)."""
        return self.open and caller == self.visibility.caller

    @property
    def db(self) -> Database:
        return self.app.db

    @property
    def index_db(self) -> Database:
        return self.app.index_db

    def migrate(self) -> Database:
        return self.app.migrate()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        if not self.open:
            with self.app.transaction() as s:
                yield s
            return
        yield self.session

    def pdq_store(self) -> PdqStore:
        return self.app.pdq_store()

    def scene_store(self) -> SceneStore:
        return self.app.scene_store()

    def close(self) -> None:
        """The ``App`` is not the unit's to close."""


@contextmanager
def unit(app: App, caller: Caller) -> Iterator[Unit]:
    """One transaction for several use cases of ``caller`` (see ``Unit``): committed
    when the block ends, rolled back on any error."""
    if isinstance(app, Unit):
        if app.shares(caller):
            yield app
            return
        app = app.app
    with transaction(app, caller) as (s, vis):
        repo.keep_loaded(s)  # its use cases ask for the same media item by id
        u = Unit(app, s, vis)
        try:
            yield u
        finally:
            u.open = False


# -- field-by-field redaction of results ----------------------------------------------------

_KEY = "shared_at"
R = TypeVar("R", bound=BaseModel)


def shared_at(level: Level, default: Any = None) -> Any:
    """Declare a result field shown only from ``level`` up (else ``default``).

    The level also appears in the JSON schema (``"shared_at": "full"``), so the
    API's OpenAPI document says which fields each level shows.
    """
    return Field(default=default, json_schema_extra={_KEY: level.label})


def field_level(model: type[BaseModel], name: str) -> Level:
    """The level from which ``model.name`` is shown (``HASH`` when undeclared)."""
    extra = model.model_fields[name].json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(_KEY), str):
        return Level.parse(str(extra[_KEY]))
    return Level.HASH


def redact(result: R, level: Level) -> R:
    """``result`` with every field above ``level`` replaced by its declared default."""
    model = type(result)
    updates: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if level < field_level(model, name):
            updates[name] = info.get_default(call_default_factory=True)
    return result.model_copy(update=updates) if updates else result


__all__ = [
    "DEFAULT_CASE_LEVEL",
    "DEFAULT_SERIES_LEVEL",
    "SPECIFICITY",
    "Level",
    "Unit",
    "Visibility",
    "field_level",
    "redact",
    "require_role",
    "resolve",
    "shared_at",
    "transaction",
    "unit",
]
