"""The batch lookup body's hash check (``HashQueryIn``): hex digits of the type's
length, lower-cased; anything else is a validation error (422 naming the field)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tessera.api.schemas import HashQueryIn, LookupRequest


def test_upper_case_hex_is_accepted_and_lowered() -> None:
    assert HashQueryIn(type="pdq", hash="AB" * 32).hash == "ab" * 32


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("md5", "a" * 31 + "\n"),
        ("md5", "a" * 31 + "g"),
        ("md5", "a" * 40),
        ("sha1", "a" * 32),
        ("pdq", "a" * 63 + " "),
        ("sha256", "é" * 64),
    ],
)
def test_not_hex_of_the_type_is_refused_naming_the_field(kind: str, text: str) -> None:
    with pytest.raises(ValidationError) as err:
        LookupRequest.model_validate(
            {"queries": [{"type": "md5", "hash": "0" * 32}, {"type": kind, "hash": text}]}
        )
    assert err.value.errors()[0]["loc"] == ("queries", 1, "hash")
