"""Issue 15 item 3: only a record's origin changes or deletes it, whatever the hub does.

A hub holds every node's records and signs the feed pages, so these tests play a
dishonest hub (editing its own tables, or hiding records on their way out) and
expect the receiving node to refuse the whole page, naming the record and the
reason, and to keep exactly what it held."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tessera.app import sharing
from tessera.app.federation import audience, hub_log
from tessera.app.federation import hub as fed_hub
from tessera.storage.federation import records as records_store
from tessera.storage.models import FedLogEntry, FedRecord
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

__all__ = ["world"]


def _held(world: World, tmp_path: Path) -> list[str]:
    """A shares SER1 (5 media), B holds it; then A changes something else (SER2), so
    the hub's log has an entry B has not read yet."""
    d = _digests(5, "forge")
    _share(world.a, tmp_path, "SER1", d)
    _sync(world.a, world.hub)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (6, 5)
    _share(world.a, tmp_path, "SER2", _digests(2, "later"))
    _sync(world.a, world.hub)
    return d


def _newest_seq(world: World) -> int:
    with world.hub.transaction() as s:
        last = s.query(FedLogEntry).order_by(FedLogEntry.seq.desc()).first()
        assert last is not None
        return int(last.seq)


def test_a_deletion_the_origin_did_not_sign_is_refused_whole(world: World, tmp_path: Path) -> None:
    d = _held(world, tmp_path)
    seq = _newest_seq(world)
    with world.hub.transaction() as s:  # the hub "deletes" one of A's media records
        row = s.query(FedRecord).filter(FedRecord.kind == 1).order_by(FedRecord.id).first()
        assert row is not None
        row.deleted, row.payload, row.version, row.log_seq = True, None, row.version + 1, seq
        gone = row.origin_id
    with pytest.raises(
        hub_log.HubRefused, match=f"deletion of record {gone} \\(version 2\\) of node a.test that"
    ):
        _sync(world.b, world.hub)
    assert _counts(world.b) == (6, 5)  # nothing of the page: not SER2 either
    assert all(_lookup(world.b, h).matched == 1 for h in d)


def test_a_downgrade_the_origin_did_not_sign_is_refused(world: World, tmp_path: Path) -> None:
    _held(world, tmp_path)
    seq = _newest_seq(world)
    with world.hub.transaction() as s:  # the hub sets A's series to hash
        row = s.query(FedRecord).filter(FedRecord.kind == 0).order_by(FedRecord.id).first()
        assert row is not None and row.payload is not None
        p = dict(row.payload)
        row.payload = {"level": "hash", "owner": p["owner"], "n": p["n"]}
        row.version, row.log_seq = row.version + 1, seq
        key = row.origin_id
    with pytest.raises(hub_log.HubRefused, match=f"record {key} \\(version 2\\) of node a.test"):
        _sync(world.b, world.hub)
    assert _lookup(world.b, _digests(5, "forge")[0]).series[0].level == "status"


def test_hiding_one_record_of_a_series_the_node_may_see_is_refused(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub may say a whole series is not for a node (whom a node serves is its
    operator's call), but not hide one media record of a series the origin's signed
    record gives this node: that would be a deletion the origin never made."""
    d = _held(world, tmp_path)
    sharing.share_series(world.a, OP, "SER1", "full", network=True)  # new version of SER1
    _sync(world.a, world.hub)
    real = audience.audience_of

    def dishonest(
        node: object,
        series: list[records_store.StoredRecord],
        media: list[records_store.StoredRecord],
    ) -> tuple[list[records_store.StoredRecord], list[records_store.StoredRecord]]:
        series, media = real(node, series, media)  # type: ignore[arg-type]
        first = next(i for i, r in enumerate(media) if r.kind == 1)
        media = list(media)
        media[first] = replace(media[first], deleted=True, payload=None, hidden=True)
        return series, media

    monkeypatch.setattr(fed_hub, "audience_of", dishonest)  # where the hub calls it
    with pytest.raises(
        hub_log.HubRefused, match=r"signed series record gives this node (full|status)"
    ):
        _sync(world.b, world.hub)
    assert all(_lookup(world.b, h).matched == 1 for h in d)
    monkeypatch.setattr(fed_hub, "audience_of", real)
    _sync(world.b, world.hub)
    assert _counts(world.b) == (9, 7)
