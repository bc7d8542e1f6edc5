"""``fast_record`` (the readers' cheap path) agrees with full pydantic validation, and
``entry_data`` with ``model_dump``: property tests over valid records and over values
mutated into every kind of wrong (the fast path must then defer, never accept)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tessera.exchange.model import (
    _ENTRY_EXCLUDE,
    MAX_EXTRA_BYTES,
    ExchangeRecord,
    OpaqueHash,
    fast_record,
)
from tests.exchange.strategies import records

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_FIELDS = list(ExchangeRecord.model_fields)
_WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text("0123456789abcdefABCDEF \t", min_size=30, max_size=70),
    st.sampled_from(["", " ", "a\nb", "x\x00", "\x7f", "image", "US", "a,b", " t", "a\ud800"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.lists(st.text(max_size=5), max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.just((OpaqueHash(name="netclean", value="X1"),)),
    st.just({"k": float("inf")}),
    st.just({"k": (1, 2)}),
    st.just({1: "a"}),
    st.just({"k": [[[[[[[[[[1]]]]]]]]]]}),
    st.just("x" * 70_000),
)


def _values(r: ExchangeRecord) -> dict[str, Any]:
    return {k: v for k, v in r.__dict__.items() if k in r.model_fields_set}


def _validated(values: dict[str, Any]) -> ExchangeRecord | None:
    try:
        return ExchangeRecord(**values)
    except ValidationError:
        return None


@_settings
@given(records())
def test_fast_record_equals_validation_on_valid_records(r: ExchangeRecord) -> None:
    values = _values(r)
    fast = fast_record(values)
    assert fast is not None
    assert fast == r
    assert fast.model_dump() == r.model_dump()
    assert fast.entry_data() == r.entry_data()


@_settings
@given(records(), st.sampled_from(_FIELDS), _WRONG)
def test_fast_record_never_accepts_what_validation_refuses(
    r: ExchangeRecord, name: str, wrong: Any
) -> None:
    values = {**_values(r), name: wrong}
    fast = fast_record(values)
    full = _validated(values)
    if fast is not None:
        assert full is not None, f"fast path accepted {name}={wrong!r}"
        assert fast == full
        assert fast.entry_data() == full.entry_data()


@_settings
@given(records())
def test_entry_data_is_the_json_dump(r: ExchangeRecord) -> None:
    dump = r.model_dump(mode="json", exclude=_ENTRY_EXCLUDE, exclude_defaults=True)
    assert r.entry_data() == dump
    assert list(r.entry_data()) == list(dump)  # the same key order: the stored JSON text
    # a copy with changed fields (what the codecs' ``carried`` make) and a record
    # built from its own fields (fast_record, as readers do) say the same
    for other in (
        r.model_copy(update={"comments": "changed", "tags": ("a",), "baseline": None}),
        fast_record(_values(r)),
    ):
        assert other is not None
        assert other.entry_data() == other.model_dump(
            mode="json", exclude=_ENTRY_EXCLUDE, exclude_defaults=True
        )


def test_unknown_field_defers() -> None:
    assert fast_record({"md5": "0" * 32, "nope": 1}) is None


@pytest.mark.parametrize(
    "extra",
    [
        {"k": float("nan")},
        {"k": math.inf},
        {"k": "x" * (MAX_EXTRA_BYTES // 6)},  # within the real limit, beyond the cheap bound
        {"k": [1] * 10_001},
    ],
)
def test_extra_beyond_the_cheap_bound_defers(extra: dict[str, Any]) -> None:
    values = {"md5": "0" * 32, "vics_extra": extra}
    assert fast_record(values) is None


def test_non_json_extra_is_refused_by_validation() -> None:
    with pytest.raises(ValidationError, match="not a JSON value"):
        ExchangeRecord(md5="0" * 32, vics_extra={"k": float("nan")})
    tupled = ExchangeRecord(md5="0" * 32, vics_extra={"k": (1, 2)})
    assert tupled.vics_extra == {"k": [1, 2]}


@pytest.mark.parametrize(
    ("size", "expected"),
    [("12345", 12345), (" 12 ", 12), ("007", 7), (12, 12), ("", None), (None, None)],
)
def test_vics_numbers_as_strings(size: Any, expected: int | None) -> None:
    from tessera.exchange import vics

    header = vics.VicsHeader("2.0", "US", "Media")
    item = {"MediaID": "3", "MD5": "0" * 32, "MediaSize": size}
    r = vics.media_to_record(item, header=header, number=1)
    assert (r.media_size, r.source_id) == (expected, "3")


@pytest.mark.parametrize("size", ["1e3", "-5", "12x", True, "9" * 25, "12\x1c", "\x1f7"])
def test_vics_bad_numbers_name_the_field(size: Any) -> None:
    from tessera.errors import InvalidRecord
    from tessera.exchange import vics

    header = vics.VicsHeader("2.0", "US", "Media")
    with pytest.raises(InvalidRecord) as err:
        vics.media_to_record({"MD5": "0" * 32, "MediaSize": size}, header=header, number=4)
    assert (err.value.record, err.value.field) == (4, "MediaSize")


_ODD_CHARACTERS = [
    *map(chr, range(0x20)),
    "\x7f",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2000",
    "\u200a",
    "\u200b",
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
    "\ufeff",
    "\ud800",  # lone surrogates: a JSON escape the standard library parses into a str
    "\udbff",
    "\udc00",
    "\udfff",
    " ",
    ",",
    "é",
    "G",
]


@pytest.mark.parametrize("ch", _ODD_CHARACTERS)
@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("photodna", "ab{}cd"),
        ("mime_type", "image/{}jpeg"),
        ("series", "S{}1"),
        ("relative_path", "a/{}b"),
        ("comments", "x{}y"),
        ("tags", "t{}u"),
        ("md5", "0123456789abcdef0123456789abcde{}"),
    ],
)
def test_fast_checks_agree_with_validation_on_odd_characters(
    name: str, template: str, ch: str
) -> None:
    # the fast path skips its regexes for printable text: every character they refuse
    # must be unprintable (or a space / comma, checked apart)
    value: Any = template.format(ch)
    values = {"md5": "0" * 32, name: (value,) if name == "tags" else value}
    fast = fast_record(values)
    full = _validated(values)
    if fast is not None:
        assert full is not None, f"fast path accepted {name}={value!r}"
        assert fast == full
    elif full is not None:
        assert name == "tags" or not value.isprintable()  # deferred only when unsure


_TEXT_FIELDS = [
    "photodna",
    "mime_type",
    "source_id",
    "collab",
    "series",
    "category_profile",
    "classification",
    "comments",
    "relative_path",
    "case_ref",
]


@pytest.mark.parametrize("surrogate", ["\ud800", "x\udfffy", "\U0001f600\udc00"])
@pytest.mark.parametrize("name", _TEXT_FIELDS)
def test_lone_surrogate_is_refused_as_by_validation(name: str, surrogate: str) -> None:
    # the lead's decision (session 10): the fast path refuses what pydantic's str refuses
    values = {"md5": "0" * 32, name: surrogate}
    assert fast_record(values) is None
    with pytest.raises(ValidationError) as err:
        ExchangeRecord(**values)
    assert err.value.errors()[0]["type"] == "string_unicode"
    assert err.value.errors()[0]["loc"] == (name,)


@pytest.mark.parametrize("surrogate", ["\ud800", "x\udfffy", "\U0001f600\udc00"])
@pytest.mark.parametrize(
    "values",
    [
        lambda x: {"tags": ("ok", x)},
        lambda x: {"vics_extra": {"Note": x}},
        lambda x: {"vics_extra": {"Notes": [{"deep": [x]}]}},
        lambda x: {"vics_extra": {x: 1}},
    ],
    ids=["tag", "extra-value", "extra-nested", "extra-key"],
)
def test_lone_surrogate_in_tags_and_extra_is_refused(values: Any, surrogate: str) -> None:
    # the lead's decision (session 10): not a character in any field (no UTF-8 file
    # could carry it on; an ICSE CSV export of the tag would fail on it)
    given = {"md5": "0" * 32, **values(surrogate)}
    assert fast_record(given) is None
    with pytest.raises(ValidationError, match="lone surrogate"):
        ExchangeRecord(**given)
    fine = {
        "md5": "0" * 32,
        **values(surrogate.replace("\udfff", "z").replace("\ud800", "z").replace("\udc00", "z")),
    }
    assert fast_record(fine) == ExchangeRecord(**fine)


@_settings
@given(records())
def test_identity_is_every_hash_strongest_first(r: ExchangeRecord) -> None:
    expected = [(a, getattr(r, a)) for a in ("sha256", "sha1", "md5", "pdq", "photodna")]
    expected = [(a, v) for a, v in expected if v]
    expected += [(h.name, h.value) for h in r.other_hashes]
    assert r.identity() == expected
