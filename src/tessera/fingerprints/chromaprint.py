"""Chromaprint audio fingerprints, computed by libchromaprint through ``ctypes``.

Chromaprint (the AcoustID fingerprinter) turns mono 11025 Hz audio into a sequence
of 32-bit *items*: 4096-sample frames every 1365 samples (one item per
``ITEM_DURATION_S`` = 1365 / 11025 = 0.1238 s), each item sixteen 2-bit classifier
outputs over a 12-bin chroma image. Equal or nearly equal items at a constant
offset mean the same sound; ``tessera.fingerprints.audio_match`` aligns and
compares them. The first item needs ``MIN_SAMPLES`` = 30031 samples (2.72 s) of
audio: shorter audio gives an *empty* fingerprint, which is a valid value that
matches nothing.

The library is the system one (Debian/Ubuntu package ``libchromaprint1``); it is
found with ``ctypes.util.find_library("chromaprint")`` or at the Debian path, and
its absence is a ``ChromaprintUnavailable`` (a ``ConfigError``) naming the package.
``fpcalc`` (package ``libchromaprint-tools``) is used only by the tests, as an
oracle.

Text form
---------
``chromaprint:<algorithm>:<duration_ms>:<payload>`` where ``algorithm`` is the
fpcalc / AcoustID algorithm number (``2`` = ``TEST2``, the default; the C enum
``CHROMAPRINT_ALGORITHM_TEST2`` is that number minus one), ``duration_ms`` is the
duration of the audio that was fingerprinted, in whole milliseconds, and
``payload`` is the items as little-endian ``uint32``, base64url without padding
(empty for an empty fingerprint). ``AudioFingerprint.parse(str(fp)) == fp``.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import ctypes.util
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tessera.errors import (
    ChromaprintError,
    ChromaprintUnavailable,
    InvalidFingerprint,
    InvalidInput,
)

SAMPLE_RATE = 11025
"""Chromaprint's internal sample rate (all algorithms)."""
FRAME_SIZE = 4096
"""Samples per analysis frame (algorithms 1, 2, 4)."""
ITEM_HOP = 1365
"""Samples between consecutive items (``chromaprint_get_item_duration``, algorithm 2)."""
ITEM_DURATION_S = ITEM_HOP / SAMPLE_RATE
"""Seconds between consecutive items: 0.12381 s."""
DELAY_SAMPLES = 28666
"""``chromaprint_get_delay`` for algorithm 2: frame (4096 - 1365) + 19 hops of filters."""
MIN_SAMPLES = FRAME_SIZE + 19 * ITEM_HOP
"""Audio needed for the first item (30031 samples, 2.72 s at 11025 Hz)."""

DEFAULT_ALGORITHM = 2
"""fpcalc's ``-algorithm`` numbering: 2 is ``TEST2``, the AcoustID default."""
SUPPORTED_ALGORITHMS = (1, 2, 3, 4, 5)

DEBIAN_PACKAGE = "libchromaprint1"
_DEBIAN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libchromaprint.so.1",
    "/usr/lib/aarch64-linux-gnu/libchromaprint.so.1",
    "/usr/lib/libchromaprint.so.1",
    "/usr/local/lib/libchromaprint.so.1",
)
_FEED_CHUNK = 1 << 20  # samples per chromaprint_feed call (its size is a C int)
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")

UInt32Array = NDArray[np.uint32]
Int16Array = NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioFingerprint:
    """A raw Chromaprint fingerprint: ``algorithm``, ``payload`` (LE uint32 items), duration.

    Equality compares all three fields. ``items`` gives the payload as a read-only
    ``uint32`` array.
    """

    algorithm: int
    payload: bytes
    duration_ms: int

    def __post_init__(self) -> None:
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise InvalidFingerprint(f"unknown chromaprint algorithm {self.algorithm!r}")
        if len(self.payload) % 4:
            raise InvalidFingerprint(
                f"chromaprint payload must be whole uint32 items, got {len(self.payload)} bytes"
            )
        if self.duration_ms < 0:
            raise InvalidFingerprint(f"negative duration {self.duration_ms} ms")

    @classmethod
    def from_items(
        cls, items: NDArray[np.integer] | list[int], *, algorithm: int, duration_s: float
    ) -> AudioFingerprint:
        """Build from an array (or list) of item values (unsigned or signed 32-bit)."""
        arr = np.asarray(items)
        if arr.ndim != 1:
            raise InvalidFingerprint("chromaprint items must be a 1-D sequence")
        if arr.size and (int(arr.min()) < -(2**31) or int(arr.max()) >= 2**32):
            raise InvalidFingerprint("chromaprint items must fit in 32 bits")
        payload = arr.astype(np.int64).astype("<u4").tobytes()
        return cls(algorithm, payload, round(duration_s * 1000))

    @property
    def items(self) -> UInt32Array:
        """The items as a read-only little-endian ``uint32`` array."""
        return np.frombuffer(self.payload, dtype="<u4").astype(np.uint32, copy=False)

    @property
    def duration_s(self) -> float:
        """Duration of the fingerprinted audio in seconds."""
        return self.duration_ms / 1000

    def __len__(self) -> int:
        return len(self.payload) // 4

    def __str__(self) -> str:
        b64 = base64.urlsafe_b64encode(self.payload).rstrip(b"=").decode("ascii")
        return f"chromaprint:{self.algorithm}:{self.duration_ms}:{b64}"

    def __repr__(self) -> str:
        return (
            f"AudioFingerprint(algorithm={self.algorithm}, items={len(self)},"
            f" duration_ms={self.duration_ms})"
        )

    @classmethod
    def parse(cls, text: str) -> AudioFingerprint:
        """Parse ``chromaprint:<algorithm>:<duration_ms>:<base64url>``."""
        parts = text.strip().split(":")
        if len(parts) != 4 or parts[0] != "chromaprint":
            raise InvalidFingerprint(
                f"expected 'chromaprint:algorithm:duration_ms:base64', got {text[:80]!r}"
            )
        _, alg, dur, b64 = parts
        for name, value in (("algorithm", alg), ("duration", dur)):
            if not (value.isascii() and value.isdigit()):
                raise InvalidFingerprint(f"{name} must be a whole number in {text[:80]!r}")
        if not _B64URL.match(b64) or len(b64) % 4 == 1:
            raise InvalidFingerprint("chromaprint payload is not base64url")
        try:
            payload = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidFingerprint(f"chromaprint payload is not base64url: {exc}") from exc
        fp = cls(int(alg), payload, int(dur))
        if str(fp) != text.strip():  # non-canonical (stray bits in the last base64 char)
            raise InvalidFingerprint("chromaprint payload is not in canonical base64url")
        return fp


# --------------------------------------------------------------------------- the library

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def _find_library() -> str | None:
    name = ctypes.util.find_library("chromaprint")
    if name:
        return name
    for p in _DEBIAN_PATHS:
        if Path(p).exists():
            return p
    return None


def load_library() -> ctypes.CDLL:
    """Load libchromaprint once; raises ``ChromaprintUnavailable`` naming the package."""
    global _lib  # noqa: PLW0603 - one process-wide handle, loaded lazily
    with _lib_lock:
        if _lib is not None:
            return _lib
        path = _find_library()
        if path is None:
            raise ChromaprintUnavailable(
                "libchromaprint was not found; install the Debian/Ubuntu package"
                f" {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE})"
            )
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise ChromaprintUnavailable(
                f"libchromaprint at {path} could not be loaded ({exc}); install or repair"
                f" the Debian/Ubuntu package {DEBIAN_PACKAGE}"
            ) from exc
        vp = ctypes.c_void_p
        lib.chromaprint_get_version.restype = ctypes.c_char_p
        lib.chromaprint_get_version.argtypes = []
        lib.chromaprint_new.restype = vp
        lib.chromaprint_new.argtypes = [ctypes.c_int]
        lib.chromaprint_free.restype = None
        lib.chromaprint_free.argtypes = [vp]
        lib.chromaprint_start.restype = ctypes.c_int
        lib.chromaprint_start.argtypes = [vp, ctypes.c_int, ctypes.c_int]
        lib.chromaprint_feed.restype = ctypes.c_int
        lib.chromaprint_feed.argtypes = [vp, ctypes.POINTER(ctypes.c_int16), ctypes.c_int]
        lib.chromaprint_finish.restype = ctypes.c_int
        lib.chromaprint_finish.argtypes = [vp]
        lib.chromaprint_get_raw_fingerprint.restype = ctypes.c_int
        lib.chromaprint_get_raw_fingerprint.argtypes = [
            vp,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32)),
            ctypes.POINTER(ctypes.c_int),
        ]
        lib.chromaprint_dealloc.restype = None
        lib.chromaprint_dealloc.argtypes = [vp]
        _lib = lib
        return lib


def library_version() -> str:
    """The loaded libchromaprint's version string (e.g. ``"1.5.1"``)."""
    v = load_library().chromaprint_get_version()
    return v.decode("ascii", "replace") if v else "unknown"


class ChromaprintStream:
    """An incremental fingerprint: ``feed`` PCM as it is decoded, then ``finish``.

    Holds one libchromaprint context (freed by ``finish`` or ``close``; also a
    context manager), so hours of audio are fingerprinted without keeping the PCM.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        *,
        channels: int = 1,
        algorithm: int = DEFAULT_ALGORITHM,
    ) -> None:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise InvalidInput(f"unknown chromaprint algorithm {algorithm!r}")
        if not 1 <= channels <= 16:
            raise InvalidInput(f"channels must be 1..16, got {channels}")
        if not 1000 <= sample_rate <= 1_000_000:
            raise InvalidInput(f"sample rate {sample_rate} Hz is out of range")
        self.sample_rate = sample_rate
        self.channels = channels
        self.algorithm = algorithm
        self.samples = 0
        self._lib = load_library()
        self._ctx: int | None = self._lib.chromaprint_new(algorithm - 1)
        if not self._ctx:
            raise ChromaprintError("chromaprint_new failed (out of memory?)")
        if self._lib.chromaprint_start(self._ctx, sample_rate, channels) != 1:
            self.close()
            raise ChromaprintError(f"chromaprint_start({sample_rate}, {channels}) failed")

    def __enter__(self) -> ChromaprintStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the context (idempotent)."""
        if self._ctx:
            self._lib.chromaprint_free(self._ctx)
        self._ctx = None

    def _live(self) -> int:
        if not self._ctx:
            raise ChromaprintError("the fingerprint stream is already finished or closed")
        return self._ctx

    def feed(self, samples: NDArray[np.int16]) -> None:
        """Feed interleaved int16 PCM (any length; whole frames over the stream)."""
        ctx = self._live()
        pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        step = _FEED_CHUNK * self.channels
        for start in range(0, pcm.size, step):
            chunk = pcm[start : start + step]
            ptr = chunk.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
            if self._lib.chromaprint_feed(ctx, ptr, int(chunk.size)) != 1:
                raise ChromaprintError("chromaprint_feed failed")
        self.samples += int(pcm.size)

    def finish(self) -> AudioFingerprint:
        """Flush, read the raw fingerprint, free the context."""
        ctx = self._live()
        try:
            if self.samples % self.channels:
                raise InvalidInput(
                    f"{self.samples} samples are not a whole number of"
                    f" {self.channels}-channel frames"
                )
            if self._lib.chromaprint_finish(ctx) != 1:
                raise ChromaprintError("chromaprint_finish failed")
            out = ctypes.POINTER(ctypes.c_uint32)()
            size = ctypes.c_int(0)
            if (
                self._lib.chromaprint_get_raw_fingerprint(
                    ctx, ctypes.byref(out), ctypes.byref(size)
                )
                != 1
            ):
                raise ChromaprintError("chromaprint_get_raw_fingerprint failed")
            try:
                n = size.value
                payload = (
                    np.ctypeslib.as_array(out, shape=(n,)).astype("<u4").tobytes()
                    if n > 0 and out
                    else b""
                )
            finally:
                if out:
                    self._lib.chromaprint_dealloc(out)
        finally:
            self.close()
        duration_s = self.samples / self.channels / self.sample_rate
        return AudioFingerprint(self.algorithm, payload, round(duration_s * 1000))


def fingerprint_pcm(
    samples: NDArray[np.int16],
    sample_rate: int = SAMPLE_RATE,
    *,
    channels: int = 1,
    algorithm: int = DEFAULT_ALGORITHM,
) -> AudioFingerprint:
    """Raw Chromaprint fingerprint of interleaved int16 PCM.

    Feed mono 11025 Hz (what ``tessera.media.audio.decode_audio`` returns) to get
    exactly what fpcalc computes; other rates and channel counts are resampled by
    libchromaprint's own (older, lower quality) resampler. Audio shorter than
    ``MIN_SAMPLES`` at 11025 Hz gives an empty fingerprint.
    """
    pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
    with ChromaprintStream(sample_rate, channels=channels, algorithm=algorithm) as stream:
        if pcm.size % channels:
            raise InvalidInput(
                f"{pcm.size} samples are not a whole number of {channels}-channel frames"
            )
        stream.feed(pcm)
        return stream.finish()


__all__ = [
    "DEBIAN_PACKAGE",
    "DEFAULT_ALGORITHM",
    "DELAY_SAMPLES",
    "FRAME_SIZE",
    "ITEM_DURATION_S",
    "ITEM_HOP",
    "MIN_SAMPLES",
    "SAMPLE_RATE",
    "AudioFingerprint",
    "ChromaprintError",
    "ChromaprintStream",
    "ChromaprintUnavailable",
    "fingerprint_pcm",
    "library_version",
    "load_library",
]
