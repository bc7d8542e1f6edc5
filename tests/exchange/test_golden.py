"""Hand-written files following the published field lists import with the expected rows.

The files in ``golden/`` were written by hand from the field lists in
``shared/reference/domain.md`` (VICS as IPED and Clees4All read it, ICSE's header
as IPED's hash database tool expects it, python-threatexchange's NCMEC test data
shapes and dataset CSV header); the expected values below are read off the files,
not produced by the code under test.
"""

from __future__ import annotations

from pathlib import Path

from tessera.exchange import hashlist, icse_csv, ncmec_xml, te_csv, vics
from tessera.exchange.categories import category_label
from tessera.exchange.model import ExchangeRecord, OpaqueHash

GOLDEN = Path(__file__).with_name("golden")


def _read(reader, name: str, **kw) -> list[ExchangeRecord]:  # type: ignore[no-untyped-def]
    with (GOLDEN / name).open("rb") as f:
        return list(reader(f, **kw))


def test_vics_1_3_media() -> None:
    with (GOLDEN / "vics_1_3_media.json").open("rb") as f:
        header = vics.read_header(f)
    assert (header.version, header.profile, header.root) == ("1.3", "Default", "Media")
    a, b = _read(vics.read, "vics_1_3_media.json")
    assert a.md5 == "9e107d9d372bb6826bd81d3542a419d6"
    assert a.sha1 == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
    assert a.photodna == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert (a.victim_identified, a.offender_identified, a.is_distributed) == (True, False, True)
    assert (a.category, a.category_profile) == (1, "Default")
    assert category_label(a.category_profile, a.category) == "child abuse material"
    assert a.series == "Series Amber" and a.tags == ("wallpaper", "poster")
    assert a.media_size == 48211 and a.relative_path == "Images\\IMG_0001.jpg"
    assert a.kind == "image" and a.source_id == "1"
    assert a.vics_extra["IsPrecategorized"] == "false"
    assert a.vics_extra["MediaFiles"][0]["FileName"] == "IMG_0001.jpg"
    assert a.vics_extra["Exifs"] == [{"PropertyName": "Make", "PropertyValue": "Canon"}]
    assert a.vics_extra["DateUpdated"] == "2019-05-14T09:30:00Z"
    assert b.md5 == "e4d909c290d0fb1ca068ffaddf22cbd0" and b.category is None
    assert b.kind == "video" and b.victim_identified is False


def test_vics_2_0_us_cases() -> None:
    rs = _read(vics.read, "vics_2_0_us_cases.json")
    assert [(r.case_ref, r.source_id) for r in rs] == [
        ("2026-0042", "10"),
        ("2026-0042", "11"),
        ("2026-0043", "12"),
    ]
    assert rs[0].md5 == "d41d8cd98f00b204e9800998ecf8427e" and rs[0].photodna == "AQIDBAUG"
    assert rs[0].is_distributed is False
    assert rs[1].sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709" and rs[1].md5 is None
    assert [(r.category_profile, r.category) for r in rs] == [("US", 2), ("US", 4), ("US", 0)]
    assert category_label("US", 4) == "comparison images"
    assert category_label("US", 0) == "non-pertinent"
    assert category_label("UK", 2) == "UK profile category 2"


def test_icse_csv_with_bom_short_rows_and_quotes() -> None:
    a, b, c = _read(icse_csv.read, "icse.csv")
    assert a == ExchangeRecord(
        md5="9e107d9d372bb6826bd81d3542a419d6",
        sha1="2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
        photodna="AQIDBAUG",
        source_id="1001",
        is_distributed=True,
        victim_identified=True,
        offender_identified=False,
        series="Series Amber",
        submissions=3,
        file_available=False,
        kind="image",
        baseline=True,
    )
    assert b == ExchangeRecord(
        md5="e4d909c290d0fb1ca068ffaddf22cbd0", source_id="1002", is_distributed=False
    )
    assert c.series == "Series; with semicolon" and c.kind == "video" and c.submissions == 1
    assert c.baseline is None and c.victim_identified is None


def test_hash_lists() -> None:
    assert _read(hashlist.read, "hashlist_bare_md5.txt") == [
        ExchangeRecord(md5="9e107d9d372bb6826bd81d3542a419d6"),
        ExchangeRecord(md5="e4d909c290d0fb1ca068ffaddf22cbd0"),
    ]
    assert _read(hashlist.read, "hashlist_signals.txt") == [
        ExchangeRecord(pdq="f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"),
        ExchangeRecord(md5="d41d8cd98f00b204e9800998ecf8427e"),
        ExchangeRecord(sha1="da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ]


def test_threatexchange_dataset_csv() -> None:
    a, b = _read(te_csv.read, "te.csv")
    assert a == ExchangeRecord(
        pdq="f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
        collab="Example Collab",
        classification="POSITIVE_CLASS",
        tags=("tag_a", "tag_b"),
    )
    assert b == ExchangeRecord(
        md5="d41d8cd98f00b204e9800998ecf8427e",
        collab="Example Collab",
        classification="INVESTIGATION_SEED",
    )


def test_ncmec_xml() -> None:
    rs = _read(ncmec_xml.read, "ncmec.xml")
    assert [(r.source_id, r.kind, r.deleted) for r in rs] == [
        ("image1", "image", False),
        ("image4", "image", True),
        ("video1", "video", False),
        ("video4", "video", True),
    ]
    image, _, video, _ = rs
    assert image.md5 == "a1" * 16 and image.sha1 == "a1" * 20 and image.photodna == "AAECAwQF"
    assert image.classification == "A1" and image.collab == "ncmec:42"
    assert video.md5 == "b1" * 16
    # the TMK+PDQF link carries no value; Videntifier's value is kept as received
    assert video.other_hashes == (OpaqueHash(name="videntifier", value="VID0123abc"),)
