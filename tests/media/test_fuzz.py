"""Property-based fuzzing of the decoder front and the metadata parsers (issue 10, item 5).

Inputs are valid seed files of every sniffed format (and metadata blocks) mutated by
hypothesis: byte flips, inserted and deleted runs, truncation, header sizes patched.
The properties are the contract of ``tessera.media``: ``sniff`` never raises;
``decode_image`` either returns pixels consistent with its header and limits or raises
a ``MediaError`` (never another exception); metadata extraction never raises for bad
metadata and returns plain, bounded values; the XMP parser never expands an entity.

CI runs a bounded number of examples (``TESSERA_FUZZ_EXAMPLES``, default 40 per
target); ``scripts/fuzz.sh`` runs the same targets for longer. Findings become
regression tests in ``test_decode_hostile.py`` / ``test_metadata.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tessera.errors import MediaError
from tessera.media.decode import DecodeLimits, decode_image, png_critical_chunks
from tessera.media.metadata import MAX_TEXT, extract_metadata, parse_xmp
from tessera.media.sniff import sniff

EXAMPLES = int(os.environ.get("TESSERA_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 40,  # CI: the same examples every run; longer runs explore
)
LIMITS = DecodeLimits(max_pixels=4_000_000, max_bytes=1 << 20, max_memory=64 << 20)


def _encode(fmt: str, mode: str = "RGB", **kw: object) -> bytes:
    rng = np.random.default_rng(len(fmt) + len(mode))
    arr = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, fmt, **kw)
    return buf.getvalue()


def _with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Make"
    exif[0x0110] = "Model"
    exif.get_ifd(0x8769)[0x9003] = "2021:05:01 14:30:15"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 1.0, 2.0), "E", (4.0, 5.0, 6.0)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


SEEDS = [
    _encode("JPEG", quality=80),
    _encode("JPEG", progressive=True),
    _encode("JPEG", "CMYK"),
    _encode("PNG"),
    _encode("PNG", "RGBA"),
    _encode("PNG", "P"),
    _encode("GIF", "P"),
    _encode("WEBP", quality=70),
    _encode("BMP"),
    _encode("TIFF"),
    _encode("TIFF", compression="tiff_lzw"),
    _with_exif(),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "size"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[max(1, pos) :]
        elif op == "size" and len(data) > 30:  # a big number where a header size may be
            data[pos : pos + 4] = struct.pack(">I", draw(st.integers(0, 1 << 31)))
    return bytes(data)


@FUZZ
@given(mutated())
def test_decoder_front_never_raises_anything_but_media_errors(data: bytes) -> None:
    sniff(data[:512])  # never raises
    for fast in (True, False):
        try:
            d = decode_image(data, fast=fast, limits=LIMITS)
        except MediaError as exc:
            assert exc.reason and exc.message
            continue
        assert d.rgb.dtype == np.uint8 and d.rgb.ndim == 3 and d.rgb.shape[2] == 3
        assert d.width * d.height <= LIMITS.max_pixels
        h, w = d.full_shape
        assert {h, w} == {d.height, d.width}  # orientation may swap them
        assert d.rgb.shape[0] <= h and d.rgb.shape[1] <= w


@FUZZ
@given(st.binary(max_size=2048))
def test_sniff_and_decode_of_random_bytes(data: bytes) -> None:
    sniff(data)
    with contextlib.suppress(MediaError):
        decode_image(data, limits=LIMITS)


@FUZZ
@given(mutated())
def test_png_critical_chunks_is_total_and_idempotent(data: bytes) -> None:
    once = png_critical_chunks(data)
    assert png_critical_chunks(once) == once
    assert len(once) <= len(data)


def _assert_plain(value: object) -> None:
    json.dumps(value)
    if isinstance(value, dict):
        for v in value.values():
            _assert_plain(v)
    if isinstance(value, str):
        assert len(value) <= MAX_TEXT


@FUZZ
@given(mutated())
def test_metadata_extraction_never_raises_for_bad_metadata(data: bytes) -> None:
    try:
        m = extract_metadata(data)
    except MediaError:
        return  # not an image at all: that is the only refusal allowed
    _assert_plain(m.as_dict())
    if m.latitude is not None:
        assert -90 <= m.latitude <= 90


_XMP_PARTS = [
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '<rdf:Description xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" aux:SerialNumber="&b;">',
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<!ENTITY c SYSTEM "file:///etc/passwd">',
    "&c;",
    "&b;",
    "</rdf:Description></rdf:RDF></x:xmpmeta>",
    '<?xml version="1.0" encoding="UTF-16"?>',
    "<![CDATA[x]]>",
]


@FUZZ
@given(
    st.lists(st.sampled_from(_XMP_PARTS), max_size=8),
    st.sampled_from(["utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1"]),
)
def test_xmp_parser_never_expands_an_entity(parts: list[str], encoding: str) -> None:
    packet = "".join(parts).encode(encoding, "replace")
    out = parse_xmp(packet)
    assert all(isinstance(v, str) and "aaaaaaaaaa" not in v for v in out.values())
    assert all("root:" not in v for v in out.values())


def _png_with_chunk(ctype: bytes, body: bytes) -> bytes:
    base = _encode("PNG")
    chunk = (
        struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))
    )
    return base[:33] + chunk + base[33:]


@FUZZ
@given(
    st.sampled_from([b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"eXIf", b"sPLT", b"pHYs", b"tIME"]),
    st.binary(max_size=300),
)
def test_any_ancillary_png_chunk_never_costs_the_pixels(ctype: bytes, body: bytes) -> None:
    clean = decode_image(_encode("PNG"), limits=LIMITS).rgb
    got = decode_image(_png_with_chunk(ctype, body), limits=LIMITS).rgb
    np.testing.assert_array_equal(got, clean)
