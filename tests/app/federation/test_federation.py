"""Federation use cases on each backend: a hub and two nodes in one process.

The HTTP hop is left out here (tests/api/test_federation_e2e.py runs real
``tessera serve --hub`` processes); ``_sync`` performs the same steps as
``tessera.client.federation.sync`` by calling the hub's use cases directly.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.app import App, Caller, Role, Settings, audit, sharing
from tessera.app import lookup as lk
from tessera.app.exchange import import_file
from tessera.app.federation import air_gap, hub_log, peers, pull, share
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import status as fed_status
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.merkle import consistency_proof, leaf_hash, root_of
from tessera.audit.note import Signer
from tessera.exchange.delta import DeltaError
from tessera.storage import repo
from tessera.storage.models import FedLogEntry, FedPeer, FedRecord, Media
from tests.storage.conftest import _pg_database

OP = Caller.local_operator()


@dataclass
class World:
    hub: App
    a: App
    b: App


def _open(tmp: Path, name: str, url: str | None) -> App:
    home = tmp / name
    home.mkdir()
    app = App(Settings.for_home(home, database_url=url) if url else Settings.for_home(home))
    app.migrate()
    audit.ensure_node_key(app, f"{name}.test")
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        urls: list[str | None] = [None, None, None]
        if request.param == "postgresql":
            urls = [
                stack.enter_context(contextlib.contextmanager(_pg_database)()).url for _ in range(3)
            ]
        world = peered(
            *(_open(tmp_path, n, u) for n, u in zip(("hub", "a", "b"), urls, strict=True))
        )
        yield world
        for x in (world.hub, world.a, world.b):
            x.close()


def peered(hub: App, a: App, b: App) -> World:
    """A hub and nodes A and B that know each other's keys, with agency NL-A on A and
    DE-B on B."""
    key = {n: peers.signer_of(x).verifier.text() for n, x in (("hub", hub), ("a", a), ("b", b))}
    for n in ("a", "b"):
        peers.add_peer(hub, OP, n, "http://127.0.0.1:1", key[n])
    peers.add_peer(a, OP, "hub", "http://127.0.0.1:2", key["hub"])
    peers.add_peer(b, OP, "hub", "http://127.0.0.1:2", key["hub"])
    with a.transaction() as s:
        repo.create_agency(s, "NL-A", "NL", "Unit A", "vid@a.example")
    with b.transaction() as s:
        repo.create_agency(s, "DE-B", "DE", "Unit B", "vid@b.example")
    return World(hub, a, b)


def _sync(node: App, hub: App) -> pull.FeedApplied | None:
    """tessera sync, without HTTP."""
    me = peers.signer_of(node).name
    _, size = pull.feed_position(node, "hub")
    cp = fed_hub.hub_checkpoint(hub, me, size)
    hub_log.accept_checkpoint(node, "hub", cp.checkpoint, cp.consistency)
    hub_log.delta_already_accepted(node, "hub", cp.last_delta)
    share.prepare(node, OP)
    for _, body in share.outbox(node):
        _, size = pull.feed_position(node, "hub")
        hub_log.delta_acknowledged(node, "hub", body, fed_hub.accept_delta(hub, body, since=size))
    after, size = pull.feed_position(node, "hub")
    res = None
    while after < size:
        res = pull.apply_feed(node, OP, "hub", fed_hub.feed_page(hub, me, after, size, limit=3))
        after = res.end
    return res


def _share(app: App, tmp: Path, series: str, digests: list[str]) -> None:
    f = tmp / f"{series}.txt"
    f.write_text("".join(d + "\n" for d in digests))
    import_file(app, OP, "hashlist", f, agency_code="NL-A", series=series, hash_type="sha256")


def _digests(n: int, salt: str = "") -> list[str]:
    return [hashlib.sha256(f"{salt}{i}".encode()).hexdigest() for i in range(n)]


def _b_analyst() -> Caller:
    return Caller(role=Role.ANALYST, user_id=99, email="x@b.example", agency_code="DE-B")


def _lookup(app: App, digest: str) -> lk.LookupResult:
    return lk.lookup(app, _b_analyst(), [lk.HashQuery(type="sha256", hash=digest)])


def _counts(app: App) -> tuple[int, int]:
    with app.transaction() as s:
        live = s.query(FedRecord).filter(FedRecord.deleted.is_(False)).count()
        media = s.query(Media).count()
    return live, media


def test_status_share_reaches_other_node_with_contact_then_revocation_removes_it(
    world: World, tmp_path: Path
) -> None:
    d = _digests(7)
    _share(world.a, tmp_path, "SER1", d)
    assert fed_status.status(world.a, OP).unsent_changes == 8
    _sync(world.a, world.hub)
    assert fed_status.status(world.a, OP).unsent_changes == 0
    _sync(world.b, world.hub)
    found = _lookup(world.b, d[3])
    assert found.matched == 1
    (summary,) = found.series
    assert summary.name == "SER1 @a.test"
    assert summary.contact == "vid@a.example"
    assert summary.owner_code == "NL-A"
    assert summary.level == "status"
    assert _counts(world.b) == (8, 7)  # 1 series + 7 media records; 7 hash-only media
    st = fed_status.status(world.b, OP)
    assert st.received_records == {"a.test": 8}
    actions = [e.action for e in audit.show(world.b, OP)]
    assert actions.count("federation.receive") == 1
    assert "federation.prepare" in [e.action for e in audit.show(world.a, OP)]

    sharing.share_series(world.a, OP, "SER1", "none", network=True)
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:  # gone from the hub: keys and versions only
        rows = s.query(FedRecord).all()
        assert len(rows) == 8 and all(r.deleted and r.payload is None for r in rows)
    _sync(world.b, world.hub)
    assert _lookup(world.b, d[3]).matched == 0
    assert _counts(world.b) == (0, 0)


def test_hash_level_shows_only_contact(world: World, tmp_path: Path) -> None:
    d = _digests(2, "h")
    _share(world.a, tmp_path, "SECRET", d)
    sharing.share_series(world.a, OP, "SECRET", "hash", network=True)
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    res = _lookup(world.b, d[0])
    assert res.matched == 1
    assert res.series == ()  # no series name at hash
    assert res.results[0].matches[0].contacts == ("vid@a.example",)
    with world.hub.transaction() as s:
        payloads = [r.payload for r in s.query(FedRecord).filter(FedRecord.kind == 0)]
    assert payloads and all("name" not in (p or {}) for p in payloads)


def test_resync_and_replayed_delta_change_nothing(world: World, tmp_path: Path) -> None:
    _share(world.a, tmp_path, "SER1", _digests(5))
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:
        first = s.query(FedLogEntry).one()
    # the node "crashed" before hearing the answer: same bytes again
    assert share.prepare(world.a, OP).new_deltas == 0  # nothing changed: no new delta
    # another delta under an accepted number is refused, and appends nothing
    from tessera.exchange import delta as dl

    a_key = peers.signer_of(world.a)
    replay = dl.write(
        "federation-delta",
        a_key,
        [],
        [],
        header={"delta_no": int(first.delta_no)},
    )
    with pytest.raises(DeltaError, match="other content"):
        fed_hub.accept_delta(world.hub, replay)
    _sync(world.b, world.hub)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (6, 5)


def test_tampered_delta_is_rejected_whole(world: World, tmp_path: Path) -> None:
    _share(world.a, tmp_path, "SER1", _digests(4))
    share.prepare(world.a, OP)
    ((_, body),) = share.outbox(world.a)
    bad = body.replace(_digests(4)[2].encode(), _digests(4, "x")[2].encode())
    with pytest.raises(DeltaError, match="SHA-256 differs"):
        fed_hub.accept_delta(world.hub, bad)
    with world.hub.transaction() as s:
        assert s.query(FedLogEntry).count() == 0
        assert s.query(FedRecord).count() == 0
    # from a node the hub does not know
    peers.remove_peer(world.hub, OP, "a")
    with pytest.raises(DeltaError, match="not a known peer"):
        fed_hub.accept_delta(world.hub, body)


def test_node_refuses_a_hub_that_rewrote_its_log(world: World, tmp_path: Path) -> None:
    _share(world.a, tmp_path, "SER1", _digests(3))
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    _share(world.a, tmp_path, "SER2", _digests(3, "2"))
    _sync(world.a, world.hub)
    # the hub rewrites entry 1 and re-signs everything with its genuine key
    hub_key = peers.signer_of(world.hub)
    with world.hub.transaction() as s:
        entries = s.query(FedLogEntry).order_by(FedLogEntry.seq).all()
        leaves = []
        for e in entries:
            if e.seq == 1:
                e.sha256 = "0" * 64
                e.leaf_hash = leaf_hash(b"forged")
            leaves.append(bytes(e.leaf_hash))
            e.root = root_of(leaves)
            e.note = Checkpoint(hub_key.name + "/federation", e.seq, e.root).sign(hub_key)
    before = _counts(world.b)
    with pytest.raises(hub_log.HubRefused, match="rewrote history"):
        _sync(world.b, world.hub)
    assert _counts(world.b) == before
    with pytest.raises(hub_log.HubRefused, match="rewrote history"):  # and again: nothing stored
        _sync(world.b, world.hub)


def test_interrupted_pull_resumes_exactly(world: World, tmp_path: Path) -> None:
    _share(world.a, tmp_path, "SER1", _digests(10))
    _sync(world.a, world.hub)
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    hub_log.accept_checkpoint(world.b, "hub", cp.checkpoint, cp.consistency)
    # a page is applied, the same page again (a retry after a lost answer), then the rest
    page = fed_hub.feed_page(world.hub, me, 0, cp.size, limit=3)
    pull.apply_feed(world.b, OP, "hub", page)
    pull.apply_feed(world.b, OP, "hub", page)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (11, 10)


def test_air_gapped_export_import(world: World, tmp_path: Path) -> None:
    d = _digests(4, "air")
    _share(world.a, tmp_path, "AIR", d)
    out = air_gap.export_bundles(world.a, OP, None)
    assert out.kind == "federation-delta" and out.records == 5
    (r,) = air_gap.import_bundles(world.hub, OP, out.data, None)
    assert isinstance(r, fed_hub.DeltaAccepted) and r.status == "accepted"
    # importing the same file again is harmless
    (r2,) = air_gap.import_bundles(world.hub, OP, out.data, None)
    assert isinstance(r2, fed_hub.DeltaAccepted) and r2.status == "duplicate"
    feed = air_gap.export_bundles(world.hub, OP, "b")
    assert feed.kind == "federation-feed"
    results = air_gap.import_bundles(world.b, OP, feed.data, "hub")
    assert sum(x.applied for x in results if isinstance(x, pull.FeedApplied)) == 5
    assert _lookup(world.b, d[1]).matched == 1
    # a tampered feed file is refused
    bad = feed.data.replace(d[1].encode(), d[2].encode(), 1)
    with pytest.raises(DeltaError):
        air_gap.import_bundles(world.b, OP, bad, "hub")


def test_node_killed_before_the_hubs_answer_resends_nothing_twice(
    world: World, tmp_path: Path
) -> None:
    """The hub accepted the delta but the node died before recording it: the next sync
    learns it from the hub's checkpoint answer and sends nothing again."""
    _share(world.a, tmp_path, "SER1", _digests(6))
    share.prepare(world.a, OP)
    ((_, body),) = share.outbox(world.a)
    fed_hub.accept_delta(world.hub, body)  # ... and the node is killed here
    _sync(world.a, world.hub)
    assert share.outbox(world.a) == []
    with world.hub.transaction() as s:
        assert s.query(FedLogEntry).count() == 1
        assert s.query(FedRecord).count() == 7
    _sync(world.b, world.hub)
    assert _counts(world.b) == (7, 6)


def _hub_peer(origin: str, verifier: str) -> FedPeer:
    return FedPeer(
        name="hub", origin=origin, verifier=verifier, checkpoint_size=0, feed_after=0, last_delta=0
    )


HUB_KEY = Signer.generate("hub.prop")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 40), st.data())
def test_checkpoint_consistency_property(m: int, extra: int, data: st.DataObject) -> None:
    """A node holding the checkpoint of size m accepts any extension of that log, and
    refuses every log whose first m entries differ (one leaf rewritten)."""
    leaves = [leaf_hash(f"delta {i}".encode()) for i in range(m + extra)]
    origin = HUB_KEY.name + "/federation"

    def note(ls: list[bytes]) -> str:
        return Checkpoint(origin, len(ls), root_of(ls)).sign(HUB_KEY)

    peer = _hub_peer(HUB_KEY.name, HUB_KEY.verifier.text())
    hub_log._accept_checkpoint(peer, note(leaves[:m]), [])
    assert peer.checkpoint_size == m
    n = m + extra
    proof = consistency_proof(leaves, m) if m < n else []
    hub_log._accept_checkpoint(peer, note(leaves), [h.hex() for h in proof])
    assert peer.checkpoint_size == n
    # a rewritten history, re-signed with the hub's own key
    i = data.draw(st.integers(0, m - 1))
    forged = list(leaves)
    forged[i] = leaf_hash(b"rewritten")
    peer2 = _hub_peer(HUB_KEY.name, HUB_KEY.verifier.text())
    hub_log._accept_checkpoint(peer2, note(leaves[:m]), [])
    bad = consistency_proof(forged, m) if m < n else []
    with pytest.raises(hub_log.HubRefused, match="rewrote history"):
        hub_log._accept_checkpoint(peer2, note(forged), [h.hex() for h in bad])
    assert peer2.checkpoint_size == m


def test_pdq_near_match_on_received_records(world: World, tmp_path: Path) -> None:
    """A shares only a PDQ hash (no digest B could match byte for byte); B's triage of
    a picture within PDQ distance 31 of it finds A's series, with A's contact."""
    import numpy as np
    from PIL import Image

    from tessera.app import triage
    from tessera.demo.samples import synthetic_picture
    from tessera.fingerprints.pdq import MATCH_THRESHOLD, pdq_hash_rgb

    picture = np.asarray(synthetic_picture(640, 480, 7))
    code = int(pdq_hash_rgb(picture).hex, 16)
    flipped = code ^ sum(1 << b for b in range(0, 256, 23))  # 12 bits apart
    assert bin(code ^ flipped).count("1") == 12 < MATCH_THRESHOLD
    f = tmp_path / "pdq.txt"
    f.write_text(f"{flipped:064x}\n")
    import_file(world.a, OP, "hashlist", f, agency_code="NL-A", series="NEAR", hash_type="pdq")
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    seizure = tmp_path / "seizure"
    seizure.mkdir()
    Image.fromarray(picture).save(seizure / "room.png")
    far = tmp_path / "far"
    far.mkdir()
    Image.fromarray(np.asarray(synthetic_picture(640, 480, 8))).save(far / "other.png")
    report = triage.run(world.b, _b_analyst(), [seizure, far], scenes=False, workers=1)
    by_name = {Path(it.path).name: it for it in report.items}
    hit = by_name["room.png"]
    assert hit.status != "new" and hit.matches
    assert {m.distance for m in hit.matches} == {12}
    (series,) = report.series
    assert series.status.name == "NEAR @a.test" and series.status.contact == "vid@a.example"
    assert by_name["other.png"].status == "new"


def test_node_refuses_a_record_the_hub_altered(world: World, tmp_path: Path) -> None:
    """The hub's page is signed by the hub, but each record must be one its origin
    signed: a hub that changes one hash of A's is caught by B, nothing applied."""
    d = _digests(5, "alt")
    _share(world.a, tmp_path, "SER1", d)
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:
        row = s.query(FedRecord).filter(FedRecord.kind == 1).order_by(FedRecord.id).first()
        assert row is not None and row.payload is not None
        forged = _digests(1, "forged")[0]
        original = dict(row.payload)
        row.payload = {**original, "sha256": forged}
        altered = row.origin_id
    with pytest.raises(hub_log.HubRefused, match=f"record {altered} .* a.test did not sign"):
        _sync(world.b, world.hub)
    assert _counts(world.b) == (0, 0)
    assert _lookup(world.b, forged).matched == 0
    # the hub undoes it: the same records now verify and arrive
    with world.hub.transaction() as s:
        s.query(FedRecord).filter(FedRecord.origin_id == altered).one().payload = original
    _sync(world.b, world.hub)
    assert _counts(world.b) == (6, 5)
    assert _lookup(world.b, original["sha256"]).matched == 1


def test_node_refuses_a_substituted_origin_key(world: World, tmp_path: Path) -> None:
    """B pins A's key at first sight; a hub later offering another key for A (to pass
    records it forged and signed itself as "a.test") is refused."""
    _share(world.a, tmp_path, "SER1", _digests(2, "k"))
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    with world.b.transaction() as s:
        pinned = s.query(FedPeer).filter(FedPeer.origin == "a.test").one()
        assert pinned.url is None
    impostor = Signer.generate("a.test")
    with world.hub.transaction() as s:
        s.query(FedPeer).filter(FedPeer.name == "a").one().verifier = impostor.verifier.text()
    from tessera.exchange import delta as dl
    from tessera.exchange.delta import WireRecord

    rec = WireRecord(
        "a.test", "s999", 0, "s999", 1, False, {"level": "status", "owner": {"code": "X"}}
    )
    body = dl.write("federation-delta", impostor, [rec], [], header={"delta_no": 2})
    fed_hub.accept_delta(world.hub, body)
    with pytest.raises(hub_log.HubRefused, match="another key"):
        _sync(world.b, world.hub)


def _a_analyst() -> Caller:
    return Caller(role=Role.ANALYST, user_id=98, email="x@a.example", agency_code="NL-A")


def test_blind_hit_at_another_node_reaches_the_owner_once(world: World, tmp_path: Path) -> None:
    """B's lookup hits a series A shared at ``hash``: B's caller sees only A's contact,
    yet A's agency is told (series, finder agency and country, node, how, how many),
    through the hub, once, however often the syncs and pages are repeated."""
    from tessera.app import coop
    from tessera.storage.models import FedNotice

    d = _digests(6, "blind")
    _share(world.a, tmp_path, "SECRET", d)
    sharing.share_series(world.a, OP, "SECRET", "hash", network=True)
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    seen = lk.lookup(world.b, _b_analyst(), [lk.HashQuery(type="sha256", hash=h) for h in d[:3]])
    assert seen.matched == 3 and seen.series == ()  # B learns no more than hash allows
    _lookup(world.b, d[0])  # the same hit again within the window: no new notice
    with world.b.transaction() as s:
        (out,) = s.query(FedNotice).all()
        assert out.carried_by == 0 and out.recipient == "a.test"
        assert set(out.body["media"]) <= {r.origin_id for r in s.query(FedRecord)}
    assert fed_status.status(world.b, OP).unsent_notices == 1
    _sync(world.b, world.hub)  # carried to the hub in B's delta
    assert fed_status.status(world.b, OP).unsent_notices == 0
    _sync(world.b, world.hub)
    with world.hub.transaction() as s:
        assert s.query(FedNotice).count() == 1
    me = peers.signer_of(world.a).name
    _, size = pull.feed_position(world.a, "hub")
    cp = fed_hub.hub_checkpoint(world.hub, me, size)
    hub_log.accept_checkpoint(world.a, "hub", cp.checkpoint, cp.consistency)
    pages, after = [], 0
    while after < cp.size:
        pages.append(fed_hub.feed_page(world.hub, me, after, cp.size))
        after = pull.apply_feed(world.a, OP, "hub", pages[-1]).end
    assert sum(pull.apply_feed(world.a, OP, "hub", p).notices for p in pages) == 0  # retried
    _sync(world.a, world.hub)
    (n,) = coop.list_notifications(world.a, _a_analyst())
    assert n.kind == "series-hit"
    assert n.payload["series"] == "SECRET"
    assert n.payload["finder_agency"] == "DE-B" and n.payload["finder_country"] == "DE"
    assert n.payload["finder_node"] == "b.test"
    assert n.payload["files"] == 3 and n.payload["via"] == "lookup"
    assert n.payload["finder_case"] is None
    (ov,) = coop.list_overlaps(world.a, _a_analyst())
    assert ov.side == "owner" and ov.files == 3
    # B's caller still sees nothing of the series; B's own trail holds no series name
    assert _lookup(world.b, d[1]).series == ()
    # A's notices never reach B, and the hub forwards them to nobody else
    with world.b.transaction() as s:
        assert s.query(FedNotice).count() == 1


def test_a_notice_the_hub_altered_is_refused(world: World, tmp_path: Path) -> None:
    from tessera.storage.models import FedNotice

    d = _digests(2, "alt-n")
    _share(world.a, tmp_path, "SER", d)
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    _lookup(world.b, d[0])
    _sync(world.b, world.hub)
    with world.hub.transaction() as s:
        row = s.query(FedNotice).one()
        row.body = {**row.body, "files": 500}
    with pytest.raises(
        hub_log.HubRefused, match=r"notice o1 of b.test: signature does not cover it \(altered\)"
    ):
        _sync(world.a, world.hub)


def _b_serves(world: World, country: str | None, agencies: tuple[str, ...] = ()) -> None:
    key = peers.signer_of(world.b).verifier.text()
    peers.remove_peer(world.hub, OP, "b")
    peers.add_peer(
        world.hub, OP, "b", "http://127.0.0.1:1", key, country=country, agencies=agencies
    )


def _on_b(world: World) -> set[str]:
    with world.b.transaction() as s:
        return {
            r.origin_id
            for r in s.query(FedRecord).filter(FedRecord.deleted.is_(False), FedRecord.kind == 0)
        }


def test_grants_to_countries_and_agencies_reach_only_their_nodes(
    world: World, tmp_path: Path
) -> None:
    """A series shared with France only never reaches B (Germany): the hub sends B its
    key as a deletion, no hash; shared with Germany, or with B's agency, B's callers
    see it at that level; when the grant goes, so does the series at B."""
    _b_serves(world, "DE", ("DE-B",))
    fr, de, ag = _digests(2, "fr"), _digests(2, "de"), _digests(2, "ag")
    _share(world.a, tmp_path, "ONLY-FR", fr)
    _share(world.a, tmp_path, "FOR-DE", de)
    _share(world.a, tmp_path, "FOR-B", ag)
    with world.a.transaction() as s:  # A's directory knows B's agency (to grant to it)
        repo.create_agency(s, "DE-B", "DE", "Unit B", "vid@b.example")
    for name in ("ONLY-FR", "FOR-DE", "FOR-B"):
        sharing.share_series(world.a, OP, name, "none", network=True)
    sharing.share_series(world.a, OP, "ONLY-FR", "full", countries=["FR"])
    sharing.share_series(world.a, OP, "FOR-DE", "status", countries=["DE"])
    sharing.share_series(world.a, OP, "FOR-B", "hash", agencies=["DE-B"])
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:  # the hub holds all three, grants and all
        grants = [r.payload["grants"] for r in s.query(FedRecord).filter(FedRecord.kind == 0)]
        assert {"country": {"FR": "full"}} in grants
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    page = fed_hub.feed_page(world.hub, me, 0, cp.size)
    for h in fr:
        assert h.encode() not in page  # nothing of France's series leaves the hub for B
    _no_digest_oracle(world, page, fr)
    _sync(world.b, world.hub)
    assert _lookup(world.b, fr[0]).matched == 0
    de_hit = _lookup(world.b, de[0])
    assert de_hit.matched == 1 and de_hit.series[0].name == "FOR-DE @a.test"
    b_hit = _lookup(world.b, ag[1])
    assert b_hit.matched == 1 and b_hit.series == ()  # hash: contact only
    assert b_hit.results[0].matches[0].contacts == ("vid@a.example",)
    # another agency at B (not listed) sees FOR-B as nothing, FOR-DE by country
    with world.b.transaction() as s:
        repo.create_agency(s, "DE-Z", "DE", "Unit Z", "z@b.example")
    other = Caller(role=Role.ANALYST, user_id=97, email="z@b.example", agency_code="DE-Z")
    assert lk.lookup(world.b, other, [lk.HashQuery(type="sha256", hash=ag[0])]).matched == 0
    assert lk.lookup(world.b, other, [lk.HashQuery(type="sha256", hash=de[0])]).matched == 1
    # Germany's grant goes: the series and its media go from B at the next sync
    sharing.share_series(world.a, OP, "FOR-DE", "none", countries=["DE"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _lookup(world.b, de[0]).matched == 0
    assert len(_on_b(world)) == 1
    # and comes back with its media when France's grant is widened to Germany
    sharing.share_series(world.a, OP, "ONLY-FR", "status", countries=["DE"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _lookup(world.b, fr[1]).matched == 1


def test_a_node_enforces_the_audience_itself(world: World, tmp_path: Path) -> None:
    """A hub that forwards a series shared only with France to a German node (its
    operator listed B under FR): B keeps nothing of it."""
    _b_serves(world, "FR")
    fr = _digests(3, "fr2")
    _share(world.a, tmp_path, "ONLY-FR", fr)
    sharing.share_series(world.a, OP, "ONLY-FR", "none", network=True)
    sharing.share_series(world.a, OP, "ONLY-FR", "status", countries=["FR"])
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _on_b(world) == set()
    assert _lookup(world.b, fr[0]).matched == 0
    assert _counts(world.b) == (0, 0)


def _no_digest_oracle(world: World, page: bytes, hidden: list[str]) -> None:
    """The origins' manifests in B's page list digests of records B is not sent; the
    per-record salt keeps B from confirming a guessed hash against them."""
    import json

    from tessera.exchange import delta as dl
    from tessera.exchange.delta import WireRecord

    hub_key = peers.signer_of(world.hub).verifier
    b = dl.read(page, lambda _o: hub_key)
    listed: set[str] = set()
    for a in b.attests:
        listed |= set(json.loads(a.manifest)["manifest"]["record_digests"])
    with world.hub.transaction() as s:
        rows = [
            r
            for r in s.query(FedRecord).filter(FedRecord.kind == 1)
            if (r.payload or {}).get("sha256") in hidden
        ]
    assert rows
    for r in rows:
        payload = dict(r.payload or {})
        salt = payload.pop("n")
        args = ("a.test", r.origin_id, 1, r.series_key, r.version, False)
        assert dl.record_digest(WireRecord(*args, payload, salt)) in listed  # signed...
        assert dl.record_digest(WireRecord(*args, payload)) not in listed  # ...not guessable
