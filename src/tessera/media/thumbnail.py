"""Small downscaled JPEG previews for reviewers' screens.

A reviewer's page never receives an original: it gets a thumbnail at most
``THUMB_SIZE`` pixels on its longer side, re-encoded as a plain JPEG with no
metadata (no EXIF, GPS or ICC profile travels to the browser). Decoding goes
through the same defensive decoder as fingerprinting (limits, hostile files).
"""

from __future__ import annotations

import io

from PIL import Image

from tessera.media.decode import DecodeLimits, decode_image

THUMB_SIZE = 256
JPEG_QUALITY = 80


def make_thumbnail(data: bytes, *, limits: DecodeLimits, size: int = THUMB_SIZE) -> bytes:
    """JPEG bytes of ``data``'s first frame, at most ``size`` px on its longer side.

    Raises the decoder's ``MediaError`` subclasses for what is not a readable picture.
    """
    decoded = decode_image(data, fast=True, limits=limits)
    im = Image.fromarray(decoded.rgb)
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


__all__ = ["THUMB_SIZE", "make_thumbnail"]
