"""Self-describing fingerprint values.

A bare hex string says nothing about how it was made (imagehash had to add
``old_hex_to_hash`` when its format changed). Every Tessera fingerprint carries its
algorithm and the version of that algorithm's definition, so stored values stay
comparable across releases and exchanges. The text form is
``<algorithm>:<version>:<payload hex>`` and round-trips exactly.

Each algorithm declares a payload size and a brute-force ``distance``; fast indexes
are tested against that distance, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tessera.errors import InvalidFingerprint

_HEX = re.compile(r"^[0-9a-f]+$")


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two equal-length byte strings."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def _discrete(a: bytes, b: bytes) -> int:
    return 0 if a == b else 1


@dataclass(frozen=True)
class Algorithm:
    """What a fingerprint algorithm promises: payload size and a metric."""

    name: str
    version: int
    payload_bytes: int
    distance: Callable[[bytes, bytes], int]
    max_distance: int


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("pdq", 1, 32, hamming, 256),
        Algorithm("md5", 1, 16, _discrete, 1),
        Algorithm("sha1", 1, 20, _discrete, 1),
        Algorithm("sha256", 1, 32, _discrete, 1),
    )
}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """An immutable fingerprint: ``algorithm``, ``version``, raw ``payload`` bytes."""

    algorithm: str
    version: int
    payload: bytes

    def __post_init__(self) -> None:
        alg = ALGORITHMS.get(self.algorithm)
        if alg is None:
            raise InvalidFingerprint(f"unknown fingerprint algorithm {self.algorithm!r}")
        if self.version != alg.version:
            raise InvalidFingerprint(
                f"{self.algorithm} version {self.version} is not supported (expected {alg.version})"
            )
        if len(self.payload) != alg.payload_bytes:
            raise InvalidFingerprint(
                f"{self.algorithm} payload must be {alg.payload_bytes} bytes,"
                f" got {len(self.payload)}"
            )

    @property
    def hex(self) -> str:
        """The payload as lowercase hex (for PDQ, the ThreatExchange 64-hex form)."""
        return self.payload.hex()

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.version}:{self.payload.hex()}"

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """Parse the text form produced by ``str()``; raises ``InvalidFingerprint``."""
        parts = text.strip().split(":")
        if len(parts) != 3:
            raise InvalidFingerprint(f"expected 'algorithm:version:hex', got {text!r}")
        name, version, payload = parts
        if not (version.isascii() and version.isdigit()):  # isdigit() alone accepts "²"
            raise InvalidFingerprint(f"version must be a whole number in {text!r}")
        payload = payload.lower()
        if not _HEX.match(payload) or len(payload) % 2:
            raise InvalidFingerprint(f"payload is not hex in {text!r}")
        return cls(name, int(version), bytes.fromhex(payload))

    @classmethod
    def from_hex(cls, algorithm: str, hex_payload: str) -> Fingerprint:
        """Build from a bare hex payload of a known algorithm (e.g. a 64-hex PDQ)."""
        alg = ALGORITHMS.get(algorithm)
        if alg is None:
            raise InvalidFingerprint(f"unknown fingerprint algorithm {algorithm!r}")
        h = hex_payload.strip().lower()
        if not _HEX.match(h) or len(h) != 2 * alg.payload_bytes:
            raise InvalidFingerprint(
                f"{algorithm} needs {2 * alg.payload_bytes} hex characters, got {hex_payload!r}"
            )
        return cls(algorithm, alg.version, bytes.fromhex(h))


def distance(a: Fingerprint, b: Fingerprint) -> int:
    """Brute-force distance between two fingerprints of the same algorithm and version.

    Hamming distance for PDQ; 0 (equal) or 1 (different) for exact digests.
    """
    if a.algorithm != b.algorithm or a.version != b.version:
        raise InvalidFingerprint(
            f"cannot compare {a.algorithm}:{a.version} with {b.algorithm}:{b.version}"
        )
    return ALGORITHMS[a.algorithm].distance(a.payload, b.payload)
