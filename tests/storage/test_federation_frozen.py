"""``storage.federation.frozen``: the records a full pull makes per received record,
built without the frozen dataclass's ``__init__``, are the constructor's."""

from __future__ import annotations

import dataclasses

import pytest

from tessera.storage import federation as store


def test_frozen_gives_the_constructors_instance() -> None:
    inc = store.frozen(
        store.Incoming,
        origin="node-a.test",
        origin_id="s1m7",
        kind=1,
        series_key="s1",
        version=3,
        deleted=False,
        payload={"sha256": "ab" * 32},
    )
    want = store.Incoming("node-a.test", "s1m7", 1, "s1", 3, False, {"sha256": "ab" * 32})
    assert inc == want and vars(inc) == vars(want)
    newer = store.frozen(store.Newer, record=inc, row_id=None, old_local=7)
    assert vars(newer) == vars(store.Newer(want, None, 7))
    stored = store.frozen(
        store.StoredRecord,
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
    assert vars(stored) == vars(store.StoredRecord("o", "s1", 0, "s1", 1, True, None, 4, None))
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.version = 4  # type: ignore[misc]


def test_frozen_refuses_a_missing_field() -> None:
    """A field added later with a default must not be silently left unset."""
    with pytest.raises(TypeError, match="StoredRecord has 10 fields, 9 given"):
        store.frozen(
            store.StoredRecord,
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
