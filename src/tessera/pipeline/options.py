"""How the pipeline fingerprints files: hashing options and archive limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tessera.media.decode import DecodeLimits
from tessera.media.normalize import Policy
from tessera.pipeline.archives import ArchiveLimits

Mode = Literal["fast", "reference"]


@dataclass(frozen=True)
class HashOptions:
    """How files are fingerprinted.

    ``mode="fast"`` (the ingest default) lets large JPEGs be decoded at reduced
    scale; ``"reference"`` decodes at full resolution and is bit-exact with the
    reference PDQ. ``cpp_resize`` adds the C++ CLI's 512 x 512 nearest-neighbour
    pre-resize (reference mode only), for comparisons with ``pdq-photo-hasher``.
    """

    mode: Mode = "fast"
    policy: Policy = "tessera"
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    dihedral: bool = False
    cpp_resize: bool = False
    features: bool = False
    """Also extract local features (RootSIFT) for same-scene search (ingest, triage)."""
    features_mirrored: bool = False
    """With ``features``: also the mirror image's, so triage finds flipped copies."""
    copy_features: bool = False
    """Triage's copy check: a few hundred keypoints of the decoded picture shrunk to
    ``COPY_MAX_SIDE`` (``tessera.pipeline.fingerprint``), uncompressed (v1 bytes)."""
    features_compact: bool = True
    """With ``features``: the stored (product-quantised) form; False: uncompressed
    (v1) bytes, for queries that are never stored (triage's leads stage)."""
    layout: bool = False
    """Also the colour layout descriptor of a still (``tessera.fingerprints.layout``):
    edited copies of low-texture pictures (ingest stores it, triage compares it)."""
    pdq: bool = True
    """False: no PDQ (triage's leads stage re-reads files whose hashes it has)."""
    metadata: bool = False
    """Also read EXIF/XMP camera and GPS metadata."""
    ocr_languages: tuple[str, ...] = ()
    """Read text with Tesseract in these languages (empty: no OCR)."""


@dataclass(frozen=True)
class ExpandOptions:
    """Hashing options plus the archive limits (``open_archives=False``: archives are
    fingerprinted as plain files)."""

    hash: HashOptions = field(default_factory=HashOptions)
    archives: ArchiveLimits = field(default_factory=ArchiveLimits)
    open_archives: bool = True


__all__ = ["ExpandOptions", "HashOptions", "Mode"]
