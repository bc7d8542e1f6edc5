"""``tessera similar``, ``tessera search-text`` and ``tessera marker``: similar features.

These answer "where else is this room, this poster, this sign?" from what the
database holds (local features, OCR text, markers); no picture is needed for a
stored media item.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import click

from tessera.app import App
from tessera.cli.context import CliContext, pass_app
from tessera.errors import InvalidInput, NotFound
from tessera.features.local import LocalFeatures, extract_region, subset
from tessera.features.scene import SceneMatch
from tessera.ingest.filehash import HashOptions, hash_bytes, hash_file, read_file
from tessera.matching.scene_store import SceneHit
from tessera.matching.scene_triage import describe_copy
from tessera.media.decode import DecodeLimits, decode_image
from tessera.storage import markers, repo
from tessera.storage.models import MARKER_KINDS, Media, Series
from tessera.storage.text_search import search_text

_KNOWN_BOX_HELP = "Region x0,y0,x1,y1 in pixels of the full picture."


def _series_names(app: App, media_ids: list[int]) -> dict[int, list[str]]:
    with app.transaction() as s:
        by_media = repo.series_of_media(s, media_ids)
        names: dict[int, str] = {}
        for sid in {x for ids in by_media.values() for x in ids}:
            row = s.get(Series, sid)
            if row is not None:
                names[sid] = row.name
    return {m: sorted(names[x] for x in ids if x in names) for m, ids in by_media.items()}


def _digests(app: App, media_ids: list[int]) -> dict[int, str]:
    with app.transaction() as s:
        found = ((m, s.get(Media, m)) for m in media_ids)
        return {m: media.sha256.hex() for m, media in found if media is not None and media.sha256}


def _box(v: tuple[float, ...] | None) -> list[int] | None:
    return [round(x) for x in v] if v is not None else None


def _hit_json(
    hit: SceneHit,
    series: list[str],
    sha256: str | None,
    query: LocalFeatures,
    frame: tuple[int, int],
) -> dict[str, Any]:
    m: SceneMatch = hit.match
    v = m.verification
    quad = v.quad_in_candidate
    out: dict[str, Any] = {
        "media_id": hit.media_id,
        "sha256": sha256,
        "relation": m.relation,
        "inliers": v.inliers,
        "geometry": "homography" if v.homography is not None else "fundamental",
        "mirrored": m.mirrored,
        "region_in_query": _box(v.region_in_query),
        "region_in_hit": _box(v.region_in_candidate),
        "quad_in_hit": quad.round().astype(int).tolist() if quad is not None else None,
        "series": series,
        "time_s": round(hit.timestamp, 3) if hit.timestamp is not None else None,
    }
    if m.relation == "copy":
        out["reason"] = describe_copy(m, query, frame)
    return out


def _search(
    app: App, queries: list[LocalFeatures], limit: int, exclude: int | None
) -> list[dict[str, Any]]:
    """Scene-store hits for ``queries`` as JSON-ready dicts, with series and digests."""
    store = app.scene_store()
    hits = store.similar(queries, k=limit, exclude=exclude)
    ids = [h.media_id for h in hits]
    series, digests = _series_names(app, ids), _digests(app, ids)
    return [
        _hit_json(
            h,
            series.get(h.media_id, []),
            digests.get(h.media_id),
            queries[-1] if h.match.mirrored else queries[0],
            store.frame_of(h.media_id, h.position),
        )
        for h in hits
    ]


def _print_hits(hits: list[dict[str, Any]]) -> None:
    if not hits:
        click.echo("  no stored media verified as the same scene or object")
    for h in hits:
        series = ", ".join(h["series"]) or "no series"
        click.echo(
            f"  media {h['media_id']}: {h['relation']}, {h['inliers']} inliers "
            f"({h['geometry']}), found at {h['region_in_hit']} ({series})"
            + (f"; {h['reason']}" if h.get("reason") else "")
        )


def _stored_features(app: App, media_id: int) -> LocalFeatures:
    with app.transaction() as s:
        repo.media_by_id(s, media_id)
        blob = repo.features_of(s, [media_id]).get(media_id)
    if blob is None:
        raise NotFound(
            f"media {media_id} has no local features (ingested with --no-features, "
            "or not a still image)"
        )
    return LocalFeatures.from_bytes(blob)


def _region(feats: LocalFeatures, box: tuple[int, int, int, int], where: str) -> LocalFeatures:
    region = subset(feats, box)
    if len(region) < 8:
        raise InvalidInput(
            f"only {len(region)} keypoints of {where} fall inside {box}; draw a larger box, "
            "or pass the picture with --file to extract the region at full detail"
        )
    return region


@click.command("similar")
@click.argument("target")
@click.option("--box", "box_text", help=_KNOWN_BOX_HELP + " Search with this region only.")
@click.option("-k", "--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def similar_command(
    cli: CliContext, target: str, box_text: str | None, limit: int, as_json: bool
) -> None:
    """Stored media showing the same scene or object as TARGET (a file or a media id).

    Each hit is verified geometrically; it says how many keypoints agree, where in
    the hit the match lies, and whether the hit is an edited copy ("copy") or
    another view of the same place or object ("scene").
    """
    app = cli.app
    box = markers.parse_box(box_text) if box_text else None
    path = Path(target)
    exclude: int | None = None
    query: dict[str, Any]
    if path.exists():
        if box is None:
            r = hash_file(path, HashOptions(features=True, features_mirrored=True))
        else:  # one bounded read: hashed, then decoded again at full size for the region
            raw = read_file(path, DecodeLimits())
            r = hash_bytes(raw, str(path), HashOptions(features=True))
        if r.status != "ok" or r.features is None:
            raise InvalidInput(
                f"{path}: no local features ({r.reason or 'not a still image'}"
                f"{': ' + r.message if r.message else ''})",
                reason=r.reason or "no-features",
            )
        if box is not None:
            queries = [extract_region(decode_image(raw).rgb, box)]
        else:
            queries = [LocalFeatures.from_bytes(b) for b in (r.features, r.features_mirrored) if b]
        with app.transaction() as s:
            known = repo.media_by_sha256(s, [bytes.fromhex(r.sha256 or "")])
            exclude = next((m.id for m in known.values()), None)
        query = {"path": str(path), "sha256": r.sha256, "media_id": exclude}
    elif target.isdigit():
        exclude = int(target)
        feats = _stored_features(app, exclude)
        queries = [_region(feats, box, f"media {exclude}") if box else feats]
        query = {"media_id": exclude}
    else:
        raise InvalidInput(f"{target!r} is neither an existing file nor a media id")
    query["box"] = list(box) if box else None
    out = _search(app, queries, limit, exclude)
    if as_json:
        click.echo(json.dumps({"query": query, "status": "ok", "hits": out}, indent=1))
    else:
        click.echo(f"{target}: {len(out)} similar")
        _print_hits(out)


@click.command("search-text")
@click.argument("query")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def search_text_command(cli: CliContext, query: str, limit: int, as_json: bool) -> None:
    """Media whose text (read by OCR at ingest with --ocr) contains every word of QUERY."""
    app = cli.app
    with app.transaction() as s:
        hits = search_text(s, query, limit)
    ids = [h.media_id for h in hits]
    series, digests = _series_names(app, ids), _digests(app, ids)
    words = {w.casefold() for w in query.split()}
    out: list[dict[str, Any]] = [
        {
            "media_id": h.media_id,
            "sha256": digests.get(h.media_id),
            "series": series.get(h.media_id, []),
            "language": h.language,
            "text": h.text,
            "boxes": [b for b in h.boxes if str(b[4]).casefold().strip(".,:;!?") in words],
        }
        for h in hits
    ]
    if as_json:
        click.echo(json.dumps({"query": query, "hits": out}, indent=1))
        return
    click.echo(f"{len(out)} media with text matching {query!r}")
    for h in out:
        snippet = h["text"] if len(h["text"]) <= 80 else h["text"][:77] + "..."
        click.echo(f"  media {h['media_id']} ({', '.join(h['series']) or 'no series'}): {snippet}")


@click.group("marker")
def marker_group() -> None:
    """Markers: a poster, sign or object in a picture, to find elsewhere."""


@marker_group.command("add")
@click.argument("media_id", type=int)
@click.option("--box", "box_text", required=True, help=_KNOWN_BOX_HELP)
@click.option("--type", "kind", required=True, type=click.Choice(MARKER_KINDS))
@click.option("--note", help="What the marker shows and why it matters.")
@click.option("--series", "series_name", help="Series the marker belongs to.")
@click.option("--location", "location_id", type=int, help="Location id it points to.")
@click.option("--agency", "agency_code", help="Agency recording the marker.")
@click.option(
    "--file",
    "file_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The picture itself: the region is then extracted at full detail.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_add(
    cli: CliContext,
    media_id: int,
    box_text: str,
    kind: str,
    note: str | None,
    series_name: str | None,
    location_id: int | None,
    agency_code: str | None,
    file_path: Path | None,
    as_json: bool,
) -> None:
    """Mark the region --box of MEDIA_ID as a marker of --type."""
    app = cli.app
    box = markers.parse_box(box_text)
    if file_path is not None:
        raw = read_file(file_path, DecodeLimits())  # bounded; hashed and decoded once
        with app.transaction() as s:
            media = repo.media_by_id(s, media_id)
            if hashlib.sha256(raw).digest() != media.sha256:
                raise InvalidInput(f"{file_path} is not media {media_id} (its SHA-256 differs)")
        feats = extract_region(decode_image(raw).rgb, box)
    else:
        feats = _region(_stored_features(app, media_id), box, f"media {media_id}")
    with app.transaction() as s:
        media = repo.media_by_id(s, media_id)
        series = repo.get_series(s, series_name) if series_name else None
        location = markers.get_location(s, location_id) if location_id is not None else None
        agency = repo.get_agency(s, agency_code) if agency_code else None
        mk = markers.create_marker(
            s,
            media,
            box,
            kind,
            feats.to_bytes(),
            note=note,
            series=series,
            location=location,
            agency_id=agency.id if agency else None,
        )
        data = _marker_json(mk, len(feats))
    if as_json:
        click.echo(json.dumps(data, indent=1))
    else:
        click.echo(f"marker {data['id']} ({kind}) on media {media_id}, {len(feats)} keypoints")


def _marker_json(mk: Any, keypoints: int | None = None) -> dict[str, Any]:
    return {
        "id": mk.id,
        "media_id": mk.media_id,
        "type": mk.kind,
        "box": [mk.x0, mk.y0, mk.x1, mk.y1],
        "note": mk.note,
        "series_id": mk.series_id,
        "location_id": mk.location_id,
        "keypoints": keypoints
        if keypoints is not None
        else len(LocalFeatures.from_bytes(mk.features)),
        "created_at": mk.created_at.isoformat() if mk.created_at else None,
    }


@marker_group.command("list")
@click.option("--series", "series_name", help="Only this series' markers.")
@click.option("--location", "location_id", type=int, help="Only this location's markers.")
@click.option("--media", "media_id", type=int, help="Only markers on this media item.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_list(
    cli: CliContext,
    series_name: str | None,
    location_id: int | None,
    media_id: int | None,
    as_json: bool,
) -> None:
    """List markers, per series, location or media item."""
    app = cli.app
    with app.transaction() as s:
        sid = repo.get_series(s, series_name).id if series_name else None
        rows = [
            _marker_json(m)
            for m in markers.list_markers(
                s, series_id=sid, location_id=location_id, media_id=media_id
            )
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for m in rows:
        click.echo(
            f"marker {m['id']}: {m['type']} on media {m['media_id']} at {m['box']}"
            + (f" - {m['note']}" if m["note"] else "")
        )
    if not rows:
        click.echo("no markers")


@marker_group.command("find")
@click.argument("marker_id", type=int)
@click.option("-k", "--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def marker_find(cli: CliContext, marker_id: int, limit: int, as_json: bool) -> None:
    """Find this marker elsewhere: media showing it, and where in each it is."""
    app = cli.app
    with app.transaction() as s:
        mk = markers.get_marker(s, marker_id)
        feats = LocalFeatures.from_bytes(mk.features)
        own = mk.media_id
    out = _search(app, [feats], limit, own)
    if as_json:
        click.echo(json.dumps({"marker": marker_id, "status": "ok", "hits": out}, indent=1))
    else:
        click.echo(f"marker {marker_id}: found in {len(out)} other media")
        _print_hits(out)


__all__ = ["marker_group", "search_text_command", "similar_command"]
