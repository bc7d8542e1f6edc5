"""``parse_hash``: hex of the right length or ``InvalidFingerprint`` (never a bare
``ValueError``: a trailing newline passed ``^...$`` and then failed in ``fromhex``)."""

from __future__ import annotations

import pytest

from tessera.app.lookup import parse_hash
from tessera.errors import InvalidFingerprint


@pytest.mark.parametrize(
    ("kind", "text"),
    [("md5", "0f" * 16), ("sha1", "AB" * 20), ("sha256", "09" * 32), ("pdq", "aF" * 32)],
)
def test_hex_of_the_right_length_parses(kind: str, text: str) -> None:
    assert parse_hash(kind, text) == bytes.fromhex(text)


@pytest.mark.parametrize(
    "text",
    ["a" * 31 + "\n", "a" * 31 + " ", " " + "a" * 31, "a" * 31 + "g", "a" * 30, "a" * 34, ""],
)
def test_anything_else_is_an_invalid_fingerprint(text: str) -> None:
    with pytest.raises(InvalidFingerprint, match="queries\\[3\\]"):
        parse_hash("md5", text, "queries[3]")
