"""storage.digest_filter: no digest added is ever filtered out; most others are."""

from __future__ import annotations

import hashlib

from tessera.storage.digest_filter import DigestFilter


def _digests(n: int, salt: bytes, hash_name: str) -> list[bytes]:
    return [hashlib.new(hash_name, salt + str(i).encode()).digest() for i in range(n)]


def test_added_digests_are_always_kept_and_most_others_dropped() -> None:
    f = DigestFilter()
    md5s, sha1s = _digests(5000, b"a", "md5"), _digests(5000, b"a", "sha1")
    f.add(md5s)
    f.add([None, *sha1s[:10], None])
    f.add([b"\x01", b"\x02\x03", *sha1s[10:]])  # any length, in one call
    # lengths that add up to three of the first's: each read from its own start
    odd = [b"\xff" * 16, b"\x01\x02\x03\x04" + bytes(16), b"\x05\x06\x07\x08" + bytes(8)]
    f.add(odd)
    assert f.maybe(set(odd)) == set(odd) and f.maybe({odd[1][:4], odd[2][:4]}) == {
        odd[1][:4],
        odd[2][:4],
    }
    assert f.maybe(set(md5s)) == set(md5s) and f.maybe(set(sha1s)) == set(sha1s)
    assert f.maybe({b"\x01", b"\x02\x03"}) == {b"\x01", b"\x02\x03"}
    absent = set(_digests(5000, b"b", "sha256"))
    assert len(f.maybe(absent)) < 50  # 10,002 bits set of 2**27
    assert f.maybe(set()) == set() and DigestFilter().maybe(set(md5s)) == set()
