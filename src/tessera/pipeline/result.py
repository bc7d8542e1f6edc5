"""What the pipeline says about one file: an immutable ``FileResult``.

Every stage that learns more about a file (digests, then the decoded picture, then
local features, metadata, text; or the video frames and the sound) returns a new
value (``dataclasses.replace``) instead of editing a shared record, so a result
handed to a writer, a report or another process is never changed behind its back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tessera.fingerprints.vpdq import FrameHash

Status = Literal["ok", "error", "skipped"]

NOT_MEDIA = "not-media"
"""Flag of a file whose content is no picture, video or audio (nor an archive)."""

OcrWord = tuple[int, int, int, int, str, float]
"""One OCR word: x, y, w, h (full-size pixels), the text and the confidence."""


@dataclass(frozen=True)
class FileResult:
    """What happened to one file; ``to_json`` gives its ``--json`` form.

    ``path`` is the file's label (``tessera.pipeline.label``), archive members
    ``archive!/member``. ``status`` is ``ok``, ``error`` (``reason`` and ``message``
    say why; exact digests are kept when the file had content) or ``skipped``.
    """

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
    flags: tuple[str, ...] = ()
    reason: str | None = None
    message: str | None = None
    dihedral: Mapping[str, str] | None = None
    decode_scale: int | None = None
    kind: str | None = None  # image, video, audio, archive; None when unknown
    duration: float | None = None
    frames: tuple[FrameHash, ...] | None = None  # sampled video frames' PDQ (vPDQ)
    audio: str | None = None  # Chromaprint fingerprint, text form
    crop: tuple[int, int, int, int] | None = None  # bars removed: top, bottom, left, right
    features: bytes | None = None  # local features (tessera.features bytes), full-size pixels
    features_mirrored: bytes | None = None  # the mirror image's, x in the unmirrored frame
    copy_features: bytes | None = None  # triage's copy check: few keypoints, small picture
    layout: bytes | None = None  # colour layout descriptor (fingerprints.layout), stills
    frame_features: tuple[tuple[float, bytes], ...] | None = None  # video key frames
    metadata: Mapping[str, Any] | None = None  # MediaMetadata.as_dict() + camera_key
    text: tuple[OcrWord, ...] | None = None  # OCR words
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
            "flags": list(self.flags),
            "decode_scale": self.decode_scale,
            "error": None
            if self.status == "ok"
            else {"reason": self.reason, "message": self.message},
        }
        if self.dihedral is not None:
            out["dihedral"] = dict(self.dihedral)
        if self.features is not None:
            out["keypoints"] = features_count(self.features)
        if self.metadata is not None:
            out["metadata"] = dict(self.metadata)
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


def features_count(blob: bytes) -> int:
    """Keypoints in a stored local-features blob (its header's count)."""
    return int.from_bytes(blob[8:12], "little") if len(blob) >= 12 else 0


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


__all__ = ["NOT_MEDIA", "FileResult", "OcrWord", "Status", "digests", "features_count"]
