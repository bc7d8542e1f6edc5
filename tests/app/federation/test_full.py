"""Federation at ``full`` (issue 15 item 1, issue 11's levels): what a series shared at
``full`` shows travels with it, the receiving node shows it exactly as a local
``full`` series (only to callers whose level is ``full``), and a level going down
removes it there at the next sync. The expected values are what node A stored."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from tessera.app import Caller, Role, sharing
from tessera.app import graph as graph_app
from tessera.app import media as media_app
from tessera.app import series as series_app
from tessera.app import text as text_app
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import peers
from tessera.exchange.delta import FULL
from tessera.features.local import LocalFeatures
from tessera.storage import repo
from tessera.storage.markers import create_marker
from tessera.storage.models import (
    FedRecord,
    Location,
    Marker,
    Media,
    MediaMetadataModel,
    MediaText,
    Offender,
    Victim,
)
from tests.app.federation.test_federation import (
    OP,
    World,
    _b_serves,
    _digests,
    _share,
    _sync,
    world,
)

__all__ = ["world"]

SERIES = "FULL-SER"
B_SERIES = f"{SERIES} @a.test"


def _features() -> bytes:
    rng = np.random.default_rng(7)
    n = 40
    xy = (rng.random((n, 2)) * [300, 200]).astype(np.float32)
    desc = rng.integers(0, 80, (n, 128), dtype=np.uint8)
    f = LocalFeatures(xy, desc, np.full(n, 4.0, np.float16), np.zeros(n, np.float16), 320, 240)
    return f.to_bytes()


def _seed_full_facts(world: World, tmp_path: Path) -> list[str]:
    """A series on A with a victim, an offender, a place; its first media item with
    camera/GPS metadata, two lines of OCR text and a marker."""
    d = _digests(3, "full")
    _share(world.a, tmp_path, SERIES, d)
    with world.a.transaction() as s:
        series = repo.get_series(s, SERIES)
        v = repo.get_or_create_victim(s, "V-17")
        repo.set_person_identified(s, v, True, by=None)
        repo.link(s, "series", series.id, "victim", v.id)
        o = repo.get_or_create_offender(s, "O-4")
        repo.link(s, "series", series.id, "offender", o.id)
        place = repo.create_location(s, "Hotel lobby, 3rd floor", "NL", 52.37, 4.89)
        repo.link(s, "series", series.id, "location", place.id)
        media = s.query(Media).filter(Media.sha256 == bytes.fromhex(d[0])).one()
        s.add(
            MediaMetadataModel(
                media_id=media.id,
                make="Canon",
                model="EOS 5D",
                body_serial="1234567",
                camera_key="canon:1234567",
                captured_at="2024-05-01T10:00:00+02:00",
                latitude=52.3701,
                longitude=4.8902,
                data={},
            )
        )
        s.add(
            MediaText(
                media_id=media.id,
                position=0,
                engine="tesseract",
                language="eng",
                text="GRAND HOTEL\nROOM 12",
                boxes=[],
            )
        )
        create_marker(s, media, (10, 20, 110, 90), "poster", _features(), series=series, note="n")
    return d


def _caller(agency: str) -> Caller:
    return Caller(role=Role.ANALYST, user_id=90, email=f"x@{agency}.example", agency_code=agency)


def _media_id(world: World, digest: str) -> int:
    with world.b.transaction() as s:
        return int(s.query(Media.id).filter(Media.sha256 == bytes.fromhex(digest)).scalar())


def _remote_facts(world: World) -> dict[str, int]:
    """How many rows of each full-level fact node B holds."""
    with world.b.transaction() as s:
        return {
            "victims": s.query(Victim).count(),
            "offenders": s.query(Offender).count(),
            "locations": s.query(Location).count(),
            "metadata": s.query(MediaMetadataModel).count(),
            "text": s.query(MediaText).count(),
            "markers": s.query(Marker).count(),
        }


NONE = dict.fromkeys(("victims", "offenders", "locations", "metadata", "text", "markers"), 0)


def test_full_travels_shows_only_at_full_and_goes_when_the_level_drops(
    world: World, tmp_path: Path
) -> None:
    d = _seed_full_facts(world, tmp_path)
    with world.a.transaction() as s:  # A's directory knows B's agency (to grant to it)
        repo.create_agency(s, "DE-B", "DE", "Unit B", "vid@b.example")
    with world.b.transaction() as s:  # another agency at B, given only status
        repo.create_agency(s, "DE-Z", "DE", "Unit Z", "z@b.example")
    sharing.share_series(world.a, OP, SERIES, "status", network=True)
    sharing.share_series(world.a, OP, SERIES, "full", agencies=["DE-B"])
    _b_serves(world, "DE", ("DE-B", "DE-Z"))
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _remote_facts(world) == {
        "victims": 1,
        "offenders": 1,
        "locations": 1,
        "metadata": 1,
        "text": 1,
        "markers": 1,
    }
    mid = _media_id(world, d[0])
    full, status = _caller("DE-B"), _caller("DE-Z")

    # DE-B sees what a local full series shows
    shown = media_app.show(world.b, full, str(mid))
    assert shown.level == "full"
    assert shown.metadata is not None
    assert (shown.metadata["body_serial"], shown.metadata["latitude"]) == ("1234567", 52.3701)
    assert shown.text == ("GRAND HOTEL\nROOM 12",)
    ((marker),) = shown.markers
    assert (marker.type, marker.box, marker.note, marker.series) == (
        "poster",
        (10, 20, 110, 90),
        "n",
        B_SERIES,
    )
    detail = series_app.show(world.b, full, B_SERIES)
    assert detail.level == "full" and len(detail.markers) == 1
    assert [h.media_id for h in text_app.search(world.b, full, "hotel").hits] == [mid]
    with world.b.transaction() as s:
        sid = repo.get_series(s, B_SERIES).id
        with_features = s.query(Marker).one().features
    assert with_features == _features()  # find-this-marker works at B
    g = graph_app.neighbourhood(world.b, full, f"series:{sid}")
    labels = {(n.type, n.label, n.identified) for n in g.nodes}
    assert ("victim", "V-17 @a.test", True) in labels
    assert ("offender", "O-4 @a.test", False) in labels
    assert any(t == "location" and lab.startswith("Hotel lobby") for t, lab, _ in labels)

    # DE-Z (status) sees the series and the media, none of the full facts
    low = media_app.show(world.b, status, str(mid))
    assert low.level == "status"
    assert (low.metadata, low.text, low.markers) == (None, (), ())
    low_series = series_app.show(world.b, status, B_SERIES)
    assert low_series.level == "status" and low_series.markers == ()
    assert text_app.search(world.b, status, "hotel").hits == ()
    g_low = graph_app.neighbourhood(world.b, status, f"series:{sid}")
    assert not {n.type for n in g_low.nodes} & {"victim", "offender", "location"}

    # back down to status: at the next sync every full fact goes from B
    sharing.share_series(world.a, OP, SERIES, "status", agencies=["DE-B"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _remote_facts(world) == NONE
    again = media_app.show(world.b, full, str(mid))
    assert again.level == "status" and again.text == () and again.metadata is None
    with world.b.transaction() as s:
        held = s.query(FedRecord).filter(FedRecord.kind == FULL, FedRecord.deleted.is_(False))
        assert held.count() == 0

    # full again, then the series revoked: nothing of it stays
    sharing.share_series(world.a, OP, SERIES, "full", agencies=["DE-B"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _remote_facts(world)["text"] == 1
    sharing.share_series(world.a, OP, SERIES, "none", network=True)
    sharing.share_series(world.a, OP, SERIES, "none", agencies=["DE-B"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _remote_facts(world) == NONE


def test_full_records_reach_only_nodes_given_full(world: World, tmp_path: Path) -> None:
    """Full for France, status for the network: the German node B gets the series at
    status and none of its full facts (the hub hides them; B checks the hide against
    A's signed series record), not even as bytes in its feed."""
    _seed_full_facts(world, tmp_path)
    sharing.share_series(world.a, OP, SERIES, "status", network=True)
    sharing.share_series(world.a, OP, SERIES, "full", countries=["FR"])
    _b_serves(world, "DE")
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:
        assert s.query(FedRecord).filter(FedRecord.kind == FULL).count() == 2
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    page = fed_hub.feed_page(world.hub, me, 0, cp.size)
    assert b"GRAND HOTEL" not in page and b"V-17" not in page
    assert base64.b64encode(_features()[:30])[:20] not in page
    _sync(world.b, world.hub)
    assert _remote_facts(world) == NONE
    with world.b.transaction() as s:
        assert repo.get_series(s, B_SERIES) is not None
