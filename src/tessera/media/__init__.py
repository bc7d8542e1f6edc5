"""Decoding media safely into pixels the fingerprinting core understands."""

from tessera.media.decode import DecodedImage, DecodeLimits, decode_image, sniff_image
from tessera.media.sniff import Sniffed, sniff

__all__ = [
    "DecodeLimits",
    "DecodedImage",
    "Sniffed",
    "decode_image",
    "sniff",
    "sniff_image",
]
