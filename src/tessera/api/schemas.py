"""Request bodies of the REST API (responses are the use cases' result models).

These are the wire contract, kept apart from the ORM models and from the use
cases' inputs: limits (10,000 hashes per batch) and formats (hex lengths per hash
type) are checked here so a bad request is a 422 naming the field before any
work is done.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tessera.app.lookup import HEX_LENGTH, MAX_QUERIES, MAX_RADIUS, HashQuery

HEX64 = r"^[0-9a-fA-F]{64}$"
_HEX = re.compile(r"[0-9a-fA-F]*")
"""Hex digits only (the length is checked apart): one regex match per hash instead of a
generator over its characters (4.0 -> 1.6 ms to validate a 1,000-hash batch)."""
MAX_FEATURE_BLOB_CHARS = 1_000_000
"""Base64 of a 4,096-keypoint full-form blob (about 770 kB) fits."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HashQueryIn(HashQuery):
    # The use case's ``HashQuery`` as the wire checks it: the batch route hands the
    # validated items to ``lookup`` as they are (rebuilding 1,000 of them cost ~2.8 us
    # of CPU a hash, measured in process at 10M). Frozen, no unknown fields (``Result``).
    # No docstring: it would become the OpenAPI schema's description.

    type: Literal["md5", "sha1", "sha256", "pdq"]
    hash: str = Field(max_length=64, examples=["d41d8cd98f00b204e9800998ecf8427e"])

    @field_validator("hash")
    @classmethod
    def _hex_of_type(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        want = HEX_LENGTH.get(str(kind), 0)
        if len(value) != want or _HEX.fullmatch(value) is None:
            raise ValueError(f"a {kind} hash is {want} hex digits")
        return value.lower()


class LookupRequest(_Body):
    queries: list[HashQueryIn] = Field(min_length=1, max_length=MAX_QUERIES)
    radius: int = Field(31, ge=0, le=MAX_RADIUS, description="PDQ distance, 31 by default")
    min_quality: int = Field(50, ge=0, le=100, description="Stored PDQ quality at least")
    explain: bool = Field(False, description="Show matches of negative-listed hashes too")
    hide_disputed: bool = Field(False, description="Leave out items an agency disputed")


class FrameIn(_Body):
    pdq: str = Field(pattern=HEX64)
    quality: int = Field(ge=0, le=100)
    timestamp: float = Field(ge=0, le=1e7, description="Seconds into the video")

    @field_validator("timestamp")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("timestamp must be a finite number")
        return value


class FrameLookupRequest(_Body):
    frames: list[FrameIn] = Field(min_length=1, max_length=MAX_QUERIES)
    radius: int = Field(31, ge=0, le=MAX_RADIUS)
    min_quality: int = Field(50, ge=0, le=100)


class AudioLookupRequest(_Body):
    fingerprint: str = Field(
        min_length=1,
        max_length=2_000_000,
        description="Chromaprint text form: chromaprint:ALGORITHM:DURATION_MS:BASE64URL",
    )


class SimilarRequest(_Body):
    """A picture's local features computed by the client (``tessera.app.similar.file_query``):
    the picture never travels, only its keypoints (and its SHA-256, to leave its own
    stored copy out of the hits)."""

    features: list[str] = Field(
        min_length=1,
        max_length=2,
        description="Local-feature blobs (the picture's, then its mirror image's), base64",
    )
    sha256: str | None = Field(None, pattern=HEX64, description="The file's SHA-256")
    box: tuple[int, int, int, int] | None = Field(
        None, description="The region searched (x0, y0, x1, y1), when the features are a region's"
    )
    limit: int = Field(10, ge=1, le=200)

    @field_validator("features")
    @classmethod
    def _base64_blobs(cls, value: list[str]) -> list[str]:
        for blob in value:
            if len(blob) > MAX_FEATURE_BLOB_CHARS:
                raise ValueError(f"a feature blob is at most {MAX_FEATURE_BLOB_CHARS} characters")
            try:
                base64.b64decode(blob, validate=True)
            except binascii.Error:
                raise ValueError("feature blobs are base64") from None
        return value

    @field_validator("box")
    @classmethod
    def _box(cls, value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None:
            x0, y0, x1, y1 = value
            if x0 < 0 or y0 < 0 or x1 <= x0 or y1 <= y0 or max(value) > 1 << 16:
                raise ValueError("box must have 0 <= x0 < x1 and 0 <= y0 < y1, within 65536")
        return value

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    def blobs(self) -> list[bytes]:
        return [base64.b64decode(b, validate=True) for b in self.features]


class HealthStatus(BaseModel):
    """``GET /status``: alive, and whether this worker's index is fresh (nothing more)."""

    status: Literal["ok", "index-stale"]
    index_fresh: bool
    index_age_seconds: float | None


class IndexFreshness(BaseModel):
    """``GET /api/v1/status``: this worker's view of the PDQ index."""

    size: int
    base_size: int
    delta_size: int
    delta_indexed: int
    base_resident: bool
    base_generation: str
    indexed_through: int
    pending_gaps: int
    last_poll_age: float | None
    last_poll_unix: float | None
    reloads: int
    fresh: bool
    error: str | None


class ServiceStatus(BaseModel):
    version: str
    index: IndexFreshness


__all__ = [
    "AudioLookupRequest",
    "FrameIn",
    "FrameLookupRequest",
    "HashQueryIn",
    "HealthStatus",
    "IndexFreshness",
    "LookupRequest",
    "ServiceStatus",
    "SimilarRequest",
]
