"""Federation's SQL for what ``full`` shows: read on the origin, written and removed
on a receiving node (``tessera.exchange.fullrecord`` says what travels).

On a receiving node everything written is traceable to the received series it came
from, so a level going down removes exactly that: victims and offenders are named
``PSEUDONYM @origin`` and linked to the local stand-in series (removed with their
last link); locations are made per series; OCR text rows carry the engine
``fed:<local series id>``; a metadata row made from a record says so in its
``data`` (``federation_series``) and is never written over a row of the node's own;
markers belong to the stand-in series.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from tessera.storage import repo
from tessera.storage.markers import create_marker
from tessera.storage.models import (
    MARKER_KINDS,
    FedRecord,
    Location,
    Marker,
    Media,
    MediaMetadataModel,
    MediaText,
    Offender,
    Series,
    Victim,
    media_location,
    series_location,
    series_offender,
    series_victim,
)

_CHUNK = 500
_META_TEXT = ("make", "model", "body_serial", "camera_key", "lens", "software", "captured_at")
_META = (*_META_TEXT, "latitude", "longitude")


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def text_engine(local_series: int) -> str:
    return f"fed:{local_series}"


# -- the origin: what its full-shared series show -----------------------------------------


def series_details(s: Session, series_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """series id -> its victims, offenders and locations (only those it has), as
    ``tessera.exchange.fullrecord`` shapes them (its ``clip`` applies the limits)."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(series_ids))):
        for table, model, key in (
            (series_victim, Victim, "victims"),
            (series_offender, Offender, "offenders"),
        ):
            col = table.c.victim_id if model is Victim else table.c.offender_id
            for sid, pseudo, ident in s.execute(
                select(table.c.series_id, model.pseudonym, model.identified)
                .join(model, model.id == col)
                .where(table.c.series_id.in_(chunk))
                .order_by(table.c.series_id, model.pseudonym)
            ):
                p: dict[str, Any] = {"p": str(pseudo)}
                if ident:
                    p["identified"] = True
                out.setdefault(int(sid), {}).setdefault(key, []).append(p)
        for sid, loc in s.execute(
            select(series_location.c.series_id, Location)
            .join(Location, Location.id == series_location.c.location_id)
            .where(series_location.c.series_id.in_(chunk))
            .order_by(series_location.c.series_id, Location.id)
        ):
            row: dict[str, Any] = {"description": loc.description or "-"}
            if loc.country:
                row["country"] = loc.country
            if loc.latitude is not None and loc.longitude is not None:
                row["lat"], row["lon"] = float(loc.latitude), float(loc.longitude)
            out.setdefault(int(sid), {}).setdefault("locations", []).append(row)
    return out


def media_details(
    s: Session, pairs: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], dict[str, Any]]:
    """(series id, media id) -> the media item's own metadata and OCR text and the
    series' markers on it (what was received from other nodes is not passed on)."""
    mids = sorted({m for _, m in pairs})
    meta: dict[int, dict[str, Any]] = {}
    texts: dict[int, list[dict[str, Any]]] = {}
    marks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for chunk in _chunks(mids):
        for md in s.scalars(
            select(MediaMetadataModel).where(MediaMetadataModel.media_id.in_(chunk))
        ):
            if isinstance(md.data, dict) and "federation_series" in md.data:
                continue
            m: dict[str, Any] = {}
            for k in _META_TEXT:
                v = getattr(md, k)
                if v:
                    m[k] = str(v)
            if md.latitude is not None and md.longitude is not None:
                m["latitude"], m["longitude"] = float(md.latitude), float(md.longitude)
            if m:
                meta[int(md.media_id)] = m
        for t in s.scalars(
            select(MediaText)
            .where(MediaText.media_id.in_(chunk), ~MediaText.engine.like("fed:%"))
            .order_by(MediaText.media_id, MediaText.position, MediaText.id)
        ):
            if not t.text:
                continue
            texts.setdefault(int(t.media_id), []).append(
                {"engine": t.engine or "ocr", "language": t.language or "und", "text": t.text}
            )
        for mk in s.scalars(select(Marker).where(Marker.media_id.in_(chunk)).order_by(Marker.id)):
            if mk.series_id is None or not mk.features or not mk.x0 < mk.x1 or not mk.y0 < mk.y1:
                continue
            row: dict[str, Any] = {
                "type": mk.kind if mk.kind in MARKER_KINDS else "other",
                "box": [int(mk.x0), int(mk.y0), int(mk.x1), int(mk.y1)],
                "features": base64.b64encode(bytes(mk.features)).decode(),
            }
            if mk.note:
                row["note"] = mk.note
            marks.setdefault((int(mk.series_id), int(mk.media_id)), []).append(row)
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for sid, mid in pairs:
        p: dict[str, Any] = {}
        if mid in meta:
            p["metadata"] = meta[mid]
        if mid in texts:
            p["text"] = texts[mid]
        if (sid, mid) in marks:
            p["markers"] = marks[(sid, mid)]
        if p:
            out[(sid, mid)] = p
    return out


# -- a receiving node --------------------------------------------------------------------------


def _pseudonym(p: str, origin: str) -> str:
    return f"{p} @{origin}"[:100]


def apply_series_detail(s: Session, origin: str, series_id: int, p: dict[str, Any]) -> None:
    """Link the received victims, offenders and locations to the stand-in series."""
    for key, make, kind in (
        ("victims", repo.get_or_create_victim, "victim"),
        ("offenders", repo.get_or_create_offender, "offender"),
    ):
        for person in p.get(key) or ():
            row = make(s, _pseudonym(str(person["p"]), origin))
            flag = bool(person.get("identified", False))
            if bool(row.identified) != flag:
                repo.set_person_identified(s, row, flag, by=None)
            repo.link(s, "series", series_id, kind, row.id)
    for loc in p.get("locations") or ():
        place = Location(
            description=str(loc["description"]),
            country=loc.get("country"),
            latitude=loc.get("lat"),
            longitude=loc.get("lon"),
        )
        s.add(place)
        s.flush()
        repo.link(s, "series", series_id, "location", place.id)


def drop_series_detail(s: Session, origin: str, series_id: int) -> None:
    """Undo ``apply_series_detail``: unlink, then remove the people and places no
    other link holds."""
    people: list[tuple[Any, Any, Any]] = [
        (series_victim, series_victim.c.victim_id, Victim),
        (series_offender, series_offender.c.offender_id, Offender),
    ]
    suffix = f" @{origin}"
    for table, col, model in people:
        ids = [int(x) for x in s.scalars(select(col).where(table.c.series_id == series_id))]
        s.execute(delete(table).where(table.c.series_id == series_id))
        for chunk in _chunks(ids):
            s.execute(
                delete(model).where(
                    model.id.in_(chunk),
                    model.pseudonym.like(f"%{suffix}"),
                    ~exists().where(col == model.id),
                )
            )
    places = [
        int(x)
        for x in s.scalars(
            select(series_location.c.location_id).where(series_location.c.series_id == series_id)
        )
    ]
    s.execute(delete(series_location).where(series_location.c.series_id == series_id))
    for chunk in _chunks(places):
        s.execute(
            delete(Location).where(
                Location.id.in_(chunk),
                ~exists().where(series_location.c.location_id == Location.id),
                ~exists().where(media_location.c.location_id == Location.id),
                ~exists().where(Marker.location_id == Location.id),
            )
        )


def apply_media_detail(s: Session, series: Series, media_id: int, p: dict[str, Any]) -> None:
    """Write the received metadata (unless the item has its own), OCR text and the
    series' markers onto the local media item (marker ``features`` as checked bytes)."""
    media = s.get(Media, media_id)
    if media is None:
        return
    meta = p.get("metadata")
    if meta and s.get(MediaMetadataModel, media_id) is None:
        s.add(
            MediaMetadataModel(
                media_id=media_id,
                **{k: meta.get(k) for k in _META},
                data={"federation_series": series.id},
            )
        )
    engine = text_engine(series.id)
    for pos, t in enumerate(p.get("text") or ()):
        s.add(
            MediaText(
                media_id=media_id,
                position=pos,
                engine=engine,
                language=str(t["language"]),
                text=str(t["text"]),
                boxes=[],
            )
        )
    for mk in p.get("markers") or ():
        x0, y0, x1, y1 = (int(v) for v in mk["box"])
        if media.width and media.height and (x1 > media.width or y1 > media.height):
            continue  # the origin's box does not fit this node's copy: not kept
        create_marker(
            s,
            media,
            (x0, y0, x1, y1),
            str(mk["type"]),
            bytes(mk["features"]),
            note=mk.get("note"),
            series=series,
            agency_id=series.agency_id,
        )
    s.flush()


def drop_media_detail(s: Session, series_id: int, media_id: int) -> None:
    """Undo ``apply_media_detail`` for one series on one media item."""
    s.execute(
        delete(MediaText).where(
            MediaText.media_id == media_id, MediaText.engine == text_engine(series_id)
        )
    )
    md = s.get(MediaMetadataModel, media_id)
    if (
        md is not None
        and isinstance(md.data, dict)
        and md.data.get("federation_series") == series_id
    ):
        s.delete(md)
    s.execute(delete(Marker).where(Marker.media_id == media_id, Marker.series_id == series_id))
    s.flush()


# -- a receiving node: which received records hold what ------------------------------------


def series_states(
    s: Session, origin: str, keys: Sequence[str]
) -> dict[str, tuple[int | None, bool, dict[str, Any] | None]]:
    """series key -> (local series id, deleted, payload as kept here)."""
    out: dict[str, tuple[int | None, bool, dict[str, Any] | None]] = {}
    for chunk in _chunks(sorted(set(keys))):
        for oid, local, deleted, payload in s.execute(
            select(
                FedRecord.origin_id, FedRecord.local_id, FedRecord.deleted, FedRecord.payload
            ).where(FedRecord.origin == origin, FedRecord.kind == 0, FedRecord.origin_id.in_(chunk))
        ):
            out[str(oid)] = (None if local is None else int(local), bool(deleted), payload)
    return out


def live_local_ids(s: Session, origin: str, ids: Sequence[str]) -> dict[str, int]:
    """origin id -> local id of the live received records among ``ids``."""
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(ids))):
        for oid, local in s.execute(
            select(FedRecord.origin_id, FedRecord.local_id).where(
                FedRecord.origin == origin,
                FedRecord.origin_id.in_(chunk),
                FedRecord.deleted.is_(False),
                FedRecord.local_id.is_not(None),
            )
        ):
            if local is not None:
                out[str(oid)] = int(local)
    return out


def applied_full_of(
    s: Session, origin: str, series_keys: Sequence[str]
) -> list[tuple[str, str, int]]:
    """(origin id, series key, local id) of the ``full`` records of these series
    whose content is written here now."""
    out: list[tuple[str, str, int]] = []
    for chunk in _chunks(sorted(set(series_keys))):
        for oid, sk, local in s.execute(
            select(FedRecord.origin_id, FedRecord.series_key, FedRecord.local_id).where(
                FedRecord.origin == origin,
                FedRecord.kind == 2,
                FedRecord.series_key.in_(chunk),
                FedRecord.local_id.is_not(None),
            )
        ):
            if local is not None:
                out.append((str(oid), str(sk), int(local)))
    return out


def forget_applied(s: Session, origin: str, ids: Sequence[str]) -> None:
    """Mark ``full`` records as no longer written here (their content was removed)."""
    for chunk in _chunks(sorted(set(ids))):
        s.execute(
            update(FedRecord)
            .where(FedRecord.origin == origin, FedRecord.origin_id.in_(chunk))
            .values(local_id=None)
        )


__all__ = [
    "applied_full_of",
    "apply_media_detail",
    "apply_series_detail",
    "drop_media_detail",
    "drop_series_detail",
    "forget_applied",
    "live_local_ids",
    "media_details",
    "series_details",
    "series_states",
    "text_engine",
]
