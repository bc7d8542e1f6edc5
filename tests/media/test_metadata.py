"""Metadata: generated JPEGs with written (and hostile) EXIF/XMP, shared photos, helpers."""

from __future__ import annotations

import io
import json
import math
import random
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from tessera.errors import EmptyFile, MediaError, UnsupportedMedia
from tessera.media.decode import decode_image
from tessera.media.metadata import (
    MAX_TEXT,
    MediaMetadata,
    extract_metadata,
    gps_clusters,
    haversine_m,
    parse_xmp,
    same_camera,
)


def jpeg(exif: Image.Exif | bytes | None = None, xmp: bytes | None = None) -> bytes:
    im = Image.new("RGB", (32, 24), (120, 130, 140))
    out = io.BytesIO()
    kwargs: dict[str, object] = {}
    if exif is not None:
        kwargs["exif"] = exif if isinstance(exif, bytes) else exif.tobytes()
    if xmp is not None:
        kwargs["xmp"] = xmp
    im.save(out, "JPEG", **kwargs)
    return out.getvalue()


def full_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 60D"
    exif[0x0131] = "Firmware 1.1"
    exif[0x0132] = "2021:05:02 10:00:00"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2021:05:01 14:30:15"
    sub[0x9011] = "-04:30"
    sub[0x9291] = "25"
    sub[0xA431] = "1881102360"
    sub[0xA434] = "EF-S18-135mm f/3.5-5.6 IS"
    sub[0xA435] = "000011a734"
    sub[0xA420] = "ABCDEF0123456789"
    gps = exif.get_ifd(0x8825)
    gps[1] = "S"
    gps[2] = (IFDRational(33, 1), IFDRational(51, 1), IFDRational(3099, 100))
    gps[3] = "W"
    gps[4] = (IFDRational(151, 1), IFDRational(12, 1), IFDRational(3, 10))
    gps[5] = b"\x01"
    gps[6] = IFDRational(125, 10)
    return exif


def test_generated_full_exif() -> None:
    m = extract_metadata(jpeg(full_exif()))
    assert (m.make, m.model, m.software) == ("Canon", "Canon EOS 60D", "Firmware 1.1")
    assert m.body_serial == "1881102360"
    assert (m.lens_model, m.lens_serial) == ("EF-S18-135mm f/3.5-5.6 IS", "000011a734")
    assert m.image_unique_id == "ABCDEF0123456789"
    tz = timezone(-timedelta(hours=4, minutes=30))
    assert m.captured_at == datetime(2021, 5, 1, 14, 30, 15, 250000, tzinfo=tz)
    assert m.captured_at is not None and m.captured_at.utcoffset() is not None
    assert m.latitude == pytest.approx(-(33 + 51 / 60 + 30.99 / 3600))
    assert m.longitude == pytest.approx(-(151 + 12 / 60 + 0.3 / 3600))
    assert m.altitude_m == pytest.approx(-12.5)
    assert m.warnings == ()
    d = m.as_dict()
    assert d["captured_at"] == "2021-05-01T14:30:15.250000-04:30"


def test_naive_time_without_offset_and_dng_serial_fallback() -> None:
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"
    exif[0xC62F] = "  SN 0042  "
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
    m = extract_metadata(jpeg(exif))
    assert m.captured_at == datetime(2020, 1, 2, 3, 4, 5)
    assert m.captured_at.tzinfo is None
    assert m.body_serial == "SN 0042"


def test_no_metadata() -> None:
    m = extract_metadata(jpeg())
    assert m == MediaMetadata()
    assert m.gps is None


def test_not_an_image() -> None:
    with pytest.raises(EmptyFile):
        extract_metadata(b"")
    with pytest.raises(UnsupportedMedia):
        extract_metadata(b"hello, this is text" * 10)


@pytest.mark.parametrize(
    "gps",
    [
        {1: "N", 2: (IFDRational(1, 0), IFDRational(0, 0), IFDRational(5, 0)), 3: "E"},
        {1: "N", 2: (1, 2, 3, 4, 5), 3: "E", 4: (1, 2, 3)},
        {1: "N", 2: "fifty", 3: "E", 4: 12},
        {1: "N", 2: (IFDRational(900, 1), 0, 0), 3: "E", 4: (1, 2, 3)},
        {1: "N", 2: (IFDRational(-5, 1), 0, 0), 3: "E", 4: (1, 2, 3)},
        {2: (float("nan"), 0.0, 0.0), 4: (float("inf"), 0.0, 0.0), 6: IFDRational(1, 0)},
    ],
)
def test_hostile_gps_is_dropped_not_raised(gps: dict[int, object]) -> None:
    from tessera.media.metadata import _gps

    notes: list[str] = []
    lat, lon, alt = _gps(gps, notes)
    assert lat is None and lon is None
    assert alt is None or math.isfinite(alt)
    exif = Image.Exif()
    exif[0x010F] = "Make"
    ifd = exif.get_ifd(0x8825)
    for k, v in gps.items():
        ifd[k] = v
    try:
        data = jpeg(exif)
    except Exception:  # Pillow refuses to write some values: checked directly above
        return
    m = extract_metadata(data)
    assert m.make == "Make"
    assert m.gps is None
    assert m.altitude_m is None or math.isfinite(m.altitude_m)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0000:00:00 00:00:00", None),
        ("2021:13:45 99:99:99", None),
        ("garbage", None),
        ("2021-05-01 10:11:12", datetime(2021, 5, 1, 10, 11, 12)),
    ],
)
def test_bad_dates(value: str, expected: datetime | None) -> None:
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = value
    sub[0x9011] = "+99:99"  # invalid offset is ignored
    assert extract_metadata(jpeg(exif)).captured_at == expected


def test_huge_and_binary_strings() -> None:
    exif = Image.Exif()
    exif[0x010F] = "A" * 60_000
    exif[0x0110] = "Mod\x00el\x01junk"
    exif.get_ifd(0x8769)[0xA431] = b"\xff\xfe123\x00"
    m = extract_metadata(jpeg(exif))
    assert m.make is not None and len(m.make) == 256
    assert m.model == "Mod"
    assert m.body_serial is not None and m.body_serial.endswith("123")


def _tiff_exif(entries: list[tuple[int, int, int, bytes]], tail: bytes = b"") -> bytes:
    """Raw ``Exif\\0\\0`` + little-endian TIFF with one IFD of (tag, type, count, value)."""
    body = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")[:4]
    body += struct.pack("<I", 0) + tail
    return b"Exif\x00\x00" + body


@pytest.mark.parametrize(
    "entries",
    [
        [(0x010F, 2, 0xFFFFFFFF, struct.pack("<I", 26))],  # huge count
        [(0x8825, 4, 1, struct.pack("<I", 0x7FFFFFF0))],  # GPS IFD offset past the end
        [(0x8769, 4, 1, struct.pack("<I", 8))],  # Exif IFD pointing at IFD0: a loop
        [(0x8825, 4, 1, struct.pack("<I", 8)), (0x0110, 5, 1000000, b"\x00" * 4)],
        [(0x0110, 99, 3, b"abc")],  # unknown type
    ],
)
def test_malformed_exif_blocks_never_crash(entries: list[tuple[int, int, int, bytes]]) -> None:
    data = jpeg(_tiff_exif(entries))
    m = extract_metadata(data)
    _assert_sane(m)
    # nothing readable in these blocks: no camera, no place, no time invented
    assert (m.make, m.body_serial, m.gps, m.captured_at) == (None, None, None, None)
    assert decode_image(data).rgb.shape == (24, 32, 3)  # metadata never costs the pixels


def _assert_sane(m: MediaMetadata) -> None:
    """What every extraction, however hostile the input, must give."""
    d = m.as_dict()
    json.dumps(d)  # plain values only
    for key, value in d.items():
        if isinstance(value, str):
            assert len(value) <= MAX_TEXT, key
            assert "\x00" not in value, key
    if m.latitude is not None:
        assert -90 <= m.latitude <= 90 and m.longitude is not None
        assert -180 <= m.longitude <= 180


def test_random_garbage_exif_never_crashes() -> None:
    rng = random.Random(3)
    base = _tiff_exif([(0x010F, 2, 6, struct.pack("<I", 26))], tail=b"Canon\x00" + bytes(64))
    for _ in range(200):
        blob = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(6, len(blob))] = rng.randrange(256)
        data = jpeg(bytes(blob))
        m = extract_metadata(data)
        _assert_sane(m)
        assert m.model is None and m.gps is None  # the block holds only a Make
        assert decode_image(data).rgb.shape == (24, 32, 3)


XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
 xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
 aux:SerialNumber="0123456" xmp:CreatorTool="Darktable">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour walk</rdf:li></rdf:Alt></dc:title>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def test_xmp_fields() -> None:
    m = extract_metadata(jpeg(xmp=XMP))
    assert m.xmp == {
        "serial_number": "0123456",
        "creator_tool": "Darktable",
        "title": "Harbour walk",
    }


@pytest.mark.parametrize(
    "packet",
    [
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>',
        b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
        b"<x:xmpmeta><unclosed>",
        b"\x00\xff\xfe garbage",
    ],
)
def test_hostile_xmp_is_refused(packet: bytes) -> None:
    assert parse_xmp(packet) == {}
    assert extract_metadata(jpeg(xmp=packet)).xmp == {}


_XMP_TEXT = XMP.decode("utf-8").replace('begin="\ufeff"', 'begin=""')


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-be-bom":  # big-endian with its BOM: nothing at either end to strip
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize(
    "encoding", ["utf-16-be-bom", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
)
def test_utf16_xmp_with_a_dtd_is_refused(encoding: str) -> None:
    """Defect 10: the DTD/entity refusal was a UTF-8 byte pattern; a big-endian UTF-16
    packet with its BOM slipped a billion-laughs DTD past it to ``ET.fromstring``."""
    declared = {"utf-16-be-bom": "UTF-16", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE"}
    dtd = f'<?xml version="1.0" encoding="{declared.get(encoding, encoding.upper())}"?>'
    dtd += '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    packet = dtd + _XMP_TEXT.replace('aux:SerialNumber="0123456"', 'aux:SerialNumber="&b;"')
    data = _encode(packet, encoding)
    assert parse_xmp(data) == {}
    assert extract_metadata(jpeg(xmp=data)).xmp == {}


@pytest.mark.parametrize("encoding", ["utf-16-be-bom", "utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_xmp_without_a_dtd_is_read(encoding: str) -> None:
    assert parse_xmp(_encode(_XMP_TEXT, encoding))["serial_number"] == "0123456"


# --- shared photos ----------------------------------------------------------------------


def test_shared_gps_pair(data_dir: Path) -> None:
    folder = data_dir / "vlfeat-mosaic-pairs"
    a = extract_metadata((folder / "roofs1.jpg").read_bytes())
    b = extract_metadata((folder / "roofs2.jpg").read_bytes())
    assert (a.make, a.model) == ("Apple", "iPhone 4")
    assert a.gps == pytest.approx((45.4328333, 12.329))  # Venice, N/E
    assert a.captured_at == datetime(2011, 7, 19, 14, 1, 30)
    assert a.gps is not None and b.gps is not None
    assert haversine_m(a.gps, b.gps) < 20
    assert not same_camera(a, b)  # no serial: make/model alone is not one body
    assert gps_clusters([a.gps, b.gps], 50) == [[0, 1]]


def test_shared_same_body_serial(data_dir: Path) -> None:
    folder = data_dir / "affnet-graffiti-and-wide-baseline-pairs" / "wide-baseline-pairs"
    a = extract_metadata((folder / "fox1.png").read_bytes())
    b = extract_metadata((folder / "fox2.png").read_bytes())
    assert a.body_serial == b.body_serial == "430165528"
    assert same_camera(a, b)
    sagrada = extract_metadata(
        (data_dir / "opencv-contrib-sfm-sagrada" / "resized_IMG_2892.jpg").read_bytes()
    )
    assert sagrada.body_serial == "1881102360"
    assert sagrada.lens_model == "EF-S18-135mm f/3.5-5.6 IS"  # NUL padding removed
    assert sagrada.lens_serial == "000011a734"
    assert not same_camera(a, sagrada)


def test_shared_offset_time_and_xmp(data_dir: Path) -> None:
    m = extract_metadata((data_dir / "ocr-easyocr-signs" / "thai.jpg").read_bytes())
    assert m.model == "iPhone 8"
    assert m.captured_at is not None
    assert m.captured_at.utcoffset() == timedelta(hours=7)
    assert m.xmp.get("creator_tool") == "GIMP 2.10"
    chelsea = (data_dir / "skimage-public-domain-originals" / "chelsea.png").read_bytes()
    assert extract_metadata(chelsea).xmp.get("model") == "PENTAX K100D Super"


def test_shared_zero_date_and_webp(data_dir: Path) -> None:
    base = data_dir / "imagededup-ukbench-transforms"
    nikon = extract_metadata((base / "base_images" / "ukbench08976.jpg").read_bytes())
    assert (nikon.make, nikon.model, nikon.captured_at) == ("NIKON", "E5700", None)
    webp = extract_metadata((base / "transformed" / "ukbench09380.webp").read_bytes())
    assert webp.model == "Canon IXY DIGITAL 320"


def test_every_shared_image_extracts(data_dir: Path) -> None:
    n = 0
    for path in sorted(data_dir.rglob("*")):
        if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}:
            try:
                extract_metadata(path.read_bytes())
            except MediaError:  # not an image Tessera decodes: fine, but not a crash
                continue
            n += 1
    assert n > 50


# --- helpers ----------------------------------------------------------------------------


def test_haversine() -> None:
    assert haversine_m((0, 0), (0, 0)) == 0
    assert haversine_m((0, 0), (0, 1)) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m((51.5007, -0.1246), (48.8584, 2.2945)) == pytest.approx(341_500, rel=0.01)
    assert haversine_m((0, 179.9999), (0, -179.9999)) == pytest.approx(22.2, rel=0.01)
    assert haversine_m((90, 0), (-90, 0)) == pytest.approx(math.pi * 6_371_008.8)


def md(make: str | None, model: str | None, serial: str | None) -> MediaMetadata:
    return MediaMetadata(make=make, model=model, body_serial=serial)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (md("Canon", "Canon EOS 60D", "123"), md("CANON ", "canon  eos 60d", " 123"), True),
        (md("NIKON CORPORATION", "NIKON D750", "0042"), md("Nikon", "D750", "42"), True),
        (md("Canon", "EOS 60D", "123"), md("Canon", "EOS 70D", "123"), False),
        (md("Canon", "EOS 60D", "123"), md("Sony", "EOS 60D", "123"), False),
        (md("Canon", "EOS 60D", "123"), md("Canon", "EOS 60D", "124"), False),
        (md("Canon", "EOS 60D", None), md("Canon", "EOS 60D", None), False),
        (md("Canon", "EOS 60D", "0"), md("Canon", "EOS 60D", "0000000000"), False),
        (md(None, None, "ABC9"), md("Canon", "EOS 60D", "abc9"), True),
    ],
)
def test_same_camera(a: MediaMetadata, b: MediaMetadata, same: bool) -> None:
    assert same_camera(a, b) is same
    assert same_camera(b, a) is same


def _brute(points: list[tuple[float, float]], r: float) -> list[list[int]]:
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            if haversine_m(points[i], points[j]) <= r:
                ri, rj = find(i), find(j)
                parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(len(points)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def test_gps_clusters_matches_brute_force_including_poles_and_antimeridian() -> None:
    rng = random.Random(1)
    for trial in range(80):
        lat0 = rng.choice([rng.uniform(-89.9, 89.9), 89.99, -89.99, 0.0])
        lon0 = rng.choice([rng.uniform(-180, 180), 179.999, -179.999])
        r = rng.choice([5.0, 50.0, 500.0, 5000.0, 100_000.0])
        spread = r * 3 / 111_000
        pts = []
        for _ in range(120):
            lat = max(-90.0, min(90.0, lat0 + rng.gauss(0, spread)))
            lon = lon0 + rng.gauss(0, spread / max(0.01, math.cos(math.radians(lat0))))
            pts.append((lat, (lon + 180) % 360 - 180))
        assert gps_clusters(pts, r) == _brute(pts, r), (trial, lat0, lon0, r)


def test_gps_clusters_edge_cases() -> None:
    assert gps_clusters([], 10) == []
    assert gps_clusters([(1.0, 1.0)], 0) == [[0]]
    assert gps_clusters([(1.0, 1.0), (1.0, 1.0)], 0) == [[0, 1]]
    # a chain: 0-1 and 1-2 within 60 m, 0-2 not, still one group
    chain = [(0.0, 0.0), (0.0, 0.0005), (0.0, 0.001)]
    assert gps_clusters(chain, 60) == [[0, 1, 2]]
    with pytest.raises(ValueError):
        gps_clusters(chain, -1)


def test_gps_clusters_100k_is_a_partition() -> None:
    """100k points: every point in exactly one group (timings live in benchmarks/)."""
    rng = random.Random(2)
    sparse = [(rng.uniform(40, 50), rng.uniform(0, 10)) for _ in range(100_000)]
    dense = [(48.85 + rng.gauss(0, 0.01), 2.35 + rng.gauss(0, 0.01)) for _ in range(100_000)]
    for pts, r in ((sparse, 100.0), (dense, 50.0)):
        groups = gps_clusters(pts, r)
        assert sorted(i for g in groups for i in g) == list(range(len(pts)))
