"""``storage.federation.records.frozen``: the records a full pull makes per received record,
built without the frozen dataclass's ``__init__``, are the constructor's."""

from __future__ import annotations

import dataclasses

import pytest

from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_media as remote_media_store


def test_frozen_gives_the_constructors_instance() -> None:
    inc = records_store.frozen(
        records_store.Incoming,
        origin="node-a.test",
        origin_id="s1m7",
        kind=1,
        series_key="s1",
        version=3,
        deleted=False,
        payload={"sha256": "ab" * 32},
    )
    want = records_store.Incoming("node-a.test", "s1m7", 1, "s1", 3, False, {"sha256": "ab" * 32})
    assert inc == want and vars(inc) == vars(want)
    newer = records_store.frozen(records_store.Newer, record=inc, row_id=None, old_local=7)
    assert vars(newer) == vars(records_store.Newer(want, None, 7))
    stored = records_store.frozen(
        records_store.StoredRecord,
        origin="o",
        origin_id="s1",
        kind=0,
        series_key="s1",
        version=1,
        deleted=True,
        payload=None,
        log_seq=4,
        local_id=None,
        hidden=False,
    )
    assert vars(stored) == vars(
        records_store.StoredRecord("o", "s1", 0, "s1", 1, True, None, 4, None)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.version = 4  # type: ignore[misc]


def test_frozen_refuses_a_missing_field() -> None:
    """A field added later with a default must not be silently left unset."""
    with pytest.raises(TypeError, match="StoredRecord has 10 fields, 9 given"):
        records_store.frozen(
            records_store.StoredRecord,
            origin="o",
            origin_id="s1",
            kind=0,
            series_key="s1",
            version=1,
            deleted=True,
            payload=None,
            log_seq=4,
            local_id=None,
        )


def _fields(m: remote_media_store.MediaInput) -> dict[str, object]:
    names = ("kind", "md5", "pdq", "series", "sha1", "sha256", "source_id", "ident")
    return {n: getattr(m, n) for n in names} | {"identity": m.identity()}


def test_media_inputs_made_ahead_are_what_the_import_is_given() -> None:
    """The read-ahead's ``media_inputs`` (made before the series name is known) are,
    once named, the inputs ``apply_remote_media`` builds itself; deletions and series
    records get none."""
    p = {"sha256": "ab" * 32, "md5": "cd" * 16, "pdq": "ef" * 32, "kind": "image"}
    live = records_store.Incoming("node-a.test", "s1m7", 1, "s1", 3, False, p)
    gone = records_store.Incoming("node-a.test", "s1m8", 1, "s1", 3, True, None)
    series = records_store.Incoming("node-a.test", "s1", 0, "s1", 1, False, {"level": "hash"})
    made = remote_media_store.media_inputs([live, gone, series])
    assert set(made) == {id(live)}
    m = made[id(live)]
    assert m.series is None
    m.series = "S @node-a.test"
    want = remote_media_store.MediaInput("S @node-a.test", "node-a.test/s1m7", p)
    assert _fields(m) == _fields(want)
    assert m.identity() == [("sha256", "ab" * 32), ("md5", "cd" * 16), ("pdq", "ef" * 32)]
