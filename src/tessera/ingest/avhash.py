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
3. the audio track, if any, gets a Chromaprint fingerprint.

A decoding failure of the picture or the sound is reported as the file's error
(with its reason); the exact digests are kept either way.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from tessera.errors import MediaError, UnreadableFile
from tessera.fingerprints.letterbox import CropBox, detect_borders
from tessera.ingest.filehash import FileResult
from tessera.ingest.parallel import default_workers, in_pool_worker
from tessera.media.audio import fingerprint_file
from tessera.media.video import Sampling, iter_frames, probe_video
from tessera.media.vpdq_file import DEFAULT_SAMPLING, vpdq_from_video

BORDER_FRAMES = 24
MIN_BORDER_FRAMES = 20
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


def fingerprint_av(source: Path | bytes, result: FileResult, kind: str) -> FileResult:
    """Add video frame hashes and/or the audio fingerprint to ``result`` (in place)."""
    result.kind = kind
    try:
        if kind == "video":
            info = probe_video(source)
            result.duration = info.duration_s
            result.width, result.height = info.width, info.height
            result.format = info.container
            keyframes = [
                f.rgb
                for f in itertools.islice(iter_frames(source, Sampling.keyframes()), BORDER_FRAMES)
            ]
            box = detect_borders(keyframes) if keyframes else CropBox()
            if not box.is_full_frame:
                result.crop = (box.top, box.bottom, box.left, box.right)
            # Long videos are split over the cores, unless this is already a pool worker.
            inline = in_pool_worker() or not isinstance(source, Path)
            result.frames = vpdq_from_video(
                source,
                DEFAULT_SAMPLING,
                crop=box,
                workers=1 if inline else default_workers(),
            )
            if info.has_audio:
                result.audio = str(fingerprint_file(source))
        else:
            fp = fingerprint_file(source)
            result.audio = str(fp)
            result.duration = fp.duration_s
    except MediaError as exc:
        result.status, result.reason, result.message = "error", exc.reason, exc.message
    return result


__all__ = ["fingerprint_av", "stream_digests"]
