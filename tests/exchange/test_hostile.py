"""Hostile and broken exchange files: each a clear InvalidInput naming where, never a crash,
a hang or a half-read; CSV cells that would run as formulas are neutralised on export."""

from __future__ import annotations

import codecs
import io
import json

import pytest

from tessera.errors import InvalidInput, InvalidRecord
from tessera.exchange import bundle, hashlist, icse_csv, ncmec_xml, te_csv, vics
from tessera.exchange.model import ExchangeRecord

V2 = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
MD5 = "0123456789abcdef0123456789abcdef"


def _vics(*media: object) -> io.BytesIO:
    return io.BytesIO(json.dumps({"@odata.context": V2, "value": list(media)}).encode())


def test_deep_nesting_is_refused() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    raw = f'{{"@odata.context": "{V2}", "value": [{{"MD5": "{MD5}", "Exifs": {deep}}}]}}'
    with pytest.raises(InvalidInput, match="nested deeper than 64"):
        list(vics.read(io.BytesIO(raw.encode())))
    # deep nesting far into a large file: caught there, naming the record
    pad = ",".join(json.dumps({"MD5": MD5}) for _ in range(3000))
    raw = f'{{"@odata.context": "{V2}", "value": [{pad}, {{"MD5": "{MD5}", "Exifs": {deep}}}]}}'
    with pytest.raises(InvalidRecord, match="nested deeper than 64") as err:
        list(vics.read(io.BytesIO(raw.encode())))
    assert err.value.record is not None and err.value.record > 1


def test_huge_string_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRecord) as err:
        list(vics.read(_vics({"MD5": MD5}, {"MD5": MD5, "Comments": "x" * 2_000_000})))
    assert err.value.record == 2 and err.value.field == "Comments"


def test_string_booleans_and_bad_booleans() -> None:
    (r,) = vics.read(_vics({"MD5": MD5.upper(), "VictimIdentified": "TRUE"}))
    assert r.victim_identified is True and r.md5 == MD5
    with pytest.raises(InvalidRecord) as err:
        list(vics.read(_vics({"MD5": MD5, "IsDistributed": "maybe"})))
    assert err.value.field == "IsDistributed"


def test_truncated_and_non_json() -> None:
    raw = json.dumps({"@odata.context": V2, "value": [{"MD5": MD5}, {"MD5": MD5}]})
    with pytest.raises(InvalidInput):
        list(vics.read(io.BytesIO(raw[:-20].encode())))
    with pytest.raises(InvalidInput):
        list(vics.read(io.BytesIO(b"<html>not json</html>")))
    with pytest.raises(InvalidInput, match="unrecognised data model"):
        list(
            vics.read(io.BytesIO(b'{"odata.metadata": "http://example.org/x#Media", "value": []}'))
        )
    with pytest.raises(InvalidInput, match="unknown profile"):
        bad = V2.replace("/Default/", "/FR/")
        list(vics.read(io.BytesIO(json.dumps({"@odata.context": bad, "value": []}).encode())))


def test_record_without_any_hash() -> None:
    with pytest.raises(InvalidRecord) as err:
        list(vics.read(_vics({"MD5": MD5}, {"Series": "x"})))
    assert err.value.record == 2


def test_foreign_encodings_and_boms() -> None:
    text = "MD5;SHA1\n" + MD5 + ";\n"
    utf16 = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    with pytest.raises(InvalidInput, match="UTF-16"):
        list(icse_csv.read(io.BytesIO(utf16)))
    with pytest.raises(InvalidInput, match="UTF-16"):
        list(vics.read(io.BytesIO(codecs.BOM_UTF16_LE + b"{\x00}\x00")))
    # a UTF-8 BOM (Windows tools) is accepted
    assert len(list(icse_csv.read(io.BytesIO(codecs.BOM_UTF8 + text.encode())))) == 1
    latin1 = (
        "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
        "Series name\n" + MD5 + ";;;1;;;;Série\n"
    ).encode("latin-1")
    with pytest.raises(InvalidRecord) as err:
        list(icse_csv.read(io.BytesIO(latin1)))
    assert err.value.line == 2 and "UTF-8" in str(err.value)


def test_csv_errors_name_record_line_and_field() -> None:
    raw = b"MD5;SHA1\n" + MD5.encode() + b";\n\nnot-a-hash;\n"
    with pytest.raises(InvalidRecord) as err:
        list(icse_csv.read(io.BytesIO(raw)))
    assert (err.value.record, err.value.line, err.value.field) == (2, 4, "MD5")
    with pytest.raises(InvalidRecord) as err:
        list(icse_csv.read(io.BytesIO(b"MD5;SHA1\n" + MD5.encode() + b";;;;\n")))
    assert "cells but the header has 2" in str(err.value)
    with pytest.raises(InvalidInput, match="header"):
        list(icse_csv.read(io.BytesIO(b"foo;bar\n1;2\n")))


def test_hashlist_ambiguity_and_huge_lines() -> None:
    with pytest.raises(InvalidRecord, match="SHA-256 or PDQ"):
        list(hashlist.read(io.BytesIO(b"a" * 64 + b"\n")))
    (pdq,) = hashlist.read(io.BytesIO(b"a" * 64 + b"\n"), hash_type="pdq")
    assert pdq.pdq == "a" * 64
    with pytest.raises(InvalidRecord, match="longer than"):
        list(hashlist.read(io.BytesIO(b"md5 " + b"a" * 3_000_000 + b"\n")))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<queryResult><images><image><id>&lol3;</id></image></images></queryResult>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<queryResult><images><image><id>&x;</id></image></images></queryResult>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE])
def test_xml_entities_and_dtds_are_refused(doc: bytes) -> None:
    with pytest.raises(InvalidInput, match="refused"):
        list(ncmec_xml.read(io.BytesIO(doc)))


def test_broken_xml_names_the_line() -> None:
    doc = b"<queryResult>\n<images>\n<image><id>1</id>\n</images>"
    with pytest.raises(InvalidRecord) as err:
        list(ncmec_xml.read(io.BytesIO(doc)))
    assert err.value.line == 4
    with pytest.raises(InvalidInput, match="unexpected root"):
        list(ncmec_xml.read(io.BytesIO(b"<html/>")))


def test_csv_injection_is_neutralised_on_export_and_restored_on_import() -> None:
    evil = '=HYPERLINK("http://x")'
    r = ExchangeRecord(md5=MD5, series=evil, source_id="+1", collab="@x", classification="-2")
    out = io.StringIO()
    icse_csv.write([r], out)
    row = out.getvalue().splitlines()[1].split(";")
    assert (row[3] == "'+1" and row[7].startswith("\"'=HYPERLINK")) or row[7].startswith("'=")
    back = next(icse_csv.read(io.BytesIO(out.getvalue().encode())))
    assert back.series == evil and back.source_id == "+1"
    out = io.StringIO()
    te_csv.write([r], out)
    cells = out.getvalue().splitlines()[1].split(",")
    assert cells[2] == "'@x" and cells[3] == "'-2"
    back = next(te_csv.read(io.BytesIO(out.getvalue().encode())))
    assert (back.collab, back.classification) == ("@x", "-2")


def test_tampered_or_truncated_bundle_is_refused() -> None:
    out = io.StringIO()
    bundle.write([ExchangeRecord(md5=MD5), ExchangeRecord(md5="f" * 32)], out)
    good = out.getvalue()
    assert len(list(bundle.read(io.BytesIO(good.encode())))) == 2
    tampered = good.replace("f" * 32, "e" * 32)
    with pytest.raises(InvalidInput, match="SHA-256"):
        list(bundle.read(io.BytesIO(tampered.encode())))
    truncated = "\n".join(good.splitlines()[:-1]) + "\n"
    with pytest.raises(InvalidInput, match="truncated"):
        list(bundle.read(io.BytesIO(truncated.encode())))
    newer = good.replace('"tessera_bundle":1', '"tessera_bundle":9')
    with pytest.raises(InvalidInput, match="newer"):
        list(bundle.read(io.BytesIO(newer.encode())))


# -- lone surrogates (a JSON "\ud800" escape without its pair is not a character) ------

V2_CASES = V2.replace("#Media", "#Cases")


@pytest.mark.parametrize(
    ("media", "field"),
    [
        ({"MD5": MD5, "Comments": "x\ud800y"}, "Comments"),
        ({"MD5": MD5, "Series": "\udfff"}, "Series"),
        ({"MD5": MD5, "Comments": "\ud800\ud800"}, "Comments"),  # yajl joined these
        ({"MD5": MD5, "Tags": "a,b\udc00"}, "Tags"),
        ({"MD5": MD5, "Exifs": [{"Make": "\ud83d"}]}, "Exifs"),
        ({"MD5": MD5, "Vendor\udc00": 1}, None),  # a field's name: no field to name
    ],
)
def test_vics_lone_surrogate_rejects_the_file_naming_record_and_field(
    media: dict[str, object], field: str | None
) -> None:
    # json.dumps writes the lone surrogate as its \uXXXX escape, as a hostile file would
    pad = [{"MD5": MD5, "Comments": "pair \U0001f600 fine"}] * 3000
    for doc in (
        {"@odata.context": V2, "value": [*pad, media]},
        {"@odata.context": V2_CASES, "value": [{"CaseNumber": "7", "Media": [*pad, media]}]},
    ):
        raw = json.dumps(doc).encode()
        assert b"\\ud83d\\ude00" in raw
        with pytest.raises(InvalidRecord, match="lone surrogate") as err:
            list(vics.read(io.BytesIO(raw)))
        assert (err.value.record, err.value.field) == (3001, field)


def test_vics_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    raw = json.dumps(
        {"@odata.context": V2, "value": [{"MD5": MD5, "Comments": "\U0001f600 \\ud800"}]}
    ).encode()
    assert b"\\ud83d\\ude00 \\\\ud800" in raw
    (r,) = vics.read(io.BytesIO(raw))
    assert r.comments == "\U0001f600 \\ud800"


def test_vics_bytes_that_are_not_utf8_name_the_record() -> None:
    raw = json.dumps({"@odata.context": V2, "value": [{"MD5": MD5}, {"MD5": MD5, "Series": "S"}]})
    with pytest.raises(InvalidRecord, match="invalid bytes in UTF8") as err:
        list(vics.read(io.BytesIO(raw.encode().replace(b'"S"', b'"S\xff"'))))
    assert err.value.record == 2
    # a surrogate encoded as raw bytes passes yajl's UTF-8 check, not Python's
    with pytest.raises(InvalidRecord, match="lone surrogate") as err:
        list(vics.read(io.BytesIO(raw.encode().replace(b'"S"', b'"S\xed\xa0\x80"'))))
    assert (err.value.record, err.value.field) == (2, "Series")


def test_bundle_lone_surrogate_rejects_the_file_naming_record_and_field() -> None:
    import hashlib

    head = json.dumps({"tessera_bundle": 1, "level": "full", "agency": None, "created_at": "x"})
    lines = [
        json.dumps({"part": "records", "record": {"md5": MD5}}),
        json.dumps({"part": "records", "record": {"md5": MD5, "comments": "a\ud800"}}),
    ]
    assert "\\ud800" in lines[1]
    part = hashlib.sha256("".join(x + "\n" for x in lines).encode()).hexdigest()
    manifest = {
        "header_sha256": hashlib.sha256((head + "\n").encode()).hexdigest(),
        "parts": {"records": {"count": 2, "sha256": part}},
    }
    text = "".join(x + "\n" for x in [head, *lines, json.dumps({"manifest": manifest})])
    with pytest.raises(InvalidRecord) as err:
        list(bundle.read(io.BytesIO(text.encode())))
    assert (err.value.record, err.value.line, err.value.field) == (2, 3, "comments")


def test_other_readers_cannot_produce_a_lone_surrogate() -> None:
    # text formats decode UTF-8 strictly (an encoded surrogate is not UTF-8); XML has
    # no character reference for one
    with pytest.raises(InvalidRecord, match="not UTF-8"):
        list(icse_csv.read(io.BytesIO(b"MD5;SHA1\n" + MD5.encode() + b";\xed\xa0\x80\n")))
    with pytest.raises(InvalidInput):
        list(ncmec_xml.read(io.BytesIO(b"<queryResult><images><image><id>&#xD800;</id>")))
