"""Signed federation bundles: what is written reads back, and nothing altered passes.

Properties (hypothesis): any set of records round-trips; flipping any single byte
of a signed bundle, or signing with another key, is rejected whole with a
``DeltaError``; records of another origin cannot ride in a node's delta.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.audit.note import Signer
from tessera.exchange import delta
from tessera.exchange.delta import MEDIA, SERIES, DeltaError, WireRecord

NODE = Signer.generate("node-a.test")
OTHER = Signer.generate("node-a.test")  # same name, another key: an impostor

hexs = st.integers(0, 2**256 - 1).map(lambda n: f"{n:064x}")
ids = st.integers(1, 10**6)


@st.composite
def records(draw: st.DrawFn) -> tuple[list[WireRecord], list[WireRecord]]:
    n_series = draw(st.integers(1, 3))
    series = []
    media = []
    for i in range(n_series):
        key = f"s{i + 1}"
        level = draw(st.sampled_from(["hash", "status", "full"]))
        if draw(st.booleans()):
            payload: dict[str, object] = {
                "level": level,
                "owner": {"code": "NL-A", "country": "NL", "contact": "vid@a.example"},
            }
            if level != "hash":
                payload["name"] = draw(
                    st.text(min_size=1, max_size=30).filter(
                        lambda t: all(ord(c) >= 0x20 for c in t)
                    )
                )
                payload["victim_identified"] = draw(st.booleans())
            series.append(WireRecord("node-a.test", key, SERIES, key, draw(ids), False, payload))
        else:
            series.append(WireRecord("node-a.test", key, SERIES, key, draw(ids), True, None))
        for m in draw(st.lists(ids, max_size=5, unique=True)):
            if draw(st.booleans()):
                h = {"sha256": draw(hexs)}
                if draw(st.booleans()):
                    h["pdq"] = draw(hexs)
                media.append(
                    WireRecord("node-a.test", f"{key}m{m}", MEDIA, key, draw(ids), False, h)
                )
            else:
                media.append(WireRecord("node-a.test", f"{key}m{m}", MEDIA, key, draw(ids), True))
    return series, media


def _trust(origin: str) -> object:
    return NODE.verifier if origin == NODE.name else None


@settings(max_examples=60, deadline=None)
@given(records())
def test_round_trip(recs: tuple[list[WireRecord], list[WireRecord]]) -> None:
    series, media = recs
    data = delta.write("federation-delta", NODE, series, media, header={"delta_no": 3})
    b = delta.read(data, _trust)  # type: ignore[arg-type]
    assert list(b.series) == series
    assert list(b.records) == media
    assert b.header["delta_no"] == 3
    assert b.sha256 == hashlib.sha256(data).hexdigest()
    # deterministic: a resent delta is byte for byte the same
    assert delta.write("federation-delta", NODE, series, media, header={"delta_no": 3}) == data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.data())
def test_any_flipped_byte_is_rejected(
    recs: tuple[list[WireRecord], list[WireRecord]], data: st.DataObject
) -> None:
    series, media = recs
    good = delta.write("federation-delta", NODE, series, media, header={"delta_no": 1})
    i = data.draw(st.integers(0, len(good) - 1))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(good)
    bad[i] ^= 1 << bit
    with pytest.raises(DeltaError):
        delta.read(bytes(bad), _trust)  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(records())
def test_another_key_is_rejected(recs: tuple[list[WireRecord], list[WireRecord]]) -> None:
    series, media = recs
    forged = delta.write("federation-delta", OTHER, series, media, header={"delta_no": 1})
    with pytest.raises(DeltaError, match="signature"):
        delta.read(forged, _trust)  # type: ignore[arg-type]


def test_a_delta_cannot_carry_another_origins_record() -> None:
    theirs = WireRecord("node-b.test", "s1", SERIES, "s1", 1, True)
    with pytest.raises(DeltaError, match=r"node-b\.test"):
        delta.write("federation-delta", NODE, [theirs], [])


def test_reasons_name_the_problem() -> None:
    s1 = WireRecord(
        "node-a.test",
        "s1",
        SERIES,
        "s1",
        1,
        False,
        {"level": "status", "owner": {"code": "A"}, "name": "x"},
    )
    m1 = WireRecord("node-a.test", "s1m1", MEDIA, "s1", 1, False, {"sha256": "ab" * 32})
    good = delta.write("federation-delta", NODE, [s1], [m1])
    truncated = good[: good.rfind(b'{"signature"')]
    with pytest.raises(DeltaError, match=r"not signed|truncated"):
        delta.read(truncated, _trust)  # type: ignore[arg-type]
    with pytest.raises(DeltaError, match="not a known peer"):
        delta.read(good, lambda o: None)
    # a record line replaced by another valid one, manifest untouched: checksum
    lines = good.split(b"\n")
    lines[2] = lines[2].replace(b"ab" * 32, b"cd" * 32)
    with pytest.raises(DeltaError, match="SHA-256 differs"):
        delta.read(b"\n".join(lines), _trust)  # type: ignore[arg-type]


def test_split_bundles_of_a_file() -> None:
    s1 = WireRecord("node-a.test", "s1", SERIES, "s1", 1, True)
    a = delta.write("federation-delta", NODE, [s1], [], header={"delta_no": 1})
    b = delta.write("federation-delta", NODE, [s1], [], header={"delta_no": 2})
    assert delta.split_bundles(a + b) == [a, b]


HUB = Signer.generate("hub.test")


def _feed(lines: list[bytes]) -> bytes:
    """A hub's feed of these part lines (records only), signed as ``write`` signs."""
    head = delta._dumps({"kind": "federation-feed", "origin": HUB.name, "tessera_bundle": 1})
    first = (head + "\n").encode()
    h = hashlib.sha256(b"".join(lines)).hexdigest()
    empty = {"count": 0, "sha256": hashlib.sha256().hexdigest()}
    parts = {p: dict(empty) for p in delta.PARTS}
    parts["records"] = {"count": len(lines), "sha256": h}
    manifest = {"header_sha256": hashlib.sha256(first).hexdigest(), "parts": parts}
    mline = (delta._dumps({"manifest": manifest}) + "\n").encode()
    note = delta.sign_note(delta.manifest_note_text("federation-feed", HUB.name, mline), HUB)
    sig = (delta._dumps({"signature": note}) + "\n").encode()
    return first + b"".join(lines) + mline + sig


def test_a_feed_record_arrives_as_the_bytes_its_origin_signed() -> None:
    """A feed names each record's origin beside it, so the node finds the origin's
    signed record digest from the bytes as they arrived (no re-serialising); a line
    written the earlier way (origin inside the record) still reads, and its digest
    is then the canonical one."""
    salted = {"sha256": "ab" * 32, "n": "cd" * 16}
    r = WireRecord("node-a.test", "s1m7", MEDIA, "s1", 3, False, salted)
    page = delta.write("federation-feed", HUB, [], [r])
    line = next(x for x in page.split(b"\n") if b'"part":"records"' in x)
    assert line.startswith(b'{"o":"node-a.test","part":"records","r":{')
    got = delta.read(page, lambda o: HUB.verifier).records[0]
    signed = hashlib.sha256(delta._dumps(r.to_wire(with_origin=False)).encode()).hexdigest()
    assert got.arrived_as == signed[: delta.DIGEST_HEX] == delta.record_digest(got)
    assert got.origin == "node-a.test" and got.payload == {"sha256": "ab" * 32}
    old = b'{"part":"records","r":' + delta._dumps(r.to_wire(with_origin=True)).encode() + b"}\n"
    earlier = delta.read(_feed([old]), lambda o: HUB.verifier).records[0]
    assert earlier.arrived_as is None and earlier.origin == "node-a.test"
    assert delta.record_digest(earlier) == got.arrived_as
    both = old.replace(b'{"part"', b'{"o":"node-b.test","part"')
    with pytest.raises(DeltaError, match="names its origin twice"):
        delta.read(_feed([both]), lambda o: HUB.verifier)


_flat_values = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789abcdef", max_size=64),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=6), _flat_values, max_size=9))
def test_canonical_bytes_are_the_json_ones(wire: dict[str, object]) -> None:
    """The fast writer of a record's canonical bytes (orjson for flat printable-ASCII
    records) gives exactly what ``json.dumps`` sorted and compact gives, for any keys
    and values (escapes, non-ASCII, floats, NaN, integers past 64 bits, nesting fall
    back): the origin's signed digest is over these bytes."""
    assert delta.canonical(wire) == delta._dumps(wire).encode()


def test_canonical_bytes_of_awkward_flat_records() -> None:
    for wire in (
        {"id": "s1m1", "s": "s1", "v": 2**63, "sha256": "ab" * 32},
        {"id": 'q"uote', "v": 1},
        {"id": "back\\slash", "v": 1},
        {"id": "tab\there", "v": 1},
        {"id": "\x7f", "v": 1},
        {"id": "é", "v": -1, "d": True},
        {"b": 1, "B": 2, "a_": 3, "a": 4, "~": 5, " ": 6},
    ):
        assert delta.canonical(wire) == delta._dumps(wire).encode(), wire
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate: as json's text would
        delta.canonical({"x": "\ud800"})


def test_a_received_record_is_the_one_the_constructor_makes() -> None:
    """``read`` builds live records without the frozen dataclass's ``__init__``: every
    field (those left out of comparisons too) as the constructor sets it, and still
    frozen."""
    import dataclasses

    payload = {"sha256": "ab" * 32, "kind": "image"}
    got = delta._received(
        "node-a.test", "s1m7", MEDIA, "s1", 3, payload=payload, salt="cd" * 16, arrived_as="ef"
    )
    want = WireRecord(
        "node-a.test", "s1m7", MEDIA, "s1", 3, False, payload, "cd" * 16, arrived_as="ef"
    )
    assert got == want and vars(got) == vars(want)
    assert set(vars(got)) == {f.name for f in dataclasses.fields(WireRecord)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.version = 4  # type: ignore[misc]
    page = delta.write("federation-feed", HUB, [], [dataclasses.replace(want, arrived_as=None)])
    read = delta.read(page, lambda o: HUB.verifier).records[0]
    assert vars(read) == {**vars(want), "arrived_as": delta.record_digest(want)}


def test_a_salt_must_be_exactly_its_hex_digits() -> None:
    for salt in ("ab" * 15 + "a\n", "AB" * 16, "ab" * 17, 7):
        r = WireRecord("node-a.test", "s1m7", MEDIA, "s1", 3, False, {"sha256": "ab" * 32})
        line = {"o": "node-a.test", "part": "records", "r": {**r.to_wire(with_origin=False)}}
        line["r"]["n"] = salt
        raw = (delta._dumps(line) + "\n").encode()
        with pytest.raises(DeltaError, match="salt must be 32 hex digits"):
            delta.read(_feed([raw]), lambda o: HUB.verifier)
