"""Fingerprint one file: exact digests and PDQ from a single read.

The file is read once into memory; MD5, SHA-1 and SHA-256 are computed from those
bytes and the same bytes are decoded. Exact digests are reported even when the
content cannot be decoded: a damaged copy of a known file is still that file.

Nothing here raises for a bad file. Every outcome is a ``FileResult`` whose
``status`` is ``ok``, ``error`` (with a reason code and message) or ``skipped``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tessera.errors import MediaError
from tessera.fingerprints.pdq import (
    DIHEDRAL_NAMES,
    QUALITY_THRESHOLD,
    Exactness,
    nearest_512,
    pdq_dihedral_rgb,
    pdq_hash_rgb,
)
from tessera.fingerprints.vpdq import FrameHash
from tessera.media.decode import DecodeLimits, decode_image
from tessera.media.normalize import Policy
from tessera.media.sniff import sniff
from tessera.pipeline.read import read_file, read_head

Mode = Literal["fast", "reference"]
NOT_MEDIA = "not-media"
"""Flag of a file whose content is no picture, video or audio (nor an archive)."""
Status = Literal["ok", "error", "skipped"]


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
    metadata: bool = False
    """Also read EXIF/XMP camera and GPS metadata."""
    ocr_languages: tuple[str, ...] = ()
    """Read text with Tesseract in these languages (empty: no OCR)."""


@dataclass
class FileResult:
    """What happened to one file; ``to_json`` gives its ``--json`` form."""

    path: str
    status: Status
    size: int | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    pdq: str | None = None
    quality: int | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    flags: list[str] = field(default_factory=list)
    reason: str | None = None
    message: str | None = None
    dihedral: dict[str, str] | None = None
    decode_scale: int | None = None
    kind: str | None = None  # image, video, audio, archive; None when unknown
    duration: float | None = None
    frames: list[FrameHash] | None = None  # sampled video frames' PDQ (vPDQ)
    audio: str | None = None  # Chromaprint fingerprint, text form
    crop: tuple[int, int, int, int] | None = None  # bars removed: top, bottom, left, right
    features: bytes | None = None  # local features (tessera.features bytes), full-size pixels
    features_mirrored: bytes | None = None  # the mirror image's, x in the unmirrored frame
    frame_features: list[tuple[float, bytes]] | None = None  # video key frames: (s, features)
    metadata: dict[str, Any] | None = None  # MediaMetadata.as_dict() + camera_key
    text: list[list[Any]] | None = None  # OCR words: [x, y, w, h, word, confidence]
    text_language: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "status": self.status,
            "size": self.size,
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "pdq": self.pdq,
            "quality": self.quality,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "flags": self.flags,
            "decode_scale": self.decode_scale,
            "error": None
            if self.status == "ok"
            else {"reason": self.reason, "message": self.message},
        }
        if self.dihedral is not None:
            out["dihedral"] = self.dihedral
        if self.features is not None:
            out["keypoints"] = features_count(self.features)
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.text is not None:
            out["text"] = " ".join(str(w[4]) for w in self.text)
        if self.kind in ("video", "audio"):
            out["kind"] = self.kind
            out["duration"] = self.duration
            out["crop"] = list(self.crop) if self.crop else None
            out["vpdq"] = (
                [f"{f.hex},{f.quality},{f.timestamp:.3f}" for f in self.frames]
                if self.frames is not None
                else None
            )
            out["audio"] = self.audio
        return out


def digests(data: bytes, path: str) -> FileResult:
    """An ``ok`` result with the exact digests (MD5, SHA-1, SHA-256) of ``data`` only."""
    return FileResult(
        path=path,
        status="ok",
        size=len(data),
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def hash_bytes(data: bytes, path: str, options: HashOptions) -> FileResult:
    """Fingerprint bytes already in memory (``path`` names them in the result)."""
    result = digests(data, path)
    kind = sniff(data[:512]).kind
    if kind in ("video", "audio"):
        from tessera.ingest.avhash import fingerprint_av  # noqa: PLC0415 (cycle; PyAV on demand)

        return fingerprint_av(data, result, kind, features=options.features)
    try:
        decoded = decode_image(
            data,
            fast=options.mode == "fast" and not options.cpp_resize,
            policy=options.policy,
            limits=options.limits,
        )
    except MediaError as exc:
        result.status, result.reason, result.message = "error", exc.reason, exc.message
        if kind in ("unknown", "document"):
            result.flags.append(NOT_MEDIA)  # text, a checksum list, a PDF: not a media file
        return result
    rgb, grid = decoded.rgb, decoded.grid
    if options.cpp_resize:
        rgb, grid = nearest_512(rgb), None
    exact: Exactness = "auto" if options.mode == "reference" else "never"
    result.format = decoded.format
    result.height, result.width = decoded.full_shape
    result.flags.extend(decoded.flags)
    if options.dihedral:
        dih = pdq_dihedral_rgb(rgb, grid, exact=exact)
        pdq, quality = dih.variants["original"], dih.quality
        result.dihedral = {n: dih.variants[n].hex for n in DIHEDRAL_NAMES}
    else:
        h = pdq_hash_rgb(rgb, grid, exact=exact)
        pdq, quality = h.fingerprint, h.quality
    result.quality = quality
    if not any(pdq.payload):
        result.flags.append("too-small")  # under 5 px: PDQ defines no hash
        result.dihedral = None
    else:
        result.pdq = pdq.hex
        if quality < QUALITY_THRESHOLD:
            result.flags.append("low-quality")
    result.decode_scale = decoded.scale
    if options.features or options.metadata or options.ocr_languages:
        _describe(result, data, decoded.rgb, options)
    return result


def features_count(blob: bytes) -> int:
    """Keypoints in a stored local-features blob (its header's count)."""
    return int.from_bytes(blob[8:12], "little") if len(blob) >= 12 else 0


def _describe(result: FileResult, data: bytes, rgb: Any, options: HashOptions) -> None:
    """Local features, metadata and OCR text of a decoded picture; failures become flags."""
    full_h, full_w = result.height or rgb.shape[0], result.width or rgb.shape[1]
    if options.features:
        try:
            from tessera.features.local import (  # noqa: PLC0415 (cv2 on demand)
                extract,
                extract_mirrored,
                rescale,
            )

            result.features = rescale(extract(rgb), full_w, full_h).to_bytes()
            if options.features_mirrored:
                mirrored = rescale(extract_mirrored(rgb), full_w, full_h)
                result.features_mirrored = mirrored.to_bytes()
        except Exception as exc:  # OpenCV errors must not cost the file
            result.flags.append("features-failed")
            result.message = result.message or f"local features: {exc}"
    if options.metadata:
        try:
            from tessera.media.metadata import camera_key, extract_metadata  # noqa: PLC0415

            md = extract_metadata(data)
            result.metadata = {**md.as_dict(), "camera_key": camera_key(md)}
        except Exception as exc:  # hostile metadata never costs the file
            result.flags.append("metadata-failed")
            result.message = result.message or f"metadata: {exc}"
    if options.ocr_languages:
        try:
            from tessera.media.ocr import read_text  # noqa: PLC0415 (Tesseract on demand)

            sx, sy = full_w / rgb.shape[1], full_h / rgb.shape[0]
            words = read_text(rgb, languages=options.ocr_languages)
            result.text = [
                [
                    round(b.box[0] * sx),
                    round(b.box[1] * sy),
                    round(b.box[2] * sx),
                    round(b.box[3] * sy),
                    b.text,
                    round(b.confidence, 1),
                ]
                for b in words
            ]
            result.text_language = "+".join(options.ocr_languages)
        except Exception as exc:  # a Tesseract failure on one picture is reported, not fatal
            result.flags.append("ocr-failed")
            result.message = result.message or f"OCR: {exc}"


def hash_file(path: Path | str, options: HashOptions) -> FileResult:
    """Fingerprint one file; never raises for a bad or unreadable file."""
    p = Path(path)
    try:
        kind = sniff(read_head(p)).kind
        if kind in ("video", "audio"):  # streamed from disk, never read whole
            from tessera.ingest.avhash import (  # noqa: PLC0415 (import cycle)
                fingerprint_av,
                stream_digests,
            )

            return fingerprint_av(p, stream_digests(p, str(p)), kind, features=options.features)
        data = read_file(p, options.limits)
    except MediaError as exc:
        return FileResult(path=str(p), status="error", reason=exc.reason, message=exc.message)
    return hash_bytes(data, str(p), options)


__all__ = [
    "NOT_MEDIA",
    "FileResult",
    "HashOptions",
    "Mode",
    "Status",
    "digests",
    "features_count",
    "hash_bytes",
    "hash_file",
    "read_file",
]
