"""Fingerprint one file: exact digests and PDQ from a single read.

The file is read once into memory; MD5, SHA-1 and SHA-256 are computed from those
bytes and the same bytes are decoded. Exact digests are reported even when the
content cannot be decoded: a damaged copy of a known file is still that file.
Videos and audio are streamed instead (``tessera.pipeline.av``).

Nothing here raises for a bad file. Every outcome is a ``FileResult`` whose
``status`` is ``ok``, ``error`` (with a reason code and message) or ``skipped``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera.errors import MediaError
from tessera.fingerprints.pdq import (
    DIHEDRAL_NAMES,
    QUALITY_THRESHOLD,
    Exactness,
    nearest_512,
    pdq_dihedral_rgb,
    pdq_hash_rgb,
)
from tessera.media.decode import decode_image
from tessera.media.sniff import sniff
from tessera.pipeline.av import fingerprint_av, stream_digests
from tessera.pipeline.label import path_label
from tessera.pipeline.options import HashOptions
from tessera.pipeline.read import read_file, read_head
from tessera.pipeline.result import NOT_MEDIA, FileResult, OcrWord, digests

if TYPE_CHECKING:
    from tessera.features.local import LocalFeatures


def hash_bytes(data: bytes, path: str, options: HashOptions) -> FileResult:
    """Fingerprint bytes already in memory (``path`` names them in the result)."""
    result = digests(data, path)
    kind = sniff(data[:512]).kind
    if kind in ("video", "audio"):
        return fingerprint_av(data, result, kind, features=options.features)
    try:
        decoded = decode_image(
            data,
            fast=options.mode == "fast" and not options.cpp_resize,
            policy=options.policy,
            limits=options.limits,
        )
    except MediaError as exc:
        # text, a checksum list, a PDF: not a media file at all
        unknown: tuple[str, ...] = (NOT_MEDIA,) if kind in ("unknown", "document") else ()
        return replace(
            result, status="error", reason=exc.reason, message=exc.message, flags=unknown
        )
    rgb, grid = decoded.rgb, decoded.grid
    if options.cpp_resize:
        rgb, grid = nearest_512(rgb), None
    flags = list(decoded.flags)
    height, width = decoded.full_shape
    result = replace(
        result,
        format=decoded.format,
        height=height,
        width=width,
        decode_scale=decoded.scale,
        flags=tuple(flags),
    )
    if options.pdq:
        result = _pdq(result, rgb, grid, options)
    if options.copy_features:
        result = _copy_features(result, decoded.rgb)
    if options.layout:
        result = _layout(result, decoded.rgb)
    if options.features or options.metadata or options.ocr_languages:
        result = _describe(result, data, decoded.rgb, options)
    return result


COPY_MAX_SIDE = 320
"""Long side of the picture triage's copy check takes keypoints from. Measured
(benchmarks/profile_triage.py): SIFT's cost is its scale pyramid, so a picture half as
wide costs about a quarter; an edited copy still verifies with tens of inliers."""

COPY_NFEATURES = 300
"""Keypoints of the copy check (the stored side keeps up to 908)."""


def copy_keypoints(rgb: Any, width: int | None = None, height: int | None = None) -> LocalFeatures:
    """Triage's copy-check keypoints of decoded pixels, in the
    coordinates of the ``width`` x ``height`` picture they were decoded from (the
    decoded size when not given). Benchmarks call it to model the copy check."""
    from tessera.features.local import extract, rescale  # noqa: PLC0415 (cv2 on demand)

    feats = extract(rgb, max_side=COPY_MAX_SIDE, nfeatures=COPY_NFEATURES)
    return rescale(feats, width or feats.width, height or feats.height)


def _copy_features(result: FileResult, rgb: Any) -> FileResult:
    """Triage's copy-check keypoints (full-size pixels, uncompressed: no PQ encoding)."""
    try:
        full = copy_keypoints(rgb, result.width, result.height)
        return replace(result, copy_features=full.to_bytes_full())
    except Exception as exc:  # OpenCV errors must not cost the file
        return replace(
            result,
            flags=(*result.flags, "features-failed"),
            message=result.message or f"local features: {exc}",
        )


def _layout(result: FileResult, rgb: Any) -> FileResult:
    """The colour layout descriptor of the decoded picture (bars trimmed off)."""
    try:
        from tessera.fingerprints.layout import layout_rgb  # noqa: PLC0415 (cv2 on demand)

        lay = layout_rgb(rgb)
    except Exception as exc:  # OpenCV errors must not cost the file
        return replace(
            result,
            flags=(*result.flags, "layout-failed"),
            message=result.message or f"colour layout: {exc}",
        )
    return result if lay is None else replace(result, layout=lay.to_bytes())


def _pdq(result: FileResult, rgb: Any, grid: Any, options: HashOptions) -> FileResult:
    """PDQ (and its dihedral variants) of the decoded picture, with the quality flags."""
    exact: Exactness = "auto" if options.mode == "reference" else "never"
    flags = list(result.flags)
    dihedral: dict[str, str] | None = None
    if options.dihedral:
        dih = pdq_dihedral_rgb(rgb, grid, exact=exact)
        pdq, quality = dih.variants["original"], dih.quality
        dihedral = {n: dih.variants[n].hex for n in DIHEDRAL_NAMES}
    else:
        h = pdq_hash_rgb(rgb, grid, exact=exact)
        pdq, quality = h.fingerprint, h.quality
    pdq_hex: str | None = None
    if not any(pdq.payload):
        flags.append("too-small")  # under 5 px: PDQ defines no hash
        dihedral = None
    else:
        pdq_hex = pdq.hex
        if quality < QUALITY_THRESHOLD:
            flags.append("low-quality")
    return replace(result, dihedral=dihedral, quality=quality, pdq=pdq_hex, flags=tuple(flags))


def _describe(result: FileResult, data: bytes, rgb: Any, options: HashOptions) -> FileResult:
    """Local features, metadata and OCR text of a decoded picture; failures become flags."""
    full_h, full_w = result.height or rgb.shape[0], result.width or rgb.shape[1]
    found: dict[str, Any] = {}
    flags: list[str] = []
    notes: list[str] = []
    if options.features:
        try:
            from tessera.features.local import (  # noqa: PLC0415 (cv2 on demand)
                extract,
                extract_mirrored,
                rescale,
            )

            feats = rescale(extract(rgb), full_w, full_h)
            compact = options.features_compact
            found["features"] = feats.to_bytes() if compact else feats.to_bytes_full()
            if options.features_mirrored:
                mirrored = rescale(extract_mirrored(rgb), full_w, full_h)
                found["features_mirrored"] = (
                    mirrored.to_bytes() if compact else mirrored.to_bytes_full()
                )
        except Exception as exc:  # OpenCV errors must not cost the file
            flags.append("features-failed")
            notes.append(f"local features: {exc}")
    if options.metadata:
        try:
            from tessera.media.metadata import camera_key, extract_metadata  # noqa: PLC0415

            md = extract_metadata(data)
            found["metadata"] = {**md.as_dict(), "camera_key": camera_key(md)}
        except Exception as exc:  # hostile metadata never costs the file
            flags.append("metadata-failed")
            notes.append(f"metadata: {exc}")
    if options.ocr_languages:
        try:
            from tessera.media.ocr import read_text  # noqa: PLC0415 (Tesseract on demand)

            sx, sy = full_w / rgb.shape[1], full_h / rgb.shape[0]
            words = read_text(rgb, languages=options.ocr_languages)
            text: tuple[OcrWord, ...] = tuple(
                (
                    round(b.box[0] * sx),
                    round(b.box[1] * sy),
                    round(b.box[2] * sx),
                    round(b.box[3] * sy),
                    b.text,
                    round(b.confidence, 1),
                )
                for b in words
            )
            found["text"] = text
            found["text_language"] = "+".join(options.ocr_languages)
        except Exception as exc:  # a Tesseract failure on one picture is reported, not fatal
            flags.append("ocr-failed")
            notes.append(f"OCR: {exc}")
    message = result.message or (notes[0] if notes else None)
    return replace(result, **found, flags=(*result.flags, *flags), message=message)


def hash_file(path: Path | str, options: HashOptions) -> FileResult:
    """Fingerprint one file (named by its label); never raises for a bad or unreadable file."""
    p = Path(path)
    label = path_label(p)
    try:
        kind = sniff(read_head(p)).kind
        if kind in ("video", "audio"):  # streamed from disk, never read whole
            return fingerprint_av(p, stream_digests(p, label), kind, features=options.features)
        data = read_file(p, options.limits)
    except MediaError as exc:
        return FileResult(path=label, status="error", reason=exc.reason, message=exc.message)
    return hash_bytes(data, label, options)


__all__ = ["hash_bytes", "hash_file"]
