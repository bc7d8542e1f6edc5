"""Fingerprinting a video or audio file: exact digests, sampled frame PDQs, audio.

Videos can be gigabytes, so they are read from disk in a stream (digests in 1 MiB
chunks), never whole into memory; archive members arrive as bytes and are decoded
from memory. For a video:

1. letterbox/pillarbox bars are detected on up to ``BORDER_FRAMES`` key frames
   (``tessera.fingerprints.letterbox``) and cropped from every sampled frame, so
   that the barred and bar-free versions of a video hash alike (static-logo filling
   exists in that module but is not applied here yet);
2. frames are sampled by ``tessera.media.vpdq_file.DEFAULT_SAMPLING`` (2 per second
   by timestamp, decoded at half size, non-reference frames skipped) and hashed with
   PDQ (vPDQ-compatible frame hashes with timestamps, for segment matching); a long
   video is split over the cores when this is not already a pool worker;
3. with ``features``, up to ``FEATURE_FRAMES`` of those key frames (spread over
   them, bars cropped; in a short clip with fewer key frames, frames spread over
   its duration) get local features for same-scene search;
4. the audio track, if any, gets a Chromaprint fingerprint.

A decoding failure of the picture or the sound is reported as the file's error
(with its reason); the exact digests are kept either way.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

from tessera.errors import MediaError, UnreadableFile
from tessera.fingerprints.chromaprint import ChromaprintUnavailable
from tessera.fingerprints.letterbox import CropBox, detect_borders
from tessera.media.audio import fingerprint_file
from tessera.media.video import Sampling, VideoFrame, iter_frames, probe_video
from tessera.media.vpdq_file import DEFAULT_SAMPLING, vpdq_from_video
from tessera.pipeline.pool import default_workers, in_pool_worker
from tessera.pipeline.result import FileResult

BORDER_FRAMES = 24
MIN_BORDER_FRAMES = 20
FEATURE_FRAMES = 6
"""Frames per video that get local features: key frames from the first
``BORDER_FRAMES``, or for a short clip with fewer key frames, frames spread by time."""
SHORT_VIDEO_S = 600.0
_CHUNK = 1 << 20


def stream_digests(path: Path, label: str) -> FileResult:
    """An ``ok`` result with MD5/SHA-1/SHA-256 of a file read in 1 MiB chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha1 = hashlib.sha1(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                size += len(chunk)
                md5.update(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from exc
    return FileResult(
        label,
        "ok",
        size=size,
        md5=md5.hexdigest(),
        sha1=sha1.hexdigest(),
        sha256=sha256.hexdigest(),
    )


def _frame_features(
    frames: list[VideoFrame], box: CropBox, width: int, height: int
) -> list[tuple[float, bytes]]:
    """Local features of up to ``FEATURE_FRAMES`` key frames, in full-frame pixels."""
    from tessera.features.local import extract, rescale  # noqa: PLC0415 (cv2 on demand)

    if not frames:
        return []
    step = max(1, len(frames) // FEATURE_FRAMES)
    out: list[tuple[float, bytes]] = []
    for f in frames[::step][:FEATURE_FRAMES]:
        rgb = f.rgb
        fh, fw = rgb.shape[:2]
        # the crop box is in full-frame pixels; key frames may be decoded smaller
        sy, sx = fh / max(1, height), fw / max(1, width)
        top, bottom = round(box.top * sy), fh - round(box.bottom * sy)
        left, right = round(box.left * sx), fw - round(box.right * sx)
        feats = extract(rgb[top:bottom, left:right])
        if len(feats):
            full = rescale(feats, round(feats.width / sx), round(feats.height / sy))
            out.append((f.timestamp_s, full.to_bytes()))
    return out


def fingerprint_av(
    source: Path | bytes, result: FileResult, kind: str, *, features: bool = False
) -> FileResult:
    """``result`` (the file's digests) with the video frame hashes and/or the audio
    fingerprint added: a new value."""
    found: dict[str, Any] = {"kind": kind}
    flags: list[str] = []
    message = result.message
    try:
        if kind == "video":
            info = probe_video(source)
            found.update(
                duration=info.duration_s,
                width=info.width,
                height=info.height,
                format=info.container,
            )
            key = list(itertools.islice(iter_frames(source, Sampling.keyframes()), BORDER_FRAMES))
            keyframes = [f.rgb for f in key]
            box = detect_borders(keyframes) if keyframes else CropBox()
            if features:
                try:
                    chosen = key
                    duration = info.duration_s or 0.0
                    if len(key) < FEATURE_FRAMES and 0 < duration <= SHORT_VIDEO_S:
                        # few key frames in a short clip: spread the frames by time instead
                        every = Sampling(mode="fps", fps=FEATURE_FRAMES / duration)
                        chosen = list(itertools.islice(iter_frames(source, every), FEATURE_FRAMES))
                    found["frame_features"] = tuple(
                        _frame_features(chosen, box, info.width, info.height)
                    )
                except Exception as exc:  # OpenCV errors must not cost the file
                    flags.append("features-failed")
                    message = message or f"local features: {exc}"
            if not box.is_full_frame:
                found["crop"] = (box.top, box.bottom, box.left, box.right)
            # Long videos are split over the cores, unless this is already a pool worker.
            inline = in_pool_worker() or not isinstance(source, Path)
            found["frames"] = tuple(
                vpdq_from_video(
                    source,
                    DEFAULT_SAMPLING,
                    crop=box,
                    workers=1 if inline else default_workers(),
                )
            )
            if info.has_audio:
                try:
                    found["audio"] = str(fingerprint_file(source))
                except ChromaprintUnavailable as exc:  # the frames still count
                    flags.append("audio-not-fingerprinted")
                    message = message or exc.message
        else:
            fp = fingerprint_file(source)
            found.update(audio=str(fp), duration=fp.duration_s)
    except MediaError as exc:
        found.update(status="error", reason=exc.reason)
        message = exc.message
    except ChromaprintUnavailable as exc:
        # a missing system library is this file's reason, not the end of the run
        found.update(status="error", reason="chromaprint-unavailable")
        message = exc.message
    return replace(result, **found, flags=(*result.flags, *flags), message=message)


__all__ = ["fingerprint_av", "stream_digests"]
