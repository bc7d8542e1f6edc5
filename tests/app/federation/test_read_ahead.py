"""A sync reads the next feed page on its fetch thread (``pull.feed_reader``) while it
applies this one: ``apply_feed`` must take that reading only for the very bytes it
applies, so a page altered after it was read (or another page) is read again and
refused or applied as itself. The fetch thread also checks each record against its
origin's signature: a record the hub altered is refused all the same, and that check
counts only when made with the keys the node holds when it applies the page. And a
node keeps no hashes in its media records' ``fed_record`` rows (its media rows hold
them); the hub keeps what it forwards. Each backend.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tessera.app.federation import hub as fed_hub
from tessera.app.federation import hub_log, peers, pull, read_ahead
from tessera.audit.note import Signer
from tessera.exchange import delta
from tessera.exchange.delta import DeltaError
from tessera.storage.federation import records as records_store
from tessera.storage.models import FedRecord
from tests.app.federation.test_federation import (
    OP,
    World,
    _counts,
    _digests,
    _lookup,
    _share,
    _sync,
    world,
)

__all__ = ["world"]  # the fixture, both backends


def _pages(world: World, tmp_path: Path) -> list[bytes]:
    """A shares two series (one delta each); B's feed, one log entry a page."""
    for name in ("RA1", "RA2"):
        _share(world.a, tmp_path, name, _digests(5, name))
        _sync(world.a, world.hub)
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    hub_log.accept_checkpoint(world.b, "hub", cp.checkpoint, cp.consistency)
    out: list[bytes] = []
    after = 0
    while after < cp.size:
        out.append(fed_hub.feed_page(world.hub, me, after, cp.size, limit=1))
        after = int(delta.peek_header(out[-1])["end"])
    assert len(out) == 2
    return out


def test_a_page_read_ahead_is_taken_only_for_its_own_bytes(world: World, tmp_path: Path) -> None:
    first, second = _pages(world, tmp_path)
    reader = pull.feed_reader(world.b, "hub")
    ahead = reader(first)
    assert ahead.header["end"] == 1 and len(ahead.records) == 5
    # altered after it was read: read again, refused whole
    d = _digests(5, "RA1")[2]
    bad = first.replace(d.encode(), _digests(5, "x")[2].encode())
    assert bad != first
    with pytest.raises(DeltaError, match="SHA-256 differs"):
        pull.apply_feed(world.b, OP, "hub", bad, read=ahead)
    assert _counts(world.b) == (0, 0)
    # another page than the one read: applied as itself (a page 2 here is refused:
    # page 1 is missing), never as the reading it came with
    with pytest.raises(hub_log.HubRefused, match="a page is missing"):
        pull.apply_feed(world.b, OP, "hub", second, read=ahead)
    assert _counts(world.b) == (0, 0)
    res = pull.apply_feed(world.b, OP, "hub", first, read=ahead)
    assert (res.end, res.applied) == (1, 6)
    res = pull.apply_feed(world.b, OP, "hub", second, read=ahead)
    assert (res.end, res.applied) == (2, 6)
    assert _counts(world.b) == (12, 10)
    assert _lookup(world.b, d).matched == 1


def _one_page(world: World) -> bytes:
    me = peers.signer_of(world.b).name
    cp = fed_hub.hub_checkpoint(world.hub, me, 0)
    hub_log.accept_checkpoint(world.b, "hub", cp.checkpoint, cp.consistency)
    return fed_hub.feed_page(world.hub, me, 0, cp.size)


def test_the_fetch_threads_signature_check_counts_only_with_the_keys_held(
    world: World, tmp_path: Path
) -> None:
    _share(world.a, tmp_path, "RA1", _digests(5, "RA1"))
    _sync(world.a, world.hub)
    a = peers.signer_of(world.a)
    ahead = pull.feed_reader(world.b, "hub")(_one_page(world))
    assert isinstance(ahead, read_ahead.ReadAhead)
    assert ahead.attested_with == {a.name: a.verifier.text()}
    # checked with another key than the one B holds (pins) for A: checked again, here
    # against the records' real signatures (the page is A's: applied)
    other = Signer.generate(a.name).verifier.text()
    res = pull.apply_feed(
        world.b, OP, "hub", _one_page(world), read=replace(ahead, attested_with={a.name: other})
    )
    assert res.applied == 6
    assert _counts(world.b) == (6, 5)


def test_a_record_the_hub_altered_is_refused_when_read_ahead(world: World, tmp_path: Path) -> None:
    _share(world.a, tmp_path, "RA1", _digests(5, "RA1"))
    _sync(world.a, world.hub)
    with world.hub.transaction() as s:
        row = s.query(FedRecord).filter(FedRecord.kind == 1).order_by(FedRecord.id).first()
        assert row is not None and row.payload is not None
        row.payload = {**row.payload, "sha256": _digests(1, "forged")[0]}
        altered = row.origin_id
    page = _one_page(world)
    ahead = pull.feed_reader(world.b, "hub")(page)
    assert isinstance(ahead, read_ahead.ReadAhead) and ahead.attested_with is None
    with pytest.raises(hub_log.HubRefused, match=f"record {altered} .* did not sign"):
        pull.apply_feed(world.b, OP, "hub", page, read=ahead)
    # a reading that claims the check passed with a key B does not hold for A is
    # checked again: refused the same
    a = peers.signer_of(world.a).name
    claims = replace(ahead, attested_with={a: Signer.generate(a).verifier.text()})
    with pytest.raises(hub_log.HubRefused, match=f"record {altered} .* did not sign"):
        pull.apply_feed(world.b, OP, "hub", page, read=claims)
    assert _counts(world.b) == (0, 0)


def test_latest_of_keeps_each_keys_highest_version_in_first_seen_order() -> None:
    def rec(origin: str, oid: str, version: int) -> records_store.Incoming:
        return records_store.Incoming(origin, oid, 1, "s1", version, False, {"v": version})

    records = [rec("a", "s1m1", 1), rec("a", "s1m2", 3), rec("b", "s1m1", 2)]
    records += [rec("a", "s1m1", 4), rec("a", "s1m2", 2)]
    latest = records_store.latest_of(records)
    assert {o: list(m) for o, m in latest.items()} == {"a": ["s1m1", "s1m2"], "b": ["s1m1"]}
    assert [n.record for n in latest["a"].values()] == [records[3], records[1]]
    assert all(
        n.row_id is None and n.old_local is None for m in latest.values() for n in m.values()
    )


def test_a_node_keeps_no_hashes_in_its_media_records_the_hub_does(
    world: World, tmp_path: Path
) -> None:
    _pages(world, tmp_path)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (12, 10)
    with world.b.transaction() as s:
        kinds = {
            (int(k), p is None)
            for k, p in s.query(FedRecord.kind, FedRecord.payload).filter(
                FedRecord.deleted.is_(False)
            )
        }
    assert kinds == {(0, False), (1, True)}
    with world.hub.transaction() as s:
        held = [p for (p,) in s.query(FedRecord.payload).filter(FedRecord.kind == 1)]
    assert len(held) == 10 and all(p and p["sha256"] for p in held)
    # the hashes still reach B's callers: through its media rows
    for name in ("RA1", "RA2"):
        assert all(_lookup(world.b, d).matched == 1 for d in _digests(5, name))
