"""``vics._plain_media`` (the VICS reader's one-pass path) agrees with the full path
(``_media_to_record``: values read, then ``fast_record`` / pydantic): property tests
over Media objects written from valid records, in the forms real files take, and
mutated into every kind of wrong (the one-pass path must then defer, never accept)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.errors import InvalidRecord
from tessera.exchange import vics
from tessera.exchange.model import ExchangeRecord
from tests.exchange.strategies import records
from tests.exchange.test_fast_record import _ODD_CHARACTERS, _WRONG

_settings = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_HEADERS = [
    vics.VicsHeader("2.0", "US", "Media"),
    vics.VicsHeader("2.0", "Default", "Cases"),
    vics.VicsHeader("1.3", "Default", "Media"),
]
_KEYS = [*vics._PLAIN, "AlternativeHashes", "md5", "mediaid", "MediaFiles", "Exifs", "X"]
_CASE = st.one_of(st.none(), st.sampled_from(["", "C-1", "x" * 101, "a\nb", "\ud800", "é"]))


def _full(item: Any, header: vics.VicsHeader, case_ref: str | None) -> ExchangeRecord | None:
    try:
        return vics._media_to_record(item, header=header, number=7, case_ref=case_ref)
    except InvalidRecord:
        return None


def _agree(item: dict[str, Any], header: vics.VicsHeader, case_ref: str | None) -> bool:
    """The one-pass record equals the full path's, fields given included; False when
    the one-pass path deferred."""
    plain = vics._plain_media(item, header.profile, case_ref)
    full = _full(item, header, case_ref)
    if plain is None:
        return False
    assert full is not None, f"one-pass path accepted {item!r}"
    assert plain == full
    assert plain.model_fields_set == full.model_fields_set
    assert plain.entry_data() == full.entry_data()
    assert vics.media_to_record(item, header=header, number=7, case_ref=case_ref) == full
    return True


def _as_real_files_have_it(media: dict[str, Any], strings: bool) -> dict[str, Any]:
    """Booleans as "true"/"false", numbers as strings (what Griffeye writes)."""
    if not strings:
        return media
    out: dict[str, Any] = {}
    for k, v in media.items():
        if type(v) is bool:
            out[k] = "true" if v else "false"
        elif type(v) is int and v >= 0:
            out[k] = str(v)
        else:
            out[k] = v
    return out


@_settings
@given(records(), st.sampled_from(_HEADERS), st.booleans(), _CASE)
def test_plain_media_equals_the_full_path(
    r: ExchangeRecord, header: vics.VicsHeader, strings: bool, case_ref: str | None
) -> None:
    media = _as_real_files_have_it(vics.record_to_media(r, 3, header), strings)
    accepted = _agree(media, header, case_ref)
    plain_text = case_ref is None or (len(case_ref) <= 100 and case_ref.isprintable())
    if "AlternativeHashes" not in media and plain_text and _full(media, header, case_ref):
        # valid records without unprintable text take the one-pass path
        texts = [v for k, v in media.items() if k in vics._PLAIN and type(v) is str]
        assert accepted or not all(t.isprintable() for t in texts)


@_settings
@given(records(), st.sampled_from(_HEADERS), st.sampled_from(_KEYS), _WRONG, _CASE)
def test_plain_media_never_accepts_what_the_full_path_refuses(
    r: ExchangeRecord, header: vics.VicsHeader, key: str, wrong: Any, case_ref: str | None
) -> None:
    media = {**vics.record_to_media(r, 3, header), key: wrong}
    _agree(media, header, case_ref)


@pytest.mark.parametrize("ch", _ODD_CHARACTERS)
@pytest.mark.parametrize(
    ("key", "template"),
    [
        ("PhotoDNA", "ab{}cd"),
        ("MimeType", "image/{}jpeg"),
        ("Series", "S{}1"),
        ("RelativeFilePath", "a/{}b"),
        ("Comments", "x{}y"),
        ("Tags", "t{}u,v"),
        ("MD5", "0123456789ABCDEF0123456789ABCDE{}"),
        ("SHA1", "{}0123456789abcdef0123456789abcdef0123456"),
        ("MediaID", "1{}"),
        ("MediaSize", "{}12"),
        ("VictimIdentified", "tru{}"),
    ],
)
def test_plain_media_on_odd_characters(key: str, template: str, ch: str) -> None:
    item = {"MediaID": 1, "MD5": "0" * 32, key: template.format(ch)}
    _agree(item, _HEADERS[0], None)


@pytest.mark.parametrize(
    "number", [0, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**62, 2**62 + 1, 10**600]
)
@pytest.mark.parametrize("key", ["MediaID", "Category", "MediaSize"])
def test_plain_media_on_number_bounds(key: str, number: int) -> None:
    for value in (number, str(number)):
        _agree({"MD5": "0" * 32, key: value}, _HEADERS[0], None)


def test_a_typical_media_object_takes_the_one_pass_path() -> None:
    item = {
        "MediaID": 1,
        "Category": 2,
        "MD5": "A" * 32,
        "SHA1": "B" * 40,
        "PhotoDNA": "QUJD" * 36,
        "VictimIdentified": "true",
        "OffenderIdentified": "false",
        "IsDistributed": "false",
        "Series": None,
        "Tags": "indoor, poster,indoor",
        "MediaSize": "10000",
        "MimeType": "image/jpeg",
        "MediaFiles": [{"MD5": "A" * 32, "FileName": "IMG_1.jpg", "Deleted": "false"}],
    }
    assert _agree(item, _HEADERS[0], "Case 1")
    r = vics._plain_media(item, "US", None)
    assert r is not None
    assert (r.tags, r.kind, r.category_profile, r.source_id) == (
        ("indoor", "poster"),
        "image",
        "US",
        "1",
    )
