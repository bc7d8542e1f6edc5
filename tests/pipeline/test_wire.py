"""Results from cluster workers travel as MessagePack plain values: exact round trips,
and anything that is not a well-typed result is refused (never unpickled)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tessera.errors import InvalidInput
from tessera.fingerprints.vpdq import FrameHash
from tessera.pipeline.expand import expand_path
from tessera.pipeline.options import ExpandOptions, HashOptions
from tessera.pipeline.result import FileResult
from tessera.pipeline.wire import HANDLED, decode, encode

_text = st.text(max_size=20)
_opt_text = st.none() | _text
_opt_int = st.none() | st.integers(min_value=0, max_value=2**40)
_float = st.floats(allow_nan=False, allow_infinity=False, min_value=0, max_value=1e6)
_frames = st.lists(
    st.builds(
        FrameHash,
        st.integers(min_value=0, max_value=10**6),
        st.integers(min_value=0, max_value=100),
        st.binary(min_size=32, max_size=32),
        _float,
    ),
    max_size=3,
).map(tuple)
_words = st.lists(
    st.tuples(
        st.integers(0, 5000),
        st.integers(0, 5000),
        st.integers(0, 500),
        st.integers(0, 500),
        _text,
        st.floats(0, 100),
    ),
    max_size=3,
).map(tuple)
_metadata = st.dictionaries(
    _text, st.none() | st.integers(-(2**40), 2**40) | _text | st.lists(_text, max_size=2)
)

results = st.builds(
    FileResult,
    path=_text,
    status=st.sampled_from(["ok", "error", "skipped"]),
    size=_opt_int,
    md5=_opt_text,
    sha256=_opt_text,
    pdq=_opt_text,
    quality=_opt_int,
    width=_opt_int,
    height=_opt_int,
    flags=st.lists(_text, max_size=3).map(tuple),
    reason=_opt_text,
    dihedral=st.none() | st.dictionaries(_text, _text, max_size=3),
    kind=_opt_text,
    duration=st.none() | _float,
    frames=st.none() | _frames,
    crop=st.none() | st.tuples(*(st.integers(0, 9999) for _ in range(4))),
    features=st.none() | st.binary(max_size=64),
    frame_features=st.none() | st.lists(st.tuples(_float, st.binary(max_size=16))).map(tuple),
    metadata=st.none() | _metadata,
    text=st.none() | _words,
)


@given(st.lists(results, max_size=4))
@settings(max_examples=60, deadline=None)
def test_round_trip_is_exact(rs: list[FileResult]) -> None:
    assert decode(encode(rs)) == rs


def test_real_results_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    pic = tmp_path / "p.jpg"
    Image.fromarray(np.kron(blocks, np.ones((20, 20, 1), np.uint8))).save(pic, quality=92)
    options = ExpandOptions(
        hash=HashOptions(features=True, features_mirrored=True, metadata=True, dihedral=True)
    )
    got = expand_path(pic, options=options)
    assert got[0].features and got[0].metadata is not None and got[0].dihedral
    assert decode(encode(got)) == got


@pytest.mark.parametrize(
    "payload",
    [
        {"format": 1, "results": [{"path": "a", "status": "ok", "evil": 1}]},  # unknown field
        {"format": 1, "results": [{"path": "a", "status": "maybe"}]},
        {"format": 1, "results": [{"path": 3, "status": "ok"}]},
        {"format": 1, "results": [{"path": "a", "status": "ok", "size": "big"}]},
        {"format": 1, "results": [{"path": "a", "status": "ok", "crop": [1, 2]}]},
        {"format": 1, "results": [{"path": "a", "status": "ok", "frames": [[0, 50, b"x", 0]]}]},
        {"format": 1, "results": [{"status": "ok"}]},
        {"format": 2, "results": []},
        [1, 2, 3],
    ],
)
def test_malformed_results_are_refused(payload: object) -> None:
    with pytest.raises(InvalidInput):
        decode(msgpack.packb(payload, use_bin_type=True))


def test_every_result_field_is_carried() -> None:
    assert {f.name for f in dataclasses.fields(FileResult)} <= HANDLED


def test_a_pickle_is_refused_not_loaded() -> None:
    with pytest.raises(InvalidInput):
        decode(pickle.dumps([FileResult("a", "ok")]))
