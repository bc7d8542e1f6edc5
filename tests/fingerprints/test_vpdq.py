"""vPDQ: exchange forms, matching semantics, and the ThreatExchange expected values."""

from __future__ import annotations

import csv
import itertools
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidInput
from tessera.fingerprints.vpdq import (
    FrameHash,
    MatchPct,
    dumps,
    format_line,
    from_pytx_json,
    hash_frames,
    loads,
    match,
    to_pytx_json,
    within,
)

# --- strategies -----------------------------------------------------------------------

frame_hashes = st.builds(
    FrameHash,
    frame_number=st.integers(0, 10**7),
    quality=st.integers(0, 100),
    pdq=st.binary(min_size=32, max_size=32),
    # timestamps written with 3 decimals: generate values that survive that exactly
    timestamp=st.integers(0, 10**8).map(lambda ms: ms / 1000),
)


def _fh(n: int, pdq: bytes, quality: int = 100) -> FrameHash:
    return FrameHash(n, quality, pdq, n / 30)


def _flip(pdq: bytes, bits: int, offset: int = 0) -> bytes:
    v = int.from_bytes(pdq, "big")
    for b in range(offset, offset + bits):
        v ^= 1 << b
    return v.to_bytes(32, "big")


# --- text and JSON --------------------------------------------------------------------


def test_line_format_is_upstreams() -> None:
    h = FrameHash(2, 100, bytes.fromhex("c0" * 32), 2 / 30)
    assert format_line(h) == f"2,100,{'c0' * 32},0.067"


@given(st.lists(frame_hashes, max_size=20))
def test_text_round_trip(hashes: list[FrameHash]) -> None:
    text = dumps(hashes)
    assert loads(text) == hashes
    assert dumps(loads(text)) == text


@given(st.lists(frame_hashes, max_size=20))
def test_pytx_json_round_trip(hashes: list[FrameHash]) -> None:
    text = to_pytx_json(hashes)
    back = from_pytx_json(text)
    assert [(h.pdq, h.quality, h.timestamp) for h in back] == [
        (h.pdq, h.quality, h.timestamp) for h in hashes
    ]
    assert [h.frame_number for h in back] == list(range(len(hashes)))
    assert to_pytx_json(back) == text


def test_pytx_json_shape() -> None:
    h = FrameHash(0, 87, bytes(range(32)), 1.5)
    assert json.loads(to_pytx_json([h])) == [f"{bytes(range(32)).hex()},87,1.500"]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("0,100,{h},0.000\n1,100,{h}\n", 2, "4 comma-separated"),
        ("0,100,{h},0.000\n\n1,101,{h},0.033\n", 3, "quality"),
        ("x,100,{h},0.000\n", 1, "frame number"),
        ("0,100,{h}zz,0.000\n", 1, "64 hex"),
        ("0,100,{h},-1\n", 1, "timestamp"),
        ("0,100,{h},nan\n", 1, "timestamp"),
        ("0,100,{h},0.000\n0,100,{h},0.000\n5,-3,{h},0.1\n", 3, "quality"),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(InvalidInput) as ei:
        loads(text.format(h="ab" * 32))
    assert f"line {line}:" in str(ei.value)
    assert what in str(ei.value)
    assert ei.value.reason == "invalid-vpdq"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{", "does not parse"),
        ('{"a": 1}', "list"),
        (f'["{"ab" * 32},100,0.0", 7]', "line 2:"),
        (f'["{"ab" * 32},100,0.0", "{"ab" * 32},100"]', "line 2:"),
        (f'["{"ab" * 31},100,0.0"]', "line 1:"),
    ],
)
def test_json_errors(text: str, where: str) -> None:
    with pytest.raises(InvalidInput) as ei:
        from_pytx_json(text)
    assert where in str(ei.value)


def test_frame_hash_validates() -> None:
    with pytest.raises(InvalidInput):
        FrameHash(0, 100, bytes(31), 0.0)
    with pytest.raises(InvalidInput):
        FrameHash(0, 101, bytes(32), 0.0)
    with pytest.raises(InvalidInput):
        FrameHash(-1, 100, bytes(32), 0.0)
    with pytest.raises(InvalidInput):
        FrameHash(0, 100, bytes(32), float("inf"))


# --- matching semantics ---------------------------------------------------------------


def test_distance_31_matches_in_pytx_not_in_cpp() -> None:
    a = bytes(32)
    q = [_fh(0, a)]
    c = [_fh(0, _flip(a, 31))]
    assert match(q, c, semantics="pytx") == MatchPct(100.0, 100.0)
    assert match(q, c, semantics="cpp") == MatchPct(0.0, 0.0)
    c30 = [_fh(0, _flip(a, 30))]
    assert match(q, c30, semantics="cpp") == MatchPct(100.0, 100.0)
    c32 = [_fh(0, _flip(a, 32))]
    assert match(q, c32, semantics="pytx") == MatchPct(0.0, 0.0)


def test_pytx_deduplicates_cpp_does_not() -> None:
    a, b = bytes(32), b"\xff" * 32
    q = [_fh(0, a), _fh(1, a), _fh(2, a), _fh(3, b)]  # 3 x a, 1 x b
    c = [_fh(0, a)]
    assert match(q, c, semantics="cpp").query_pct == 75.0
    assert match(q, c, semantics="pytx").query_pct == 50.0  # unique {a, b}: a matches


def test_quality_filter_both_sides() -> None:
    a = bytes(32)
    q = [_fh(0, a, quality=49), _fh(1, _flip(a, 200), quality=50)]
    c = [_fh(0, a), _fh(1, _flip(a, 200), quality=10)]
    for sem in ("pytx", "cpp"):
        m = match(q, c, semantics=sem)  # type: ignore[arg-type]
        assert m == MatchPct(0.0, 0.0)
        assert match(q, c, quality=0, semantics=sem) == MatchPct(100.0, 100.0)  # type: ignore[arg-type]


def test_empty_sides_are_zero() -> None:
    assert match([], []) == MatchPct(0.0, 0.0)
    assert match([_fh(0, bytes(32))], []) == MatchPct(0.0, 0.0)


def test_is_match_thresholds() -> None:
    assert MatchPct(80.0, 0.0).is_match()
    assert not MatchPct(79.9, 100.0).is_match()


@settings(max_examples=60)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=12),
    st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=12),
    st.integers(0, 256),
)
def test_within_equals_brute_force(a: list[bytes], b: list[bytes], limit: int) -> None:
    def words(xs: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(xs), dtype=">u8").astype(np.uint64).reshape(-1, 4)

    def dist(x: bytes, y: bytes) -> int:
        return (int.from_bytes(x, "big") ^ int.from_bytes(y, "big")).bit_count()

    ha, hb = within(words(a), words(b), limit)
    assert ha.tolist() == [any(dist(x, y) <= limit for y in b) for x in a]
    assert hb.tolist() == [any(dist(x, y) <= limit for x in a) for y in b]


def test_hash_frames_sorts_and_accepts_tuples() -> None:
    rng = np.random.default_rng(0)
    frames = [(n, n / 30, rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)) for n in (3, 1, 2)]
    out = hash_frames(frames)
    assert [h.frame_number for h in out] == [1, 2, 3]
    assert all(h.quality > 0 and len(h.pdq) == 32 for h in out)
    grey = hash_frames([(0, 0.0, frames[0][2][:, :, 0])])
    assert len(grey) == 1


# --- ThreatExchange vectors -----------------------------------------------------------


@cache
def _sample(vectors: Path, name: str) -> list[FrameHash]:
    return loads((vectors / "vpdq" / "sample-hashes" / f"{name}.txt").read_text())


def test_sample_hash_files_round_trip_byte_exact(vectors_dir: Path) -> None:
    files = sorted((vectors_dir / "vpdq" / "sample-hashes").glob("*.txt"))
    assert len(files) == 31
    for f in files:
        text = f.read_text()
        hashes = loads(text)
        assert hashes, f.name
        assert dumps(hashes) == text.replace("\r\n", "\n"), f.name


@pytest.mark.parametrize("sampling", ["every_frame", "every_30th_frame"])
def test_pairwise_match_pct_reproduced_exactly(vectors_dir: Path, sampling: str) -> None:
    """Every row of ``pairwise_match_pct.csv``, both semantics, to the printed 2 decimals."""
    rows = [
        r
        for r in csv.DictReader(
            (vectors_dir / "vpdq" / "expected" / "pairwise_match_pct.csv").open()
        )
        if r["sampling"] == sampling
    ]
    assert len(rows) == 240

    def get(name: str) -> list[FrameHash]:
        hashes = _sample(vectors_dir, name)
        if sampling == "every_30th_frame":
            return [h for h in hashes if h.frame_number % 30 == 0]
        return hashes

    mismatches = []
    for r in rows:
        q, c = get(r["query"]), get(r["compared"])
        for sem in ("cpp", "pytx"):
            m = match(q, c, semantics=sem)  # type: ignore[arg-type]
            got = (f"{m.query_pct:.2f}", f"{m.compared_pct:.2f}")
            want = (r[f"{sem}_query_pct"], r[f"{sem}_compared_pct"])
            if got != want:
                mismatches.append((r["query"], r["compared"], sem, got, want))
    assert mismatches == []


def test_pr_1087_figure(vectors_dir: Path) -> None:
    """PR #1087: chair-20 queried against an index of chair-19 matches 92.763 %."""
    m = match(_sample(vectors_dir, "chair-20-sd-bar"), _sample(vectors_dir, "chair-19-sd-bar"))
    assert round(m.query_pct, 3) == 92.763


def test_chair_1fps_expected_is_every_30th_line(vectors_dir: Path) -> None:
    expected = loads(
        (vectors_dir / "vpdq" / "expected" / "chair-20-sd-bar_1fps_pytx.txt").read_text()
    )
    every = [h for h in _sample(vectors_dir, "chair-20-sd-bar") if h.frame_number % 30 == 0]
    assert expected == every


def test_match_is_symmetric_in_roles(vectors_dir: Path) -> None:
    names = ["chair-19-sd-bar", "chair-20-sd-bar", "pattern-hd-no-bar"]
    for a, b in itertools.permutations(names, 2):
        ab = match(_sample(vectors_dir, a), _sample(vectors_dir, b))
        ba = match(_sample(vectors_dir, b), _sample(vectors_dir, a))
        assert (ab.query_pct, ab.compared_pct) == (ba.compared_pct, ba.query_pct)
