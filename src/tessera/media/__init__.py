"""Decoding media safely into pixels the fingerprinting core understands.

The names below load on first use: importing one light module of this package
(``tessera.media.limits``, ``tessera.media.sniff``) does not load the decoders
(NumPy, Pillow and its plug-ins), which every ``tessera`` command would pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# light (the standard library alone), and ``sniff`` must name the function, not the module
from tessera.media.sniff import Sniffed, sniff

if TYPE_CHECKING:
    from tessera.media.decode import DecodedImage, DecodeLimits, decode_image, sniff_image

_WHERE = {
    "DecodeLimits": "tessera.media.decode",
    "DecodedImage": "tessera.media.decode",
    "decode_image": "tessera.media.decode",
    "sniff_image": "tessera.media.decode",
}

__all__ = [
    "DecodeLimits",
    "DecodedImage",
    "Sniffed",
    "decode_image",
    "sniff",
    "sniff_image",
]


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
