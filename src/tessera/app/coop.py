"""Working together across agencies: deconfliction, overlaps, notifications.

*Deconfliction of known series*: when agency B's lookup, triage or ingest hits
media of a series owned by agency A, A is told (B, B's country, when, how many
files, how it was found, and B's case number only where B's case is shared with A
at ``status`` or more) **whatever the series' sharing level**, ``none``
included. B learns nothing more than its level gives it (a *blind hit*: at
``none`` B's answer says nothing and B does not see the overlap).

*Overlaps between new cases*: when an ingest puts in B's case media that no
series holds and that another agency C already sighted in its own case, both are
told "your case X and another case share N files"; who the other side is comes at
the level the other case is shared with the reader: ``hash`` gives its contact,
``status`` its agency, country and case number, ``none`` nothing but the fact.

Overlaps are found in the node's own transaction (across agencies, on purpose)
after the use case that found the hits has committed; then notifications are
queued for delivery (``tessera.app.delivery``) outside any transaction. Every
overlap found and every mark is audited.

**Under PostgreSQL Row-Level Security** the network service's role sees only what
the transaction's named caller may see, so a plain query would never find the
series of another agency that the finder may not see: exactly the blind hits
deconfliction exists for. Two SECURITY DEFINER functions (migration 0012,
``tessera_series_hits`` and ``tessera_new_case_hits``) answer the one question
that must cross agencies: *which series / new cases of which owner hold these
media ids*. They were chosen over a second, RLS-exempt connection because they are
narrow: ids in, ids out (series or case id, owner agency id, media id), live rows
only, for media ids the node's matching already found; no name, no case number,
no contact ever leaves them. Everything else is read *as the agency being told*
(``acting_as``: the owner reads its own series' name; a reader's view of the other
side's case is read under the reader's identity), so RLS checks each disclosure a
second time; and the finder's own answer is built under the finder's identity as
before, so the finder learns nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlparse

from tessera.app import audit, delivery
from tessera.app.caller import Caller, Role
from tessera.app.context import App
from tessera.app.federation import notices as federation_notices
from tessera.app.notifications import NotificationView, render
from tessera.app.results import Result
from tessera.app.retry import retried
from tessera.app.visibility import Level, Visibility, require_role, transaction
from tessera.errors import InvalidInput, NotFound, PermissionDenied
from tessera.storage import coop as store
from tessera.storage import repo, sharing
from tessera.storage.db import Session
from tessera.storage.models import Agency, Notification, Overlap

Via = Literal["lookup", "triage", "ingest"]
Mark = Literal["same-investigation", "related", "unrelated"]
MARKS: tuple[str, ...] = ("same-investigation", "related", "unrelated")
OPERATOR_READER = "operator"
MAX_ROW_ID = 2**31 - 1


# -- results ---------------------------------------------------------------------------


class MarkedRead(Result):
    marked: int
    """Notifications newly marked read (already read ones are not counted)."""


class OverlapView(Result):
    id: int
    kind: str
    via: str
    side: Literal["owner", "finder", "operator"]
    """Which side of the overlap the caller is."""
    files: int
    found_at: datetime
    series: str | None
    """The series hit (``status`` or more for the finder), else None."""
    my_case: str | None
    other_agency: str | None
    other_country: str | None
    other_case: str | None
    other_contact: str | None
    my_mark: str | None
    my_note: str | None
    other_mark: str | None
    other_note: str | None


class DeliverySettings(Result):
    agency: str
    webhook_url: str | None
    webhook_secret_set: bool
    email_to: str | None
    smtp_host: str | None
    smtp_port: int | None
    smtp_from: str | None


# -- who may be told what ----------------------------------------------------------------


def _viewer(agency: Agency) -> Caller:
    return Caller(role=Role.VIEWER, agency_code=agency.code)


def acting_as(s: Session, agency: Agency) -> None:
    """Read what follows in ``s`` as ``agency`` (PostgreSQL RLS; no-op elsewhere).

    What one side of an overlap may be told is read *as that side*, so Row-Level
    Security re-checks the application's decision."""
    sharing.set_rls_caller(s, agency.code)


def _case_level(s: Session, reader: Agency, case_id: int | None) -> Level:
    if case_id is None:
        return Level.NONE
    acting_as(s, reader)
    return Visibility.of(s, _viewer(reader)).case_levels([case_id])[case_id]


def _other_side(
    s: Session, reader: Agency, other: Agency, other_case_id: int | None
) -> dict[str, Any]:
    """What ``reader`` may be told of the other side's case (by its sharing level)."""
    level = _case_level(s, reader, other_case_id)  # now reading as ``reader``
    out: dict[str, Any] = {"agency": None, "country": None, "case": None, "contact": None}
    if level >= Level.HASH:
        out["contact"] = other.contact
    if level >= Level.STATUS and other_case_id is not None:
        case = store.cases(s, [other_case_id])[other_case_id]
        out.update(agency=other.code, country=other.country, case=case.number)
    return out


# -- finding overlaps --------------------------------------------------------------------


def notify_curators(
    s: Session, agency_id: int, kind: str, payload: dict[str, Any], *, key: str | None = None
) -> list[int]:
    """A notice that needs a curator's action (a quarantine to release, a Baseline item
    to review): one for each active curator / admin of the agency, personally, read or
    unread by each; the agency's inbox when it has no such account."""
    users: list[int | None] = list(store.curators_of(s, agency_id)) or [None]
    return [
        store.add_notification(s, agency_id, kind, payload, user_id=u, dedup_key=key).id
        for u in users
    ]


def dedup_key(kind: str, agency_id: int, user_id: int | None, *parts: int | None) -> str:
    """One notice per (kind, recipient, what was hit, by whom, in which case)."""
    raw = ":".join(str(p) for p in (kind, agency_id, user_id, *parts))
    return hashlib.sha256(raw.encode()).hexdigest()


def _repeat(
    s: Session, prior: Notification, payload: dict[str, Any], files: int, now: datetime
) -> None:
    """The same notice raised again within the window: count it, keep the largest file
    count and the latest time, keep its id, overlap and read state."""
    old = dict(prior.payload)
    files = max(files, int(old.get("files", 0)))
    prior.payload = {**old, **payload, "overlap": old.get("overlap"), "files": files}
    prior.count = (prior.count or 1) + 1
    prior.updated_at = now
    if prior.overlap_id is not None:
        ov = store.get_overlap(s, prior.overlap_id)
        if ov is not None:
            ov.files = max(ov.files, files)
    s.flush()


def notice(
    app: App,
    caller: Caller,
    media_ids: Iterable[int],
    *,
    via: Via,
    finder_agency: str | None = None,
    case_id: int | None = None,
    deliver: bool = True,
    how: dict[int, set[str]] | None = None,
) -> list[int]:
    """Record the overlaps ``media_ids`` (what the caller's work hit) reveal and notify.

    ``finder_agency`` defaults to the caller's; a call without one (the node's
    operator looking something up) finds nothing. ``case_id``: the finder's case
    (ingest), which also looks for overlaps with other agencies' new cases.
    ``how``: media id -> how it matched (exact, pdq, video, audio, copy...), named in
    case overlaps' notices. Returns the ids of the notifications raised.
    """
    code = finder_agency or caller.agency_code
    ids = set(media_ids)
    if code is None or not ids:
        return []
    with app.transaction() as s:
        raised, queued = notice_in(
            s, app, caller, ids, via=via, finder_agency=code, case_id=case_id, how=how
        )
    if deliver and queued:
        delivery.dispatch(app, raised)
    return raised


def notice_in(
    s: Session,
    app: App,
    caller: Caller,
    media_ids: Iterable[int],
    *,
    via: Via,
    finder_agency: str | None = None,
    case_id: int | None = None,
    how: dict[int, set[str]] | None = None,
    in_series: Mapping[int, Iterable[int]] | None = None,
) -> tuple[list[int], int]:
    """``notice`` inside the transaction ``s``: (notifications raised, deliveries
    queued); the caller dispatches the deliveries (``delivery.dispatch``) after its
    commit. Reads as the finder and then as each owner (RLS): nothing read in ``s``
    after it may rely on the caller's identity. ``in_series``: the series holding
    each item as already read in ``s`` (``storage.coop.series_hits``).
    """
    code = finder_agency or caller.agency_code
    ids = set(media_ids)
    if code is None or not ids:
        return [], 0
    raised: list[int] = []
    window = app.settings.notice_window
    me = sharing.agency_facts(s, code)
    if me is None:
        return [], 0
    now = datetime.now(UTC)
    sharing.set_rls_caller(s, me.code)  # acting as the finder
    # across agencies, ids only (SECURITY DEFINER under RLS): see the module docstring
    found = store.series_hits(s, ids, in_series)
    hits = {k: v for k, v in found.items() if v[0] != me.id}
    case_hits = store.unclassified_case_hits(s, ids, me.id) if case_id is not None else {}
    if not hits and not case_hits:  # the finder's own items (most hits): nothing to tell
        return [], 0
    finder = sharing.agency_by_code(s, code)
    if finder is None:
        return [], 0
    agencies = store.agencies(s, [o for o, _ in hits.values()] + [o for o, _ in case_hits.values()])
    my_case = store.cases(s, [case_id])[case_id] if case_id is not None else None
    for sid, (owner_id, media) in sorted(hits.items()):
        owner = agencies[owner_id]
        acting_as(s, owner)  # the owner reads its own series' name
        series_name = store.series(s, [sid])[sid].name
        shown_case = (
            my_case.number
            if my_case is not None and _case_level(s, owner, case_id) >= Level.STATUS
            else None
        )
        payload: dict[str, Any] = {
            "series": series_name,
            "finder_agency": finder.code,
            "finder_country": finder.country,
            "finder_case": shown_case,
            "files": len(media),
            "via": via,
            "at": now.isoformat(),
        }
        key = dedup_key("series-hit", owner_id, None, sid, finder.id, case_id)
        prior = store.recent_notification(s, owner_id, None, key, now - window)
        if prior is not None:  # the same hit again (a re-run): one notice, counted
            _repeat(s, prior, payload, len(media), now)
            audit.record_in(
                s,
                app,
                caller,
                "overlap.repeat",
                target=f"overlap:{prior.overlap_id}",
                result_count=len(media),
            )
            continue
        ov = store.add_overlap(
            s,
            kind="series",
            via=via,
            owner_agency_id=owner_id,
            series_id=sid,
            finder_agency_id=finder.id,
            finder_case_id=case_id,
            files=len(media),
            found_at=now,
        )
        # a series received from another node: its owner is told there, via the hub
        federation_notices.raise_hit(s, app, ov.id, sid, media, finder=finder, via=via, at=now)
        raised.append(
            store.add_notification(
                s,
                owner_id,
                "series-hit",
                {"overlap": ov.id, **payload},
                overlap_id=ov.id,
                dedup_key=key,
            ).id
        )
        audit.record_in(
            s,
            app,
            caller,
            "overlap.found",
            target=f"overlap:{ov.id}",  # not the series: the finder's trail may not name it
            result_count=len(media),
        )
    for other_case, (other_id, media) in sorted(case_hits.items()):
        other = agencies[other_id]
        acting_as(s, other)
        other_number = store.cases(s, [other_case])[other_case].number
        # the finder's side goes to the user whose work found it (the agency's
        # inbox when the node's command line found it); the other side to its agency
        sides = (
            (finder, caller.user_id, my_case.number if my_case else None, other, other_case),
            (other, None, other_number, finder, case_id),
        )
        key_of = {
            reader.id: dedup_key("case-overlap", reader.id, uid, other_case, finder.id, case_id)
            for reader, uid, _, _, _ in sides
        }
        priors = [
            store.recent_notification(s, reader.id, uid, key_of[reader.id], now - window)
            for reader, uid, _, _, _ in sides
        ]
        ov_id: int | None = next((p.overlap_id for p in priors if p is not None), None)
        if ov_id is None:
            ov_id = store.add_overlap(
                s,
                kind="case",
                via=via,
                owner_agency_id=other_id,
                owner_case_id=other_case,
                finder_agency_id=finder.id,
                finder_case_id=case_id,
                files=len(media),
                found_at=now,
            ).id
        for (reader, uid, mine, them, them_case), prior in zip(sides, priors, strict=True):
            payload = {
                "overlap": ov_id,
                "your_case": mine,
                "other": _other_side(s, reader, them, them_case),
                "files": len(media),
                "matched_by": sorted(set().union(*((how or {}).get(m, set()) for m in media)))
                or ["exact"],
                "via": via,
                "at": now.isoformat(),
            }
            if prior is not None:
                _repeat(s, prior, payload, len(media), now)
                continue
            raised.append(
                store.add_notification(
                    s,
                    reader.id,
                    "case-overlap",
                    payload,
                    overlap_id=ov_id,
                    user_id=uid,
                    dedup_key=key_of[reader.id],
                ).id
            )
        audit.record_in(
            s, app, caller, "overlap.found", target=f"overlap:{ov_id}", result_count=len(media)
        )
    queued = store.enqueue(s, raised, now)  # owed deliveries commit with the notices
    return raised, queued


def notice_run(app: App, caller: Caller, run_id: int, agency_code: str) -> list[int]:
    """After an ingest run: overlaps of its media with others' cases and series.

    Found the ways triage finds them: exactly, by PDQ (radius 31), by video segment
    or frame (vPDQ), by shared audio (Chromaprint) and as edited copies (local
    features: the second stage's ``copy``, what triage reports as ``near``).

    Only other agencies' series and cases are told, so on a node that knows no other
    agency nothing is searched: the edited-copy search runs the second stage on every
    still of the run in this one process, after the files (at bench_seizure's
    2,000-picture database it was still running 1.7 minutes later, at load ~10).
    """
    with app.transaction() as s:
        if not store.other_agency_exists(s, agency_code):
            return []
        finder = sharing.agency_by_code(s, agency_code)
        if finder is not None:
            acting_as(s, finder)  # the run's own sightings and fingerprints
        case_id = store.case_of_run(s, run_id)
        media = store.media_of_run(s, run_id, case_id) if case_id is not None else set()
        pdq = store.pdq_of_media(s, media)
        frames = repo.video_frames_of(s, sorted(media))
        audio = store.audio_of_media(s, media)
        features = repo.features_of(s, media)
    ids = set(media)
    how: dict[int, set[str]] = {m: {"exact"} for m in media}
    for mid, ways in _similar_media(app, pdq, frames, audio, features).items():
        ids.add(mid)
        how.setdefault(mid, set()).update(ways)
    return notice(
        app, caller, ids, via="ingest", finder_agency=agency_code, case_id=case_id, how=how
    )


def _similar_media(
    app: App,
    pdq: dict[int, bytes],
    frames: dict[int, list[tuple[int, bytes, int]]],
    audio: dict[int, str],
    features: dict[int, bytes],
) -> dict[int, set[str]]:
    """Stored media matching the given media's fingerprints -> how they matched."""
    import numpy as np  # noqa: PLC0415

    from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD  # noqa: PLC0415
    from tessera.fingerprints.vpdq import FrameHash  # noqa: PLC0415
    from tessera.matching.av_match import audio_hits, video_hits  # noqa: PLC0415
    from tessera.matching.scene_triage import second_stage  # noqa: PLC0415
    from tessera.pipeline.result import FileResult  # noqa: PLC0415

    out: dict[int, set[str]] = {}

    def add(mid: int, way: str) -> None:
        out.setdefault(mid, set()).add(way)

    if pdq:
        keys = sorted(pdq)
        codes = np.frombuffer(b"".join(pdq[k] for k in keys), dtype=np.uint8).reshape(-1, 32)
        for h in app.pdq_store().search(
            codes, radius=MATCH_THRESHOLD, min_quality=QUALITY_THRESHOLD
        ):
            add(h.media_id, "pdq")
    files = [
        FileResult(
            path=f"media:{mid}",
            status="ok",
            kind="video",
            frames=tuple(
                FrameHash(n, q, v, (pos - 1) / 1000) for n, (pos, v, q) in enumerate(rows)
            ),
        )
        for mid, rows in sorted(frames.items())
    ]
    if files:
        found = video_hits(
            app.index_db,
            app.pdq_store(),
            files,
            radius=MATCH_THRESHOLD,
            min_quality=QUALITY_THRESHOLD,
        )
        for hits in found.values():
            for a in hits:
                add(a.media_id, "video" if a.via == "vpdq-segment" else "video-frame")
    recordings = [
        FileResult(path=f"media:{mid}", status="ok", kind="audio", audio=fp)
        for mid, fp in sorted(audio.items())
    ]
    if recordings:
        for hits in audio_hits(app.index_db, recordings).values():
            for a in hits:
                add(a.media_id, "audio")
    stills = [
        (i, FileResult(path=f"media:{mid}", status="ok", kind="image", features=blob))
        for i, (mid, blob) in enumerate(sorted(features.items()))
    ]
    if stills:
        stage = second_stage(app.index_db, app.scene_store(), stills)
        for related in stage.related.values():
            for r in related:
                if r.relation == "copy":
                    add(r.media_id, "copy")
    return out


# -- notifications ---------------------------------------------------------------------


def _reader(caller: Caller) -> str:
    return caller.email or OPERATOR_READER


def _agency_of(s: Session, caller: Caller) -> Agency | None:
    """The caller's agency; None for the node's operator (sees every agency's)."""
    if caller.is_local_operator:
        return None
    agency = sharing.agency_by_code(s, caller.agency_code) if caller.agency_code else None
    if agency is None:
        raise PermissionDenied("this needs an account of an agency")
    return agency


def list_notifications(
    app: App,
    caller: Caller,
    *,
    unread: bool = False,
    agency: str | None = None,
    limit: int = 500,
    offset: int = 0,
    sort: str = "created",
    descending: bool = True,
) -> list[NotificationView]:
    """The caller's agency's notifications (and its own), newest first or in another
    ``NOTIFICATION_SORTS`` order (sorted in SQL); one page of ``limit`` from ``offset``."""
    if not 1 <= limit <= 10_000 or offset < 0:
        raise InvalidInput("limit: 1..10000, offset: 0 or more")
    with app.transaction() as s:
        mine = _agency_of(s, caller)
        agency_id = mine.id if mine is not None else None
        if mine is None and agency is not None:
            a = sharing.agency_by_code(s, agency)
            if a is None:
                raise NotFound(f"no agency {agency!r}")
            agency_id = a.id
        rows = store.notifications(
            s,
            agency_id=agency_id,
            user_id=caller.user_id,
            reader=_reader(caller),
            unread=unread,
            limit=limit,
            offset=offset,
            sort=sort,
            descending=descending,
        )
        return [
            render(s, n).model_copy(update={"read": at is not None, "read_at": at})
            for n, at in rows
        ]


@retried
def mark_read(app: App, caller: Caller, ids: Sequence[int] | None = None) -> MarkedRead:
    """Mark the caller's notifications ``ids`` (all of them when None) read for the caller.

    An id that is not the caller's is ``NotFound``: it does not exist for them.
    """
    with app.transaction() as s:
        mine = _agency_of(s, caller)
        own = {
            n.id
            for n, _ in store.notifications(
                s,
                agency_id=mine.id if mine else None,
                user_id=caller.user_id,
                reader=_reader(caller),
                unread=False,
                limit=1_000_000,
            )
        }
        wanted = own if ids is None else set(ids)
        missing = sorted(wanted - own)
        if missing:
            raise NotFound(f"no notification with id {missing[0]}")
        return MarkedRead(marked=store.mark_read(s, wanted, _reader(caller), datetime.now(UTC)))


# -- overlaps --------------------------------------------------------------------------


def _view(s: Session, vis: Visibility, ov: Overlap) -> OverlapView | None:
    """The overlap as the caller may see it; None when it does not exist for them."""
    agencies = store.agencies(s, [ov.owner_agency_id, ov.finder_agency_id])
    owner, finder = agencies[ov.owner_agency_id], agencies[ov.finder_agency_id]
    series_name = None
    if ov.series_id is not None:
        series_name = store.series(s, [ov.series_id]).get(ov.series_id)
    name = series_name.name if series_name is not None else None
    side: Literal["owner", "finder", "operator"]
    if vis.everything:
        side = "operator"
    elif vis.agency_id == ov.owner_agency_id:
        side = "owner"
    elif vis.agency_id == ov.finder_agency_id:
        side = "finder"
    else:
        return None
    if side == "finder" and ov.kind == "series":
        level = vis.series_level(ov.series_id) if ov.series_id is not None else Level.NONE
        if level < Level.HASH:  # a blind hit: the finder never learns of it
            return None
        if level < Level.STATUS:
            name = None
    cases = store.cases(s, [c for c in (ov.owner_case_id, ov.finder_case_id) if c])

    def number(cid: int | None) -> str | None:
        return cases[cid].number if cid is not None and cid in cases else None

    if side in {"owner", "operator"}:
        me_case, mark, note, om, on = (
            ov.owner_case_id,
            ov.owner_mark,
            ov.owner_note,
            ov.finder_mark,
            ov.finder_note,
        )
        other, other_case = finder, ov.finder_case_id
    else:
        me_case, mark, note, om, on = (
            ov.finder_case_id,
            ov.finder_mark,
            ov.finder_note,
            ov.owner_mark,
            ov.owner_note,
        )
        other, other_case = owner, ov.owner_case_id
    told: dict[str, Any]
    if side == "operator":
        told = {
            "agency": other.code,
            "country": other.country,
            "case": number(other_case),
            "contact": other.contact,
        }
    elif ov.kind == "series" and side == "owner":  # deconfliction: the finder is named
        shown = other_case is not None and vis.case_levels([other_case])[other_case] >= Level.STATUS
        told = {
            "agency": other.code,
            "country": other.country,
            "contact": other.contact,
            "case": number(other_case) if shown else None,
        }
    elif ov.kind == "series":  # the finder: contact from hash, the owner's name from status
        told = {
            "agency": other.code if name else None,
            "country": other.country if name else None,
            "case": None,
            "contact": other.contact,
        }
    else:
        told = _other_side(s, agencies[vis.agency_id or 0], other, other_case)
    return OverlapView(
        id=ov.id,
        kind=ov.kind,
        via=ov.via,
        side=side,
        files=ov.files,
        found_at=ov.found_at,
        series=name,
        my_case=number(me_case),
        other_agency=told.get("agency"),
        other_country=told.get("country"),
        other_case=told.get("case"),
        other_contact=told.get("contact"),
        my_mark=mark,
        my_note=note,
        other_mark=om,
        other_note=on,
    )


def list_overlaps(app: App, caller: Caller, *, series_id: int | None = None) -> list[OverlapView]:
    """Overlaps the caller's agency is a side of (as it may see them), newest first;
    only those on the series with id ``series_id`` when given."""
    with transaction(app, caller) as (s, vis):
        if not vis.everything and vis.agency_id is None:
            return []
        rows = store.overlaps_of(s, None if vis.everything else vis.agency_id, series_id=series_id)
        return [v for v in (_view(s, vis, o) for o in rows) if v is not None]


@retried
def mark_overlap(
    app: App, caller: Caller, overlap_id: int, mark: str, note: str | None = None
) -> OverlapView:
    """The caller's side marks an overlap ``same-investigation``, ``related`` or
    ``unrelated`` with a note (analyst or more)."""
    if mark not in MARKS:
        raise InvalidInput(f"mark must be one of {', '.join(MARKS)}, got {mark!r}")
    if note is not None and len(note) > 4000:
        raise InvalidInput("note: at most 4000 characters")
    require_role(caller, Role.ANALYST)
    if not 0 < overlap_id <= MAX_ROW_ID:  # beyond any row (and any SQL integer)
        raise NotFound(f"no overlap with id {overlap_id}")
    with transaction(app, caller) as (s, vis):
        ov = store.get_overlap(s, overlap_id)
        view = _view(s, vis, ov) if ov is not None else None
        if ov is None or view is None:
            raise NotFound(f"no overlap with id {overlap_id}")
        if view.side == "operator":
            raise PermissionDenied("only the agencies of an overlap mark it")
        if view.side == "owner":
            ov.owner_mark, ov.owner_note = mark, note
        else:
            ov.finder_mark, ov.finder_note = mark, note
        s.flush()
        audit.record_in(
            s,
            app,
            caller,
            "overlap.mark",
            target=f"overlap:{ov.id}",
            params={"mark": mark, "note": note},
        )
        result = _view(s, vis, ov)
        assert result is not None
        return result


# -- delivery settings ------------------------------------------------------------------


def set_delivery(
    app: App,
    caller: Caller,
    agency_code: str,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    email_to: str | None = None,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_from: str | None = None,
) -> DeliverySettings:
    """Where an agency's notifications also go (its admin, or the node's operator)."""
    if webhook_url is not None:
        u = urlparse(webhook_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise InvalidInput("webhook URL must be http(s)://host/...")
        if not webhook_secret or len(webhook_secret) < 16:
            raise InvalidInput("a webhook needs a secret of at least 16 characters")
    if email_to is not None and not (smtp_host and smtp_port and smtp_from):
        raise InvalidInput("e-mail delivery needs SMTP host, port and sender")
    if smtp_port is not None and not 0 < smtp_port < 65536:
        raise InvalidInput("SMTP port must be 1..65535")
    with app.transaction() as s:
        agency = sharing.agency_by_code(s, agency_code)
        if agency is None:
            raise NotFound(f"no agency {agency_code!r}")
        if not caller.is_local_operator:
            if caller.agency_code != agency_code and caller.role is not Role.OPERATOR:
                raise NotFound(f"no agency {agency_code!r}")
            require_role(caller, Role.ADMIN)
        row = store.set_delivery(
            s,
            agency.id,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            email_to=email_to,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_from=smtp_from,
        )
        audit.record_in(
            s,
            app,
            caller,
            "delivery.set",
            target=f"agency:{agency_code}",
            params={"webhook": webhook_url, "email": email_to},
        )
        return DeliverySettings(
            agency=agency.code,
            webhook_url=row.webhook_url,
            webhook_secret_set=bool(row.webhook_secret),
            email_to=row.email_to,
            smtp_host=row.smtp_host,
            smtp_port=row.smtp_port,
            smtp_from=row.smtp_from,
        )


__all__ = [
    "MARKS",
    "DeliverySettings",
    "MarkedRead",
    "NotificationView",
    "OverlapView",
    "list_notifications",
    "list_overlaps",
    "mark_overlap",
    "mark_read",
    "notice",
    "notice_run",
    "notify_curators",
    "render",
    "set_delivery",
]
