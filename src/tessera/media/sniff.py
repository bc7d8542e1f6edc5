"""Content sniffing: what a file is, from its first bytes, never from its name.

Seized media is routinely renamed (``.png`` that is a JPEG, ``.dat`` that is a
video). Decoders are only ever offered the one format the magic bytes name, which
also keeps rarely used, less hardened Pillow plugins out of reach of hostile input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["image", "video", "audio", "archive", "document", "unknown"]


@dataclass(frozen=True)
class Sniffed:
    """The sniffed type: ``kind``, a short ``name`` and the Pillow format, if an image."""

    kind: Kind
    name: str
    pillow_format: str | None = None


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QT_BRANDS = {b"qt  "}


def sniff(head: bytes) -> Sniffed:
    """Identify content from its first bytes (pass 512 so that tar is seen)."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "jpeg", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "png", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "gif", "GIF")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "webp", "WEBP")
    if head[:2] == b"BM" and len(head) >= 14:
        return Sniffed("image", "bmp", "BMP")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return Sniffed("image", "tiff", "TIFF")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return Sniffed("image", "heif", "HEIF")
        if brand in _AVIF_BRANDS:
            return Sniffed("image", "avif", "AVIF")
        if brand in _QT_BRANDS:
            return Sniffed("video", "quicktime")
        if brand[:3] in (b"M4A", b"M4B"):
            return Sniffed("audio", "m4a")
        return Sniffed("video", "mp4")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "avi")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("audio", "wav")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video", "matroska")
    if head.startswith(b"FLV"):
        return Sniffed("video", "flv")
    if head.startswith(b"OggS"):
        return Sniffed("audio", "ogg")
    if head.startswith(b"fLaC"):
        return Sniffed("audio", "flac")
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return Sniffed("audio", "mp3")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return Sniffed("archive", "zip")
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return Sniffed("archive", "7z")
    if head.startswith(b"\x1f\x8b"):
        return Sniffed("archive", "gzip")
    if len(head) >= 262 and head[257:262] == b"ustar":
        return Sniffed("archive", "tar")
    if head.startswith(b"%PDF"):
        return Sniffed("document", "pdf")
    return Sniffed("unknown", "unknown")


__all__ = ["Kind", "Sniffed", "sniff"]
