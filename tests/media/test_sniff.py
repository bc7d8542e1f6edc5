"""Content sniffing (``tessera.media.sniff``): the type comes from the bytes, never the name.

Image files are generated with Pillow (and pillow-heif for HEIF) so the magic bytes are
the ones real encoders write; containers Pillow cannot write are built with the standard
library (zip, gzip, tar, wave) or from the published signatures.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import wave
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from tessera.errors import EmptyFile, MediaError, UnsupportedMedia
from tessera.media import sniff, sniff_image
from tessera.media.sniff import Sniffed

HEAD = 512


def _picture() -> Image.Image:
    y, x = np.mgrid[0:16, 0:24]
    arr = np.stack([x * 10, y * 15, (x + y) * 6], axis=-1).astype(np.uint8)
    return Image.fromarray(arr)


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _heif() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed")
    pillow_heif.register_heif_opener()
    try:
        return _save(_picture(), "HEIF")
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - build without encoder
        pytest.skip(f"this pillow-heif build cannot write HEIF: {exc}")


def _avif() -> bytes:
    try:
        return _save(_picture(), "AVIF")
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - Pillow without AVIF
        pytest.skip(f"this Pillow build cannot write AVIF: {exc}")


def _ftyp(brand: bytes) -> bytes:
    # ISO BMFF: 32-bit box size, "ftyp", major brand, minor version, compatible brands
    body = b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"mp41"
    return (len(body) + 4).to_bytes(4, "big") + body + b"\x00\x00\x00\x08free"


def _riff(form: bytes, chunk: bytes) -> bytes:
    payload = form + chunk
    return b"RIFF" + len(payload).to_bytes(4, "little") + payload


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 800)
    return buf.getvalue()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = b"hello world\n"
        info = tarfile.TarInfo("notes.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# name -> (bytes factory, expected kind, expected name, expected Pillow format)
CASES: dict[str, tuple[Callable[[], bytes], str, str, str | None]] = {
    "jpeg": (lambda: _save(_picture(), "JPEG"), "image", "jpeg", "JPEG"),
    "png": (lambda: _save(_picture(), "PNG"), "image", "png", "PNG"),
    "gif87a": (lambda: _save(_picture().convert("P"), "GIF"), "image", "gif", "GIF"),
    "gif89a": (
        lambda: _save(_picture().convert("P"), "GIF", transparency=0),
        "image",
        "gif",
        "GIF",
    ),
    "webp": (lambda: _save(_picture(), "WEBP"), "image", "webp", "WEBP"),
    "bmp": (lambda: _save(_picture(), "BMP"), "image", "bmp", "BMP"),
    "tiff-le": (lambda: _save(_picture(), "TIFF"), "image", "tiff", "TIFF"),
    "tiff-be": (lambda: _save(Image.new("I;16B", (8, 8)), "TIFF"), "image", "tiff", "TIFF"),
    "bigtiff": (lambda: _save(_picture(), "TIFF", big_tiff=True), "image", "tiff", "TIFF"),
    "heic": (_heif, "image", "heif", "HEIF"),
    "heif-mif1": (lambda: _ftyp(b"mif1"), "image", "heif", "HEIF"),
    "avif": (_avif, "image", "avif", "AVIF"),
    "mp4-isom": (lambda: _ftyp(b"isom"), "video", "mp4", None),
    "quicktime": (lambda: _ftyp(b"qt  "), "video", "quicktime", None),
    "m4a": (lambda: _ftyp(b"M4A "), "audio", "m4a", None),
    "matroska": (
        lambda: b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + bytes(40),
        "video",
        "matroska",
        None,
    ),
    "avi": (
        lambda: _riff(b"AVI ", b"LIST" + (4).to_bytes(4, "little") + b"hdrl"),
        "video",
        "avi",
        None,
    ),
    "flv": (lambda: b"FLV\x01\x05\x00\x00\x00\x09" + bytes(8), "video", "flv", None),
    "wav": (_wav, "audio", "wav", None),
    "ogg": (lambda: b"OggS\x00\x02" + bytes(40), "audio", "ogg", None),
    "flac": (lambda: b"fLaC\x00\x00\x00\x22" + bytes(34), "audio", "flac", None),
    "mp3-id3": (lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(20), "audio", "mp3", None),
    "mp3-frame": (lambda: b"\xff\xfb\x90\x64" + bytes(40), "audio", "mp3", None),
    "zip": (_zip, "archive", "zip", None),
    "zip-empty": (_empty_zip, "archive", "zip", None),
    "7z": (lambda: b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24), "archive", "7z", None),
    "gzip": (lambda: gzip.compress(b"hello world"), "archive", "gzip", None),
    "tar": (_tar, "archive", "tar", None),
    "pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "document", "pdf", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sniff_identifies_real_file_heads(case: str) -> None:
    """Each format is recognised from the first 512 bytes of a real (or spec-built) file."""
    factory, kind, name, pillow_format = CASES[case]
    data = factory()
    assert sniff(data[:HEAD]) == Sniffed(kind, name, pillow_format)


def test_sniff_gif_versions_are_both_written_by_pillow() -> None:
    """The GIF cases really cover both signatures (guards the parametrised cases above)."""
    assert CASES["gif87a"][0]()[:6] == b"GIF87a"
    assert CASES["gif89a"][0]()[:6] == b"GIF89a"
    assert CASES["tiff-be"][0]()[:4] == b"MM\x00*"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, world\n" * 10,
        bytes(range(256)) * 2,
        b"\x00" * 512,
        b"<html><body>not an image</body></html>",
        b"BM",  # too short for a BMP header
        b"\xff\xd8",  # half a JPEG signature
        b"\x89PNG\r\n",  # truncated PNG signature
        b"GIF88a" + bytes(20),
        b"RIFF\x10\x00\x00\x00WEBQ" + bytes(8),
    ],
    ids=[
        "empty",
        "text",
        "byte-ramp",
        "zeros",
        "html",
        "bm-short",
        "jpeg-half-soi",
        "png-half-sig",
        "gif88a",
        "riff-other",
    ],
)
def test_sniff_unknown(head: bytes) -> None:
    """Bytes matching no signature (including empty input) are ``unknown``, never guessed."""
    assert sniff(head) == Sniffed("unknown", "unknown", None)


def test_sniff_tar_needs_the_ustar_magic_at_257() -> None:
    """Tar is only seen when the head reaches offset 257..262 (why callers pass 512 bytes)."""
    data = _tar()
    assert data[257:262] == b"ustar"
    assert sniff(data[:262]).name == "tar"
    assert sniff(data[:261]).kind == "unknown"


def test_sniff_ignores_the_file_name_by_construction() -> None:
    """A PNG that starts with JPEG magic is a JPEG: only content counts (no name argument)."""
    jpeg = _save(_picture(), "JPEG")
    assert sniff(jpeg + b"\x89PNG\r\n\x1a\n").name == "jpeg"
    assert sniff(b"\x00" + jpeg).kind == "unknown"


def test_sniff_image_empty_raises_empty_file() -> None:
    """``sniff_image`` on zero bytes raises ``EmptyFile`` with its stable reason."""
    with pytest.raises(EmptyFile) as info:
        sniff_image(b"")
    assert info.value.reason == "empty-file"


@pytest.mark.parametrize(
    ("case", "word"),
    [("zip", "zip"), ("wav", "wav"), ("mp4-isom", "mp4"), ("pdf", "pdf"), ("gzip", "gzip")],
)
def test_sniff_image_rejects_non_images_naming_what_they_are(case: str, word: str) -> None:
    """Recognised non-images are ``UnsupportedMedia`` whose message names the sniffed type."""
    data = CASES[case][0]()
    with pytest.raises(UnsupportedMedia) as info:
        sniff_image(data)
    assert isinstance(info.value, MediaError)
    assert info.value.reason == "unsupported-format"
    assert word in info.value.message


def test_sniff_image_rejects_unknown_bytes() -> None:
    """Unrecognised bytes are ``UnsupportedMedia`` (reason ``unsupported-format``)."""
    with pytest.raises(UnsupportedMedia) as info:
        sniff_image(b"just some text, definitely not pixels\n")
    assert info.value.reason == "unsupported-format"
    assert "not a recognised image" in info.value.message
