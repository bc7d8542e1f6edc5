"""``tessera.fingerprints.value``: the self-describing fingerprint value and its metric.

Independent sides used here: payload sizes from the algorithm definitions (PDQ 256
bits, MD5 128, SHA-1 160, SHA-256 256) and a popcount written with Python ints and
``bin(x).count("1")``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera.errors import InvalidFingerprint, InvalidInput, TesseraError
from tessera.fingerprints.value import ALGORITHMS, Fingerprint, distance

PAYLOAD_BYTES = {"pdq": 32, "md5": 16, "sha1": 20, "sha256": 32}
DIGESTS = ("md5", "sha1", "sha256")


def payloads(algorithm: str) -> st.SearchStrategy[bytes]:
    n = PAYLOAD_BYTES[algorithm]
    return st.binary(min_size=n, max_size=n)


def pdq(payload: bytes) -> Fingerprint:
    return Fingerprint("pdq", 1, payload)


def popcount_xor(a: bytes, b: bytes) -> int:
    """Hamming distance, computed independently of the code under test."""
    return bin(int(a.hex(), 16) ^ int(b.hex(), 16)).count("1")


# --- the text form ---------------------------------------------------------------


def test_algorithm_table_matches_the_definitions() -> None:
    """The registry declares the payload sizes, versions and metric ranges of each algorithm."""
    assert {n: a.payload_bytes for n, a in ALGORITHMS.items()} == PAYLOAD_BYTES
    assert all(a.version == 1 for a in ALGORITHMS.values())
    assert ALGORITHMS["pdq"].max_distance == 256
    assert all(ALGORITHMS[d].max_distance == 1 for d in DIGESTS)


@given(data=st.data(), algorithm=st.sampled_from(sorted(PAYLOAD_BYTES)))
def test_text_form_round_trips(data: st.DataObject, algorithm: str) -> None:
    """``str()`` is ``alg:version:lowercase-hex`` and ``parse`` gives back an equal value."""
    payload = data.draw(payloads(algorithm))
    fp = Fingerprint(algorithm, 1, payload)
    text = str(fp)
    assert text == f"{algorithm}:1:{payload.hex()}"
    assert fp.hex == payload.hex()
    back = Fingerprint.parse(text)
    assert back == fp
    assert back.payload == payload
    assert hash(back) == hash(fp)
    # Upper-case hex and surrounding whitespace (a line read from a file) are accepted.
    assert Fingerprint.parse(f"  {algorithm}:1:{payload.hex().upper()}\n") == fp


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("pdq", id="one-part"),
        pytest.param("pdq:" + "00" * 32, id="two-parts"),
        pytest.param("pdq:1:" + "00" * 32 + ":", id="four-parts-trailing-colon"),
        pytest.param("pdq:1:" + "00" * 16 + ":" + "00" * 16, id="four-parts"),
        pytest.param("pdq:1:" + "0g" * 32, id="non-hex-g"),
        pytest.param("pdq:1:0x" + "00" * 31, id="non-hex-0x-prefix"),
        pytest.param("pdq:1:" + "00" * 16 + " " + "00" * 16, id="non-hex-inner-space"),
        pytest.param("pdq:1:" + "-0" * 32, id="non-hex-sign"),
        pytest.param("pdq:1:", id="empty-payload"),
        pytest.param("pdq:1:" + "0" * 63, id="odd-hex-length"),
        pytest.param("md5:1:" + "a" * 31, id="odd-hex-length-md5"),
        pytest.param("sha512:1:" + "00" * 64, id="unknown-algorithm"),
        pytest.param("PDQ:1:" + "00" * 32, id="algorithm-is-case-sensitive"),
        pytest.param(":1:" + "00" * 32, id="empty-algorithm"),
        pytest.param("pdq:2:" + "00" * 32, id="wrong-version-2"),
        pytest.param("pdq:0:" + "00" * 32, id="wrong-version-0"),
        pytest.param("pdq:v1:" + "00" * 32, id="version-not-a-number"),
        pytest.param("pdq:-1:" + "00" * 32, id="version-negative"),
        pytest.param("pdq::" + "00" * 32, id="version-empty"),
        pytest.param("pdq:1.0:" + "00" * 32, id="version-decimal"),
        pytest.param("pdq:\u00b2:" + "00" * 32, id="version-superscript-digit"),
        pytest.param("pdq:\u0661:" + "00" * 32, id="version-non-ascii-digit"),
        pytest.param("pdq:1:" + "00" * 31, id="pdq-payload-short"),
        pytest.param("pdq:1:" + "00" * 33, id="pdq-payload-long"),
        pytest.param("md5:1:" + "00" * 20, id="md5-payload-sha1-sized"),
        pytest.param("sha1:1:" + "00" * 16, id="sha1-payload-md5-sized"),
        pytest.param("sha256:1:" + "00" * 31, id="sha256-payload-short"),
    ],
)
def test_parse_rejects_malformed_text(text: str) -> None:
    """Every malformed text form raises ``InvalidFingerprint`` (an ``InvalidInput``)."""
    with pytest.raises(InvalidFingerprint) as info:
        Fingerprint.parse(text)
    assert isinstance(info.value, InvalidInput)
    assert info.value.reason == "invalid-fingerprint"


def test_invalid_fingerprint_is_invalid_input() -> None:
    """The error hierarchy puts ``InvalidFingerprint`` under ``InvalidInput`` (exit 2)."""
    assert issubclass(InvalidFingerprint, InvalidInput)
    assert issubclass(InvalidInput, TesseraError)


_TEXT_FORMS = st.one_of(
    st.tuples(
        st.sampled_from(["pdq", "md5", "sha1", "sha256", "PDQ", "", "x"]),
        st.text(alphabet="0123456789-+. v\u00b2\u0661\uff11", max_size=3),
        st.one_of(
            st.binary(max_size=40).map(bytes.hex),
            st.text(alphabet="0123456789abcdefABCDEFgx \n", max_size=70),
        ),
    ).map(":".join),
    st.text(max_size=80),
)


@given(_TEXT_FORMS)
def test_parse_never_raises_anything_but_invalid_fingerprint(text: str) -> None:
    """Arbitrary text either parses to a value that round-trips or raises ``InvalidFingerprint``."""
    try:
        fp = Fingerprint.parse(text)
    except InvalidFingerprint:
        return
    assert Fingerprint.parse(str(fp)) == fp
    assert len(fp.payload) == PAYLOAD_BYTES[fp.algorithm]


@pytest.mark.parametrize(
    ("algorithm", "version", "size"),
    [("pdq", 1, 31), ("pdq", 1, 0), ("md5", 1, 32), ("sha1", 2, 20), ("blake3", 1, 32)],
)
def test_constructor_validates(algorithm: str, version: int, size: int) -> None:
    """Building a value directly checks algorithm, version and payload size too."""
    with pytest.raises(InvalidFingerprint):
        Fingerprint(algorithm, version, bytes(size))


# --- from_hex --------------------------------------------------------------------


@given(payloads("pdq"), st.booleans())
def test_from_hex_accepts_64_hex_pdq_any_case(payload: bytes, upper: bool) -> None:
    """A bare 64-hex PDQ (either case) becomes ``pdq:1`` with exactly those bytes."""
    text = payload.hex().upper() if upper else payload.hex()
    fp = Fingerprint.from_hex("pdq", text)
    assert (fp.algorithm, fp.version, fp.payload) == ("pdq", 1, payload)
    assert fp.hex == payload.hex()
    assert Fingerprint.from_hex("pdq", f" {text}\n") == fp


def test_from_hex_mixed_case() -> None:
    """Mixed-case hex is the same value as lower-case hex."""
    mixed = "F8f8F0cee0F4a84f06370A22038f63f0b36e2ED596621e1d33e6b39c4e9c9B22"
    assert Fingerprint.from_hex("pdq", mixed).hex == mixed.lower()


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256"])
def test_from_hex_digests(algorithm: str) -> None:
    """``from_hex`` also builds digests of their own size, and refuses PDQ-sized text for md5."""
    n = PAYLOAD_BYTES[algorithm]
    fp = Fingerprint.from_hex(algorithm, "ab" * n)
    assert fp.payload == b"\xab" * n
    with pytest.raises(InvalidFingerprint):
        Fingerprint.from_hex(algorithm, "ab" * (n + 1))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("0" * 63, id="63-hex"),
        pytest.param("0" * 65, id="65-hex"),
        pytest.param("00" * 31, id="62-hex"),
        pytest.param("00" * 33, id="66-hex"),
        pytest.param("00" * 16, id="md5-sized"),
        pytest.param("g" + "0" * 63, id="non-hex"),
        pytest.param("0x" + "0" * 62, id="0x-prefix"),
        pytest.param("0" * 32 + " " + "0" * 31, id="inner-space"),
        pytest.param("pdq:1:" + "00" * 32, id="full-text-form"),
    ],
)
def test_from_hex_rejects_malformed_pdq(text: str) -> None:
    """Anything but 64 hex characters is refused for PDQ with ``InvalidFingerprint``."""
    with pytest.raises(InvalidFingerprint):
        Fingerprint.from_hex("pdq", text)


def test_from_hex_unknown_algorithm() -> None:
    """An unknown algorithm name is refused."""
    with pytest.raises(InvalidFingerprint):
        Fingerprint.from_hex("phash", "00" * 8)


# --- distance --------------------------------------------------------------------


@given(payloads("pdq"), payloads("pdq"), payloads("pdq"))
def test_pdq_distance_is_a_metric(a: bytes, b: bytes, c: bytes) -> None:
    """PDQ distance: identity, symmetry, triangle inequality, range 0..256, = popcount(XOR)."""
    x, y, z = pdq(a), pdq(b), pdq(c)
    assert distance(x, x) == 0
    assert distance(x, y) == distance(y, x)
    assert distance(x, z) <= distance(x, y) + distance(y, z)
    assert 0 <= distance(x, y) <= 256
    assert distance(x, y) == popcount_xor(a, b)
    assert (distance(x, y) == 0) == (a == b)


@given(payloads("pdq"), st.sets(st.integers(0, 255), max_size=256))
def test_pdq_distance_counts_flipped_bits(a: bytes, bits: set[int]) -> None:
    """Flipping k distinct bits of a hash gives distance exactly k."""
    value = int.from_bytes(a, "big")
    for k in bits:
        value ^= 1 << k
    b = value.to_bytes(32, "big")
    assert distance(pdq(a), pdq(b)) == len(bits)


def test_pdq_distance_extremes() -> None:
    """All-zero vs all-one is 256; complementary patterns are 256; one bit is 1."""
    zero, ones = pdq(bytes(32)), pdq(b"\xff" * 32)
    assert distance(zero, ones) == 256
    assert distance(pdq(b"\xaa" * 32), pdq(b"\x55" * 32)) == 256
    assert distance(zero, pdq(bytes(31) + b"\x01")) == 1
    assert distance(zero, pdq(b"\x80" + bytes(31))) == 1


@pytest.mark.parametrize("algorithm", DIGESTS)
@given(data=st.data())
def test_digest_distance_is_discrete(algorithm: str, data: st.DataObject) -> None:
    """Exact digests compare as 0 (equal) or 1 (different), however many bits differ."""
    a = data.draw(payloads(algorithm))
    b = data.draw(payloads(algorithm))
    x, y = Fingerprint(algorithm, 1, a), Fingerprint(algorithm, 1, b)
    assert distance(x, x) == 0
    assert distance(x, y) == distance(y, x) == (0 if a == b else 1)
    inverted = Fingerprint(algorithm, 1, bytes(v ^ 0xFF for v in a))
    assert distance(x, inverted) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("pdq", "sha256"), ("sha256", "pdq"), ("md5", "sha1"), ("sha1", "sha256"), ("md5", "pdq")],
)
def test_distance_across_algorithms_is_refused(first: str, second: str) -> None:
    """Comparing fingerprints of different algorithms raises, even at equal payload size."""
    a = Fingerprint(first, 1, bytes(PAYLOAD_BYTES[first]))
    b = Fingerprint(second, 1, bytes(PAYLOAD_BYTES[second]))
    with pytest.raises(InvalidFingerprint):
        distance(a, b)
